"""Engine benchmark: per-block time and peak memory per policy, and KV bytes at the 1.3B geometry.

    python bench/engine_bench.py                 # CPU, small random model
    python bench/engine_bench.py --device cuda   # random-weight Wan2.1-1.3B at 832x480 in bf16

Prints one JSON document (and a short table on stderr). Timings of the policies are taken side by
side in one run on one model, so their ratios are meaningful even on a noisy shared machine.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pack_import import load_pack  # noqa: E402

load_pack()
from echo_stream.engine import BlockStreamer, CausalWan, WanConfig, WanDiT, full_cache, rolling_window  # noqa: E402
from echo_stream.engine.geometry import VAE_TEMPORAL_STRIDE, cache_geometry  # noqa: E402

WAN_1_3B = WanConfig()
SMALL = WanConfig(dim=256, ffn_dim=512, num_heads=2, num_layers=4, text_dim=64, freq_dim=64)


def policies(total_frames: int) -> dict:
    """The engine's policies at their published settings (full cache sized to hold the whole run)."""
    return {
        "full_cache": lambda: full_cache(total_frames),
        "self_forcing_window_21": lambda: rolling_window(21),
        "longlive_window_12_sink_3": lambda: rolling_window(12, 3),
    }


def kv_bytes_at(cfg: WanConfig, width: int, height: int, dtype=torch.bfloat16) -> dict:
    """Bytes each policy holds at a real geometry, allocated on the meta device (no memory used)."""
    geometry = cache_geometry(cfg, width=width, height=height, dtype=dtype, device="meta")
    out = {}
    for name, make in policies(21).items():
        policy = make()
        policy.setup(geometry)
        out[name] = {"bytes": policy.nbytes(), "GiB": round(policy.nbytes() / 2**30, 3)}
    return out


def peak_memory(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"peak_gpu_bytes": torch.cuda.max_memory_allocated(device)}
    return {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def time_policy(model, make_policy, *, width, height, blocks, warmup_blocks, device) -> dict:
    cond = torch.randn(1, 512, model.config.text_dim, generator=torch.Generator().manual_seed(0))
    memory = make_policy()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    streamer = BlockStreamer(model, memory, width=width, height=height, seed=0)
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        streamer.next_block(cond)
        sync(device)
        times.append(time.perf_counter() - t0)
    first_block = times[0] + (time.perf_counter() - start - sum(times))  # includes setup
    steady = times[warmup_blocks:] or times
    per_block = statistics.median(steady)
    frames = streamer.settings.frames_per_block * VAE_TEMPORAL_STRIDE  # pixel frames a block adds to the video
    return {
        "per_block_s": round(per_block, 5),
        "pixel_fps": round(frames / per_block, 2),
        "time_to_first_block_s": round(first_block, 4),
        "kv_bytes": memory.nbytes(),
        **peak_memory(device),  # CPU: the process peak so far (monotonic over the run)
    }


def build_model(cfg: WanConfig, device, dtype) -> CausalWan:
    torch.manual_seed(0)
    with torch.device(device):
        dit = WanDiT(cfg).to(dtype)
    return CausalWan(dit.eval(), cfg)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--blocks", type=int, default=None, help="blocks per policy (default: 12 on CPU, 14 on CUDA)")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("--device cuda was asked for but torch sees no CUDA device")
        cfg, dtype, width, height = WAN_1_3B, torch.bfloat16, 832, 480
        device_name = torch.cuda.get_device_name(device)
    else:
        cfg, dtype, width, height = SMALL, torch.float32, 320, 192
        device_name = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    blocks = args.blocks or (14 if device.type == "cuda" else 12)
    model = build_model(cfg, device, dtype)
    total_frames = blocks * 3
    results = {
        "benchmark": "engine",
        "date": datetime.date.today().isoformat(),
        "device": device_name,
        "torch": torch.__version__,
        "model": {"dim": cfg.dim, "layers": cfg.num_layers, "heads": cfg.num_heads, "dtype": str(dtype),
                  "width": width, "height": height, "random_weights": True},
        "blocks_per_policy": blocks,
        "steady_state_after_blocks": 7,
        "policies": {name: time_policy(model, make, width=width, height=height, blocks=blocks,
                                       warmup_blocks=7, device=device)
                     for name, make in policies(total_frames).items()},
        "kv_bytes_wan_1_3b_832x480_bf16": kv_bytes_at(WAN_1_3B, 832, 480),
    }
    base = results["policies"]["self_forcing_window_21"]["per_block_s"]
    for entry in results["policies"].values():
        entry["time_vs_rolling_window"] = round(entry["per_block_s"] / base, 3)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    for name, entry in results["policies"].items():
        print(f"{name:28s} {entry['per_block_s']*1000:9.1f} ms/block {entry['pixel_fps']:8.2f} px-fps "
              f"x{entry['time_vs_rolling_window']:.3f}  kv {entry['kv_bytes']/2**20:8.2f} MiB", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
