"""The benchmark suite: one command for every speed and memory figure of the pack.

    python bench/suite.py                  # CPU, small random model: about 1 min quiet, 3-8 min on a loaded 2-core machine
    python bench/suite.py --long           # + the 60-minute length stage, the 320x192 timing size, more pairs, --wide
    python bench/suite.py --wide           # + the Echo ratio at Wan2.1-1.3B's layer width (about 3 min more)
    python bench/suite.py --quick          # CPU, smaller and shorter (under a minute)
    python bench/suite.py --device cuda    # random-weight Wan2.1-1.3B at 832x480 in bf16

Prints progress on stderr while it runs (each stage, each paired round with the ratios so far, the
load average), one JSON document on stdout and a short table on stderr at the end, and writes the
JSON to bench/results/<date>-<HHMM>-suite-<device>[-quick|-long].json (or --out FILE; --no-save
writes nothing). On the CPU, torch runs one thread unless --threads says otherwise: on a shared
machine one thread per process is what keeps the ratios stable.

  machine         CPU count, usable cores, torch threads, load averages at start and end, and the
                  1-minute load sampled through every stage
  policies        per policy on one model: per-block time (median over the paired phase), ratio to
                  the rolling window (median of per-pair ratios, blocks alternated with the window;
                  ratio_spread: quartiles, IQR, 10th/90th percentiles over the pairs), pixel frames
                  per second (4 per latent frame), time to the first block and peak memory of a solo
                  run (see policy_timing.py for the method, procmem.py for what CPU peaks mean)
  wan_1_3b_width  (--wide, --long; CPU) the rolling window and echo_forcing timed the same way on 2 layers
                  of Wan2.1-1.3B's width (dim 1536, 12 heads, FFN 8960) at 160x96: the memory's work
                  per token is the real model's there, the toy model magnifies it against the matmuls
  wan_1_3b_bytes  cache bytes at the real 1.3B geometry per policy (meta device, checked)
  against_length  cache bytes after 1 and 10 (--long: and 60) minutes of latents, really generated
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
from policy_timing import POLICIES, cache_bytes_needed, frames_needed, measure, with_baseline
from progress import Progress, machine
from suite_table import table

RESULTS = Path(__file__).resolve().parent / "results"
QUICK = WanConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32, freq_dim=32, text_len=64)
WIDE = WanConfig(num_layers=2)  # Wan2.1-1.3B's layers (dim 1536, 12 heads, FFN 8960), 2 of its 30
WIDE_POLICIES = ("self_forcing_window", "echo_forcing")


def plan(device: torch.device, quick: bool, long: bool = False) -> dict:
    """Model, size, paired rounds and lengths for a device; CUDA runs the real 1.3B geometry.
    The default is sized to end in a few minutes on a loaded 2-core machine; --long restores the
    slow stages (the 60-minute length run, the 320x192 timing size, twice the pairs)."""
    minutes = (1, 10, 60) if long else (1, 10)
    if device.type == "cuda":
        return {"cfg": WAN_1_3B, "dtype": torch.bfloat16, "width": 832, "height": 480,
                "rounds": 4 if quick else 16 if long else 8, "minutes": (1, 10) if quick else minutes, "fidelity": 60}
    if quick:
        return {"cfg": QUICK, "dtype": torch.float32, "width": 64, "height": 64, "rounds": 4, "minutes": (1, 10),
                "fidelity": 30}
    if long:
        return {"cfg": SMALL, "dtype": torch.float32, "width": 320, "height": 192, "rounds": 24, "minutes": minutes,
                "fidelity": 60}
    return {"cfg": SMALL, "dtype": torch.float32, "width": 160, "height": 96, "rounds": 12, "minutes": minutes,
            "fidelity": 60}


def wide_timing(cfg: WanConfig, *, width: int, height: int, rounds: int, say) -> dict:
    """The rolling window and echo_forcing paired as in `policies`, on layers of the real model's width. The
    toy model's layers do about 60x fewer multiply-adds per token than 1.3B's (the matmuls grow with dim^2)
    while the memory's copies, rotation and scoring move only 6x fewer bytes (they grow with dim): its ratio
    overstates the memory's share. Here, on the CPU, the memory's work per token is the real model's."""
    model = build_model(cfg, torch.device("cpu"), torch.float32)
    figures = measure(model, width=width, height=height, rounds=rounds, policies=WIDE_POLICIES, first_block_runs=1,
                      say=lambda stage, msg: say("wide", f"{stage}: {msg}"))
    return {"model": cpu_model_record(cfg, width, height), "paired_rounds": rounds, "policies": figures}


def cpu_model_record(cfg: WanConfig, width: int, height: int) -> dict:
    """What a CPU timing ran on: the random-weight float32 model's shape and the video size."""
    return {"dim": cfg.dim, "ffn_dim": cfg.ffn_dim, "layers": cfg.num_layers, "heads": cfg.num_heads,
            "dtype": "torch.float32", "width": width, "height": height, "random_weights": True}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def check_gpu_room(model, policies, *, width, height, rounds, device) -> None:
    """Every paired stream holds its cache at once: say so before the GPU runs out."""
    need = sum(cache_bytes_needed(model, policies, width=width, height=height,
                                  total_frames=frames_needed(rounds)).values())
    free, _ = torch.cuda.mem_get_info(device)
    headroom = 4 * 2**30  # activations of a 1.3B block at 832x480 and the allocator's slack
    if need + headroom > free:
        raise SystemExit(f"the paired run keeps {len(policies)} caches alive, {need / 2**30:.1f} GiB at "
                         f"{width}x{height} with {rounds} rounds (the full cache holds them all), but the GPU has "
                         f"{free / 2**30:.1f} GiB free; pass fewer --policies or --rounds")


def run(device: torch.device, quick: bool = False, rounds: int | None = None, minutes=None,
        fidelity: bool = True, policies=POLICIES, long: bool = False, progress: Progress | None = None,
        wide: bool = False) -> dict:
    p = plan(device, quick, long)
    rounds, minutes = rounds or p["rounds"], tuple(minutes or p["minutes"])
    policies = with_baseline(policies)
    progress = progress or Progress()
    say = progress.say
    started, load_start = time.perf_counter(), machine()
    cfg = p["cfg"]
    say("setup", f"{device_name(device)}; model dim {cfg.dim} x {cfg.num_layers} layers at {p['width']}x{p['height']}; "
                 f"{len(policies)} policies, {rounds} paired rounds; lengths {minutes} min")
    model = build_model(cfg, device, p["dtype"])
    if device.type == "cuda":
        check_gpu_room(model, policies, width=p["width"], height=p["height"], rounds=rounds, device=device)
    weights = sum(t.numel() * t.element_size() for t in model.dit.parameters())
    result = {
        "benchmark": "suite", "date": datetime.date.today().isoformat(),
        "started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": device_name(device), "torch": torch.__version__, "quick": quick, "long": long,
        "model": {"dim": cfg.dim, "layers": cfg.num_layers, "heads": cfg.num_heads, "dtype": str(p["dtype"]),
                  "width": p["width"], "height": p["height"], "random_weights": True, "weights_bytes": weights},
        "paired_rounds": rounds, "full_cache_frames": frames_needed(rounds),
    }
    result["policies"] = measure(model, width=p["width"], height=p["height"], rounds=rounds, policies=policies,
                                 say=say)
    del model
    if (wide or long) and device.type == "cpu":  # on CUDA the main run is the 1.3B geometry already
        w = {"cfg": QUICK, "width": 64, "height": 64} if quick else {"cfg": WIDE, "width": 160, "height": 96}
        what = "the quick stand-in" if quick else "1.3B's layer width"
        say("wide", f"window and echo_forcing on dim {w['cfg'].dim} x {w['cfg'].num_layers} layers ({what}) at "
                    f"{w['width']}x{w['height']}, {rounds} paired rounds")
        result["wan_1_3b_width"] = wide_timing(w["cfg"], width=w["width"], height=w["height"], rounds=rounds,
                                               say=say)
    say("bytes", "cache bytes at the 1.3B geometry (meta device) and the allocation check")
    result["wan_1_3b_bytes"] = at_wan_1_3b()
    result["allocation_check"] = allocation_check()
    say("length", f"cache bytes against length, {' / '.join(map(str, minutes))} minutes of latents")
    result["against_length"] = against_length(minutes, device=device,
                                              progress=lambda m, b: say("length", f"{m} min ({b} blocks) done"))
    if fidelity:
        say("fidelity", f"attention error against the full history, {p['fidelity']} blocks per policy")
        result["fidelity"] = attention_fidelity(p["fidelity"])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = {"start": load_start, "end": machine(), "load_1min_by_stage": progress.stage_loads()}
    say("done", f"{result['wall_s']} s")
    return result


def default_path(result: dict, device: torch.device) -> Path:
    stamp = result["started_utc"][11:16].replace(":", "")
    kind = "-quick" if result["quick"] else "-long" if result.get("long") else ""
    return RESULTS / f"{result['date']}-{stamp}-suite-{device.type}{kind}.json"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="smaller model, fewer rounds, 1 and 10 minutes only")
    ap.add_argument("--long", action="store_true",
                    help="also the 60-minute length stage; on the CPU the 320x192 timing size, 24 rounds and --wide")
    ap.add_argument("--wide", action="store_true",
                    help="also time the window and echo_forcing on 2 layers of Wan2.1-1.3B's width (CPU; about 3 min)")
    ap.add_argument("--rounds", type=int, help="paired rounds (each gives 2 ratios per policy; default 12 on the CPU)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: steady ratios on a shared machine)")
    ap.add_argument("--minutes", type=float, nargs="+", help="video lengths for the cache-bytes run")
    ap.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES),
                    help="which policies to time (default all; self_forcing_window, the ratios' baseline, "
                         "is always timed)")
    ap.add_argument("--no-fidelity", action="store_true", help="skip the attention-fidelity rollout")
    ap.add_argument("--out", type=Path, help="write the JSON here instead of bench/results/<date>-suite-...")
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.quick and args.long:
        ap.error("--quick and --long contradict each other; pick one")
    if args.rounds is not None and args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads < 1:
        ap.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda was asked for, but this torch sees no CUDA device "
                 f"(torch {torch.__version__}, built with CUDA {torch.version.cuda})")
    result = run(device, args.quick, args.rounds, args.minutes, fidelity=not args.no_fidelity,
                 policies=tuple(args.policies), long=args.long, wide=args.wide)
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
