"""`python -m echo_stream demo`: argument parsing and a readable report."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.errors import EchoError
from ..runtime.prompt_files import parse_switch_frames
from ..runtime.steps import parse_steps
from .run import FILES, DemoOptions, run_demo

DESCRIPTION = """\
Run the pack's main job: a six-scene interactive script streamed with the Echo-Forcing scene memory.

  A (start) -> B (smooth) -> C (hard cut) -> A again (recall by label) -> D (smooth) -> E (recall by
  similarity: E's prompt resembles C's)

By default it runs the toy-world model bundled with the pack (toyworld/model, trained here on a
procedural world of 8 scene categories; nothing is downloaded) at 64x64: A ocean, B forest, C lava,
D meadow, E lava again. The preview shows the rendered toy frames, and summary.json says whether
the recall brought A back and whether the cut left B clean, read back from the frames (read_back).
--random-model runs a small random Wan with synthetic prompts instead (the frames show that the
stream runs, not a picture). With --checkpoint PATH (Self-Forcing / CausVid / LongLive .pt, or
Wan2.1 safetensors) it runs the same script on those weights at 832x480 by default and writes
latents to decode in ComfyUI: Load Latent -> VAE Decode (Wan2.1 VAE). Prompts then come from
--prompts FILE.safetensors with tensors named A, B, C, D, E, each [1, tokens, 4096] (umT5-XXL
embeddings, e.g. saved from a ComfyUI CLIP Text Encode), or are synthetic.

--script FILE runs one script of a community prompt set instead: a line of the LongLive/MemFlow
interactive benchmark (.jsonl, prompts switching every 40 latent frames unless --switch-frames says
otherwise) or of Echo-Forcing's timeline files (.txt, 'scene [10s#] | scene [10s@] | ...'). Its
distinct prompts are keyed P0, P1, ... in order of first appearance (summary.json lists them); with
--checkpoint, --prompts gives their embeddings under those names, else each text gets a fixed
synthetic embedding.

Writes into --out: preview.webp (animated; toy frames rendered, else latents mapped to RGB), memory_chart.png (tokens per
memory part per block, decay weights, RoPE ids, scene boundaries), demo.latent, summary.json.
"""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m echo_stream demo", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("echo_stream_demo"), help="output folder (default ./echo_stream_demo)")
    ap.add_argument("--short", action="store_true", help="6 s scenes (and a tinier random model): seconds on a CPU")
    ap.add_argument("--random-model", action="store_true",
                    help="a small random Wan with synthetic prompts instead of the bundled toy-world model")
    ap.add_argument("--checkpoint", help="causal Wan2.1 weights to run instead of the toy-world model")
    ap.add_argument("--prompts", help="with --checkpoint: safetensors with prompt embeddings A..E")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    ap.add_argument("--width", type=int, help="pixels, a multiple of 16 (default 832 with a checkpoint, 64 toy model, 160 random; 64 short)")
    ap.add_argument("--height", type=int, help="pixels, a multiple of 16 (default 480 with a checkpoint, 64 toy model, 96 random; 48 short)")
    ap.add_argument("--seconds", type=float, help="seconds of video per scene, more than 0 (default 12; 6 with --short)")
    ap.add_argument("--num-heads", type=int, help="with --checkpoint: its attention heads, where hidden size // 128 "
                                                  "does not give them (a custom or tiny model)")
    ap.add_argument("--frames-per-block", type=int, default=3,
                    help="latent frames per block: 3 for chunk-wise models (default), 1 for frame-wise ones")
    ap.add_argument("--steps", default="1000, 750, 500, 250", help="denoising timesteps per block (default "
                                                                   "'1000, 750, 500, 250'; CF++ 2-step: '1000, 500')")
    ap.add_argument("--first-steps", help="the first block's own timesteps (default: --steps); Causal Forcing++'s "
                                          "1- and 2-step models want '1000, 750, 500, 250'")
    ap.add_argument("--non-ema", action="store_true", help="with --checkpoint: its training weights ('generator'), "
                                                           "as Causal Forcing's chunk-wise model is used")
    ap.add_argument("--script", help="run one script of a prompt file instead of the six scenes: the LongLive/"
                                     "MemFlow interactive benchmark (.jsonl) or Echo-Forcing's timelines (.txt)")
    ap.add_argument("--script-index", type=int, default=0, help="which script of --script (0-based line, default 0)")
    ap.add_argument("--switch-frames", default="", help="--script .jsonl: latent frames where the next prompt "
                                                         "begins (default: every 40, as LongLive/MemFlow)")
    ap.add_argument("--total-frames", type=int, help="--script .jsonl: latent frames of the whole video "
                                                     "(default: last switch + the first segment's length)")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        opts = DemoOptions(out=args.out, short=args.short, checkpoint=args.checkpoint, prompts=args.prompts,
                           random_model=args.random_model,
                           device=args.device, width=args.width, height=args.height, seconds=args.seconds,
                           seed=args.seed, quiet=args.quiet, num_heads=args.num_heads,
                           frames_per_block=args.frames_per_block, steps=parse_steps(args.steps),
                           first_steps=parse_steps(args.first_steps) if args.first_steps else None,
                           non_ema=args.non_ema, script=args.script, script_index=args.script_index,
                           switch_frames=parse_switch_frames(args.switch_frames), total_frames=args.total_frames)
        summary = run_demo(opts)
    except EchoError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    t = summary["timing"]
    print(f"{summary['blocks']} blocks, {summary['pixel_frames']} pixel frames in {t['total_s']:.1f} s "
          f"({t['pixel_fps']:.1f} pixel frames/s, first block {t['first_block_s']:.2f} s); scene cache "
          f"{summary['cache_bytes'] / 2**20:.2f} MiB; RoPE ids <= {summary['max_rope_id']['keys']}", file=sys.stderr)
    verdict = summary.get("read_back")
    if verdict:
        yes = lambda flag: "yes" if flag else "no"  # noqa: E731
        print(f"read back from the frames: recall brought A back: {yes(verdict['recall_brought_A_back'])} "
              f"(A's look had gone before it: {yes(verdict['A_look_had_gone_before_recall'])}); "
              f"cut left B clean: {yes(verdict['cut_left_B_clean'])}; E recalled "
              f"{verdict['similarity_recall_brought_back']['found']} by similarity, brought it back: "
              f"{yes(verdict['similarity_recall_brought_back']['recalled'])}", file=sys.stderr)
    for name in FILES.values():
        print(f"  {opts.out / name}", file=sys.stderr)
    return 0
