"""The benchmark suite: one command for every speed and memory figure of the pack.

    python bench/suite.py                  # CPU, small random model (a few minutes on 2 cores)
    python bench/suite.py --quick          # CPU, smaller and shorter (about a minute)
    python bench/suite.py --device cuda    # random-weight Wan2.1-1.3B at 832x480 in bf16

Prints one JSON document on stdout and a short table on stderr, and writes the JSON to
bench/results/<date>-suite-<device>[-quick].json (or --out FILE; --no-save writes nothing).

  policies        per policy on one model: per-block time (interleaved, median of the steady state),
                  ratio to the rolling window, pixel frames per second (4 per latent frame), time to the
                  first block and peak memory of a solo run (see procmem.py for what CPU peaks mean)
  wan_1_3b_bytes  cache bytes at the real 1.3B geometry per policy (meta device, checked)
  against_length  cache bytes after 1, 10 and 60 minutes of latents, really generated (tiny model)
  fidelity        attention error against a full-history oracle (memory_bench.attention_fidelity)
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine import WanConfig
from engine_bench import SMALL, WAN_1_3B, build_model
from geometry_bytes import allocation_check, at_wan_1_3b
from length_bytes import against_length
from memory_bench import attention_fidelity
from policy_timing import POLICIES, cache_bytes_needed, measure
from suite_table import table

RESULTS = Path(__file__).resolve().parent / "results"
QUICK = WanConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32, freq_dim=32, text_len=64)


def plan(device: torch.device, quick: bool) -> dict:
    """Model, size and lengths for a device; CUDA runs the real 1.3B geometry."""
    if device.type == "cuda":
        return {"cfg": WAN_1_3B, "dtype": torch.bfloat16, "width": 832, "height": 480,
                "blocks": 12 if quick else 20, "minutes": (1, 10) if quick else (1, 10, 60)}
    if quick:
        return {"cfg": QUICK, "dtype": torch.float32, "width": 64, "height": 64, "blocks": 10, "minutes": (1, 10)}
    return {"cfg": SMALL, "dtype": torch.float32, "width": 320, "height": 192, "blocks": 16, "minutes": (1, 10, 60)}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def check_gpu_room(model, policies, *, width, height, blocks, device) -> None:
    """Every interleaved stream holds its cache at once: say so before the GPU runs out."""
    need = sum(cache_bytes_needed(model, policies, width=width, height=height, total_frames=3 * blocks).values())
    free, _ = torch.cuda.mem_get_info(device)
    headroom = 4 * 2**30  # activations of a 1.3B block at 832x480 and the allocator's slack
    if need + headroom > free:
        raise SystemExit(f"the interleaved run keeps {len(policies)} caches alive, {need / 2**30:.1f} GiB at "
                         f"{width}x{height} with {blocks} blocks (the full cache holds them all), but the GPU has "
                         f"{free / 2**30:.1f} GiB free; pass fewer --policies or --blocks")


def run(device: torch.device, quick: bool = False, blocks: int | None = None, minutes=None,
        fidelity: bool = True, policies=POLICIES) -> dict:
    p = plan(device, quick)
    blocks, minutes = blocks or p["blocks"], tuple(minutes or p["minutes"])
    started = time.perf_counter()
    cfg = p["cfg"]
    model = build_model(cfg, device, p["dtype"])
    if device.type == "cuda":
        check_gpu_room(model, policies, width=p["width"], height=p["height"], blocks=blocks, device=device)
    weights = sum(t.numel() * t.element_size() for t in model.dit.parameters())
    result = {
        "benchmark": "suite", "date": datetime.date.today().isoformat(), "device": device_name(device),
        "torch": torch.__version__, "quick": quick,
        "model": {"dim": cfg.dim, "layers": cfg.num_layers, "heads": cfg.num_heads, "dtype": str(p["dtype"]),
                  "width": p["width"], "height": p["height"], "random_weights": True, "weights_bytes": weights},
        "blocks_interleaved": blocks, "full_cache_frames": 3 * blocks,
        "policies": measure(model, width=p["width"], height=p["height"], blocks=blocks, policies=policies),
    }
    del model
    result["wan_1_3b_bytes"] = at_wan_1_3b()
    result["allocation_check"] = allocation_check()
    result["against_length"] = against_length(minutes, device=device)
    if fidelity:
        result["fidelity"] = attention_fidelity(30 if quick else 60)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def default_path(result: dict, device: torch.device) -> Path:
    return RESULTS / f"{result['date']}-suite-{device.type}{'-quick' if result['quick'] else ''}.json"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="smaller model, fewer blocks, 1 and 10 minutes only")
    ap.add_argument("--blocks", type=int, help="interleaved blocks per policy (more than 8)")
    ap.add_argument("--minutes", type=float, nargs="+", help="video lengths for the cache-bytes run")
    ap.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES),
                    help="which policies to time (default all; self_forcing_window is the ratio's baseline)")
    ap.add_argument("--no-fidelity", action="store_true", help="skip the attention-fidelity rollout")
    ap.add_argument("--out", type=Path, help="write the JSON here instead of bench/results/<date>-suite-...")
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda was asked for, but this torch sees no CUDA device "
                 f"(torch {torch.__version__}, built with CUDA {torch.version.cuda})")
    result = run(device, args.quick, args.blocks, args.minutes, fidelity=not args.no_fidelity,
                 policies=tuple(args.policies))
    text = json.dumps(result, indent=2)
    print(text)
    if not args.no_save:
        path = args.out or default_path(result, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        print(f"wrote {path}", file=sys.stderr)
    print(table(result), file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
