"""Streaming decode to disk: a >= 10-minute session (video time, 16 fps) with a tiny Wan 2.1 VAE.

    python bench/decode.py                   # 10 minutes: 2,401 latent frames -> 9,601 pixel frames
    python bench/decode.py --minutes 1 --out FILE

The latents go through the pack's path in two "runs" of one session: block by block (3 latents) through
a StreamingDecoder over a tree loaded from a wan_2.1_vae.safetensors file, each decoded piece appended
to one fragmented-MP4 session video. Between the runs the decoder state goes through a safetensors
file and the video writer is closed; run 2 loads the state into a fresh decoder and reopens the video
(copying its packets), as a continued session in a new process would. Reported:
- rss_growth_ratio: resident memory at the end / after the first minute of video (pixel frames must
  not pile up; glibc's live heap bytes are given beside it);
- the video file's decodable frame count against 4T - 3 for T latents;
- max_abs_error_vs_full: the same two-run streamed decode against diffusers' AutoencoderKLWan decoding
  all T latents in one call (same weights), compared piece by piece; null without diffusers.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import loadpack  # noqa: F401
from echo_stream.runtime.video_sink import SessionVideo, count_frames, decoded_to_images
from echo_stream.vae import StreamingDecoder, VaeConfig, WanVAEDecoder, load_wan21_vae_decoder, pixel_frames_for
from echo_stream.vae.keymap import decoder_original_to_diffusers
from procmem import heap_stats, rss_bytes

TINY = VaeConfig(dim=8, z_dim=16, dim_mult=(1, 2, 4, 4), num_res_blocks=1)
BLOCK = 3  # latent frames per block (Self-Forcing / LongLive)
MB = 1 << 20


def random_vae_file(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    tree = WanVAEDecoder(TINY)
    with torch.no_grad():
        for name, p in tree.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    save_file({k: v.contiguous() for k, v in tree.state_dict().items()}, str(path))
    return path


def blocks(latents: torch.Tensor, start: int, stop: int):
    for first in range(start, stop, BLOCK):
        yield first, latents[:, :, first:min(first + BLOCK, stop)]


def two_runs(vae_file: Path, latents: torch.Tensor, work: Path, on_piece):
    """Decode all latents in two runs of one session; on_piece(run, pixels) gets every decoded piece."""
    total = latents.shape[2]
    middle = (total // 2) // BLOCK * BLOCK
    state_file = work / "decoder_state.safetensors"
    decoder = StreamingDecoder(load_wan21_vae_decoder(vae_file))
    for _, block in blocks(latents, 0, middle):
        for pixels in decoder.decode(block):
            on_piece(1, pixels)
    save_file(decoder.state_dict(), str(state_file))
    del decoder
    decoder = StreamingDecoder(load_wan21_vae_decoder(vae_file))
    decoder.load_state_dict(load_file(str(state_file)))
    for _, block in blocks(latents, middle, total):
        for pixels in decoder.decode(block):
            on_piece(2, pixels)


def streamed_session(vae_file: Path, latents: torch.Tensor, work: Path, fps: int) -> dict:
    video_path = work / "session.mp4"
    expected = pixel_frames_for(latents.shape[2])
    first_minute = 60 * fps
    state = {"video": SessionVideo(video_path, fps=fps), "run": 1, "frames": 0, "first": None, "samples": [],
             "decode_s": 0.0, "encode_s": 0.0, "t": time.perf_counter(), "next_print": 0,
             "last_frames": 0, "last_t": time.perf_counter()}
    started = time.perf_counter()

    def on_piece(run: int, pixels: torch.Tensor) -> None:
        now = time.perf_counter()
        state["decode_s"] += now - state["t"]
        if run != state["run"]:  # a new run: the session reopens its video
            state["video"].close()
            state["video"], state["run"] = SessionVideo(video_path, fps=fps), run
        state["video"].append(decoded_to_images(pixels))
        state["frames"] += pixels.shape[2]
        after = time.perf_counter()
        state["encode_s"] += after - now
        state["t"] = after
        if state["first"] is None and state["frames"] >= first_minute:
            state["first"] = rss_bytes()
        if state["frames"] >= state["next_print"]:
            rss, heap = rss_bytes(), heap_stats()
            state["samples"].append({"video_s": round(state["frames"] / fps, 2), "rss_mb": round(rss / MB, 1),
                                     "heap_in_use_mb": round(heap["in_use"] / MB, 1) if heap else None})
            rate = (state["frames"] - state["last_frames"]) / max(after - state["last_t"], 1e-9)
            print(f"  run {run}: {state['frames'] / fps / 60:6.2f} / {expected / fps / 60:.2f} min of video, "
                  f"rss {rss / MB:7.1f} MB, heap in use {heap['in_use'] / MB if heap else float('nan'):6.1f} MB, "
                  f"{rate:6.1f} frames/s", flush=True)
            state["next_print"] += 30 * fps
            state["last_frames"], state["last_t"] = state["frames"], after

    two_runs(vae_file, latents, work, on_piece)
    rss_end, heap_end = rss_bytes(), heap_stats()
    state["video"].close()
    frames_in_file = count_frames(video_path)
    return {
        "latent_frames": latents.shape[2], "pixel_frames_expected": expected, "pixel_frames_decoded": state["frames"],
        "frames_in_file": frames_in_file, "video_minutes": round(frames_in_file / fps / 60, 3),
        "video_bytes": video_path.stat().st_size,
        "rss_first_minute_mb": round(state["first"] / MB, 1), "rss_end_mb": round(rss_end / MB, 1),
        "rss_growth_ratio": round(rss_end / state["first"], 4),
        "heap_in_use_end_mb": round(heap_end["in_use"] / MB, 1) if heap_end else None,
        "decode_s": round(state["decode_s"], 1), "encode_and_write_s": round(state["encode_s"], 1),
        "wall_s": round(time.perf_counter() - started, 1), "samples": state["samples"],
    }


def diffusers_pieces(ref, latents: torch.Tensor):
    """diffusers' AutoencoderKLWan._decode over the whole video in one call's loop (clear_cache,
    post_quant_conv over all latents, the decoder per latent with its own _feat_map, clamp), yielding
    each latent's pixels instead of torch.cat-ing them onto a growing output, which makes `decode()`
    quadratic in the video's length (hours for 10 minutes)."""
    with torch.no_grad():
        ref.clear_cache()
        x = ref.post_quant_conv(latents)
        for i in range(latents.shape[2]):
            ref._conv_idx = [0]
            yield ref.decoder(x[:, :, i:i + 1], feat_cache=ref._feat_map, feat_idx=ref._conv_idx,
                              first_chunk=i == 0).clamp(-1.0, 1.0)
        ref.clear_cache()


def error_vs_full(vae_file: Path, latents: torch.Tensor, work: Path) -> float | None:
    try:
        import diffusers
    except ImportError:
        return None
    ref = diffusers.AutoencoderKLWan(base_dim=TINY.dim, z_dim=TINY.z_dim, dim_mult=list(TINY.dim_mult),
                                     num_res_blocks=TINY.num_res_blocks,
                                     temperal_downsample=list(TINY.temperal_upsample[::-1])).eval()
    ours = load_file(str(vae_file))
    names = {k: v for k, v in decoder_original_to_diffusers(TINY).items() if k in ours}
    ref_state = ref.state_dict()
    ref_state.update({names[k]: v for k, v in ours.items()})
    ref.load_state_dict(ref_state, strict=True)
    prefix = latents[:, :, :24]  # the loop above is diffusers' decode(): check that on a prefix
    with torch.no_grad():
        assert torch.equal(torch.cat(list(diffusers_pieces(ref, prefix)), dim=2), ref.decode(prefix).sample)
    reference = diffusers_pieces(ref, latents)
    position, worst = 0, 0.0
    pending = torch.zeros(1, 3, 0, 8 * latents.shape[3], 8 * latents.shape[4])

    def compare(_run: int, pixels: torch.Tensor) -> None:
        nonlocal position, worst, pending
        pending = next(reference) if pending.shape[2] == 0 else pending
        n = pixels.shape[2]
        worst = max(worst, (pixels - pending[:, :, :n]).abs().max().item())
        pending = pending[:, :, n:]
        position += n

    two_runs(vae_file, latents, work, compare)
    assert position == pixel_frames_for(latents.shape[2]) and next(reference, None) is None
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="video time of the session (default 10)")
    ap.add_argument("--fps", type=int, default=16)
    ap.add_argument("--latent-size", type=int, nargs=2, default=(4, 4), metavar=("H", "W"),
                    help="latent height and width (pixels are 8x; default 4 4 -> 32x32)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, help="result JSON (default bench/results/<date>_decode.json)")
    args = ap.parse_args()
    if args.minutes <= 1:
        ap.error("--minutes must be more than 1: memory growth is measured from the first minute on")
    torch.set_num_threads(args.threads)
    latent_frames = math.ceil((args.minutes * 60 * args.fps + 3) / 4)
    latents = torch.randn(1, TINY.z_dim, latent_frames, *args.latent_size, generator=torch.Generator().manual_seed(1))
    out = args.out or Path(__file__).resolve().parent / "results" / f"{datetime.date.today().isoformat()}_decode.json"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        vae_file = random_vae_file(work / "wan_2.1_vae.safetensors")
        print(f"session: {latent_frames} latent frames -> {pixel_frames_for(latent_frames)} pixel frames "
              f"({args.minutes} min at {args.fps} fps), blocks of {BLOCK}, two runs", flush=True)
        session = streamed_session(vae_file, latents, work, args.fps)
        print("checking against diffusers' one-shot decode of all latents ...", flush=True)
        started = time.perf_counter()
        error = error_vs_full(vae_file, latents, work)
        session["error_check_s"] = round(time.perf_counter() - started, 1)
    result = {
        "streaming_decode": {
            "max_abs_error_vs_full": error,
            "rss_growth_ratio": session["rss_growth_ratio"],
            "video_minutes": session["video_minutes"],
            "frames_in_file": session["frames_in_file"],
            "frames_expected": session["pixel_frames_expected"],
            "frame_count_ok": session["frames_in_file"] == session["pixel_frames_expected"],
        },
        "details": session,
        "setup": {"vae": {"dim": TINY.dim, "z_dim": TINY.z_dim, "dim_mult": list(TINY.dim_mult),
                          "num_res_blocks": TINY.num_res_blocks},
                  "latent_size": list(args.latent_size), "fps": args.fps, "block_latents": BLOCK,
                  "threads": args.threads, "torch": torch.__version__, "device": "cpu",
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["streaming_decode"], indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
