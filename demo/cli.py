"""`python -m echo_stream demo`: argument parsing and a readable report."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.errors import EchoError
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
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--width", type=int, help="pixels, a multiple of 16 (default 832 with a checkpoint, 64 toy model, 160 random; 64 short)")
    ap.add_argument("--height", type=int, help="pixels, a multiple of 16 (default 480 with a checkpoint, 64 toy model, 96 random; 48 short)")
    ap.add_argument("--seconds", type=float, help="seconds of video per scene (default 12; 6 with --short)")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    opts = DemoOptions(out=args.out, short=args.short, checkpoint=args.checkpoint, random_model=args.random_model,
                       prompts=args.prompts,
                       device=args.device, width=args.width, height=args.height, seconds=args.seconds,
                       seed=args.seed, quiet=args.quiet)
    try:
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
