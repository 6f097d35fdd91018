"""The GPU check: one command on a CUDA machine, done in under 8 minutes, one JSON file.

    bench/gpu_check.sh                    # = timeout 480 python bench/gpu_check.py
    python bench/gpu_check.py --dry-run   # no GPU: the same steps at a tiny size on the CPU (checks the script)

1. the CUDA-marked tests (tests/test_cuda.py: a bf16 forward against the fp32 CPU reference at a small
   size, every memory preset streaming on the GPU), run by pytest in a subprocess;
2. the Wan2.1-1.3B geometry with random bf16 weights at 832x480: per policy the pixel frames per
   second and per-block time (policy_timing.py: the rolling window alternated block by block with
   each policy, ratios per adjacent pair), time to the first block and the peak GPU memory of a solo
   run; the Echo overhead ratio (echo_forcing / rolling window, median and spread over the pairs);
3. the memory a scene switch of the Echo memory takes for a moment at that geometry (switch_peak.py,
   the allocator's exact peak);
4. RoPE's complex multiply against the real formula on the device (bit for bit on the CPU; a fused
   multiply-add on the GPU may move the last bit).

Writes bench/results/<date>-<HHMM>-gpu-check-<gpu>.json (or --out FILE; a dry run writes only with --out).
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine.rope import RotaryEmbedding, apply_rotary, grid_positions, rotate_pairs_real
from engine_bench import WAN_1_3B, build_model
from policy_timing import POLICIES, measure
from progress import Progress, machine
from suite import check_gpu_room
from tiny_stream import tiny_config

import switch_peak

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TEST_TIMEOUT_S = 240


def run_cuda_tests(say, expect_skips: bool = False) -> dict:
    """pytest -m cuda in a subprocess: its exit status, its summary line and how long it took. On a GPU
    machine a skipped test counts as a failure (CUDA was not seen where it should have been)."""
    command = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "tests/test_cuda.py", "-p", "no:cacheprovider"]
    say("tests", " ".join(command[2:]))
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"command": " ".join(command[2:]), "returncode": None, "summary": f"timed out after {TEST_TIMEOUT_S} s",
                "passed": False, "seconds": TEST_TIMEOUT_S}
    lines = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\d+ (passed|failed|skipped|error)", ln)),
                   lines[-1] if lines else "")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    result = {"command": " ".join(command[2:]), "returncode": done.returncode, "summary": summary, "counts": counts,
              "passed": done.returncode == 0 and (expect_skips or not counts.get("skipped")),
              "seconds": round(time.perf_counter() - started, 1)}
    if not result["passed"]:
        result["output_tail"] = (done.stdout + done.stderr)[-4000:]
    say("tests", summary or f"exit status {done.returncode}")
    return result


def rope_difference(device: torch.device) -> dict:
    """apply_rotary (one complex multiply) against the rotation in real arithmetic, float32, head_dim 128,
    a 21-frame window of 832x480 tokens with Wan's 3D ids."""
    positions = grid_positions(list(range(21)), 30, 52)
    rot = RotaryEmbedding(128).rotary(positions, device)
    x = torch.randn(1, len(positions), 12, 128, generator=torch.Generator().manual_seed(0)).to(device)
    diff = (apply_rotary(x, rot) - rotate_pairs_real(x, rot)).abs()
    return {"head_dim": 128, "tokens": len(positions), "max_abs_difference": diff.max().item(),
            "values_differing": int((diff > 0).sum().item()), "values": diff.numel()}


def plan(dry_run: bool, rounds: int | None) -> dict:
    if dry_run:
        return {"cfg": tiny_config(layers=1, dim=24), "dtype": torch.float32, "device": torch.device("cpu"),
                "width": 32, "height": 32, "rounds": rounds or 1, "first_block_runs": 1}
    return {"cfg": WAN_1_3B, "dtype": torch.bfloat16, "device": torch.device("cuda"), "width": 832, "height": 480,
            "rounds": rounds or 4, "first_block_runs": 2}


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"


def check(dry_run: bool = False, rounds: int | None = None, tests: bool = True, policies=POLICIES,
          progress: Progress | None = None) -> dict:
    progress = progress or Progress("gpu_check")
    say = progress.say
    p = plan(dry_run, rounds)
    device, cfg = p["device"], p["cfg"]
    started, at_start = time.perf_counter(), machine()
    result = {"benchmark": "gpu_check", "date": datetime.date.today().isoformat(),
              "started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "dry_run": dry_run, "device": device_name(device), "torch": torch.__version__,
              "cuda": torch.version.cuda}
    result["tests"] = run_cuda_tests(say, expect_skips=dry_run) if tests else None
    say("geometry", f"dim {cfg.dim} x {cfg.num_layers} layers, {p['width']}x{p['height']}, {p['dtype']}, "
                    f"random weights, {p['rounds']} paired rounds")
    model = build_model(cfg, device, p["dtype"])
    if device.type == "cuda":
        check_gpu_room(model, policies, width=p["width"], height=p["height"], rounds=p["rounds"], device=device)
        torch.cuda.reset_peak_memory_stats(device)
    timing = measure(model, width=p["width"], height=p["height"], rounds=p["rounds"], policies=policies,
                     first_block_runs=p["first_block_runs"], say=say)
    result["geometry"] = {"dim": cfg.dim, "layers": cfg.num_layers, "heads": cfg.num_heads, "width": p["width"],
                          "height": p["height"], "dtype": str(p["dtype"]), "random_weights": True,
                          "weights_bytes": sum(t.numel() * t.element_size() for t in model.dit.parameters())}
    keep = ("pixel_fps", "per_block_s", "time_to_first_block_s", "peak_bytes_above_start", "peak_gpu_bytes",
            "cache_bytes", "ratio_to_rolling_window", "ratio_spread", "ratio_clock", "finite", "timed_blocks")
    result["policies"] = {n: {k: e[k] for k in keep if k in e} for n, e in timing.items()}
    if "echo_forcing" in timing:
        echo = timing["echo_forcing"]
        result["echo_overhead"] = {"ratio_to_rolling_window": echo["ratio_to_rolling_window"],
                                   "spread": echo["ratio_spread"], "clock": echo["ratio_clock"]}
    if device.type == "cuda":
        result["max_gpu_bytes_all_streams"] = torch.cuda.max_memory_allocated(device)
    del model
    say("switch", "memory of one Echo scene switch beyond the cache")
    shape = dict(grid=(2, 2)) if dry_run else dict(grid=(p["height"] // 16, p["width"] // 16))
    result["switch_memory"] = switch_peak.measure(cfg.num_layers, cfg.num_heads, device, **shape)
    result["rope_vs_real_formula"] = rope_difference(device)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = {"start": at_start, "end": machine(), "load_1min_by_stage": progress.stage_loads()}
    say("done", f"{result['wall_s']} s")
    return result


def default_path(result: dict) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", result["device"].lower()).strip("-")
    return RESULTS / f"{result['date']}-{result['started_utc'][11:16].replace(':', '')}-gpu-check-{slug}.json"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="no GPU needed: a tiny model on the CPU, same steps")
    ap.add_argument("--rounds", type=int, help="paired rounds (default 4 on the GPU, 1 in a dry run)")
    ap.add_argument("--skip-tests", action="store_true", help="only the 1.3B measurement")
    ap.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES),
                    help="policies to measure (the rolling window, the ratios' baseline, is always measured)")
    ap.add_argument("--out", type=Path, help="write the JSON here (default bench/results/...; a dry run only with --out)")
    args = ap.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit(f"the GPU check needs a CUDA device, and this torch sees none (torch {torch.__version__}, "
                 f"built with CUDA {torch.version.cuda}); --dry-run checks the script on the CPU")
    torch.set_num_threads(1)
    result = check(args.dry_run, args.rounds, not args.skip_tests, tuple(args.policies))
    text = json.dumps(result, indent=2)
    print(text)
    path = args.out or (None if args.dry_run else default_path(result))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        print(f"wrote {path}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
