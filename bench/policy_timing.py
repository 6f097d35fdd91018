"""Per-block time and peak memory of every memory policy on one model, robust to a shared machine.

Two phases, so neither measurement disturbs the other:
  solo    the policies one at a time from a fresh stream: time to the first block (stream setup plus
          the first block, median of `first_block_runs` fresh streams) and the peak memory of a run of
          STEADY_AFTER + 1 blocks above what was in use before its stream was built (the cache plus the
          working memory of a block). That stream is kept: it has reached its steady state.
  paired  the steady streams go on, the rolling-window baseline alternating block by block with every
          other policy: B p1 B p2 B ... pk B p1 B ... Each block of a policy sits between two baseline
          blocks, and each of those adjacent (baseline, policy) pairs gives one ratio. Load that comes
          and goes (other processes, clock changes) hits both halves of a pair alike, so the median of
          many pair ratios holds where a ratio of two medians taken minutes apart does not. The spread
          over the pairs (quartiles, 10th/90th percentiles) says how much to trust it.
          On the CPU each block is timed twice: wall clock and the process's CPU time. While other
          processes share the cores, wall time includes the time this process waited for a core,
          which comes in slices as long as a block; CPU time counts only the work done, so the ratio
          is taken on CPU time there (`ratio_clock`) and the wall-clock ratio is reported beside it.
          On CUDA the kernels run on the GPU and the ratio is taken on wall time.
"""
from __future__ import annotations

import gc
import statistics
import time

import torch

import loadpack  # noqa: F401  (imports echo_stream from this working tree)
from echo_stream.engine import BlockStreamer
from echo_stream.engine.geometry import VAE_TEMPORAL_STRIDE, cache_geometry
from echo_stream.memory import PRESETS, make_memory
from procmem import PeakMeter
from progress import quantiles

BASELINE = "self_forcing_window"
POLICIES = tuple(PRESETS)
STEADY_AFTER = 8  # Echo-Forcing reaches its steady layout (anchors + compression) at block 7


def make_policy(name: str, total_frames: int):
    """Presets at their published settings; the full cache is sized to hold the whole run."""
    return make_memory(name, max_frames=total_frames) if name == "full_cache" else make_memory(name)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def with_baseline(policies) -> tuple[str, ...]:
    """Every ratio is taken against the rolling window, so it is always timed (first)."""
    return (BASELINE,) + tuple(p for p in policies if p != BASELINE)


def frames_needed(rounds: int) -> int:
    """Latent frames a non-baseline stream makes (solo run + one block per round): the full cache's size."""
    return 3 * (STEADY_AFTER + 1 + rounds)


def cache_bytes_needed(model, names, *, width, height, total_frames) -> dict:
    """Each policy's cache at this model and size, set up on the meta device (nothing allocated)."""
    geometry = cache_geometry(model, width=width, height=height, device="meta")
    out = {}
    for name in names:
        memory = make_policy(name, total_frames)
        memory.setup(geometry)
        out[name] = memory.nbytes()
    return out


def _timed_block(streamer, cond, device) -> tuple[float, float, bool]:
    """(wall seconds, process CPU seconds, output finite)."""
    t0, c0 = time.perf_counter(), time.process_time()
    x0 = streamer.next_block(cond)
    sync(device)
    return time.perf_counter() - t0, time.process_time() - c0, bool(torch.isfinite(x0).all())


@torch.no_grad()
def solo(model, cond, *, width, height, total_frames, policies, first_block_runs: int = 3, say=None):
    """Per policy: time to the first block, peak memory of a STEADY_AFTER + 1 block run; returns
    (figures, the steady streams)."""
    device = model.device
    figures, streams = {}, {}
    for name in policies:
        firsts = []

        def first_block():
            t0 = time.perf_counter()
            streamer = BlockStreamer(model, make_policy(name, total_frames), width=width, height=height, seed=0)
            streamer.next_block(cond)
            sync(device)
            firsts.append(time.perf_counter() - t0)
            return streamer

        for _ in range(first_block_runs - 1):  # one sample of a one-off cost is noise; take a median
            first_block()
            _release(device)
        meter = PeakMeter(device)
        with meter:
            streamer = first_block()
            for _ in range(STEADY_AFTER):
                streamer.next_block(cond)
            sync(device)
        entry = {"time_to_first_block_s": round(statistics.median(firsts), 4),
                 "peak_bytes_above_start": meter.peak, "peak_exact": meter.exact}
        if device.type == "cuda":
            entry["peak_gpu_bytes"] = torch.cuda.max_memory_allocated(device)  # weights and earlier streams included
        figures[name], streams[name] = entry, streamer
        if say:
            say("solo", f"{name}: first block {entry['time_to_first_block_s']:.3f} s, "
                        f"peak +{meter.peak / 2**20:.1f} MiB")
    return figures, streams


@torch.no_grad()
def paired(streams: dict, cond, *, rounds: int, device, say=None) -> dict:
    """Alternate the baseline with each other policy, block by block; a ratio per adjacent pair."""
    names = [n for n in streams if n != BASELINE]
    clock = "wall" if device.type == "cuda" else "process_cpu"
    times = {n: {"wall": [], "process_cpu": []} for n in streams}
    ratios = {n: {"wall": [], "process_cpu": []} for n in names}
    finite = {n: True for n in streams}

    def run(name):
        wall, cpu, ok = _timed_block(streams[name], cond, device)
        times[name]["wall"].append(wall)
        times[name]["process_cpu"].append(cpu)
        finite[name] &= ok
        return {"wall": wall, "process_cpu": cpu}

    before = run(BASELINE)
    for r in range(rounds):
        for name in names:
            t = run(name)
            after = run(BASELINE)
            for c in t:  # (B, p) and (p, B): both orders, equally often
                ratios[name][c] += [t[c] / max(before[c], 1e-9), t[c] / max(after[c], 1e-9)]
            before = after
        if say:
            now = ", ".join(f"{n} x{statistics.median(ratios[n][clock]):.3f}" for n in names)
            say("paired", f"round {r + 1}/{rounds} ({clock} time ratios so far): {now or 'baseline only'}")
    fpb = streams[BASELINE].settings.frames_per_block
    out = {}
    for name, streamer in streams.items():
        per_block = statistics.median(times[name]["wall"])
        entry = {"per_block_s": round(per_block, 5), "per_block_cpu_s": round(statistics.median(times[name]["process_cpu"]), 5),
                 "pixel_fps": round(fpb * VAE_TEMPORAL_STRIDE / per_block, 2), "timed_blocks": len(times[name]["wall"]),
                 "cache_bytes": streamer.memory.nbytes(), "finite": finite[name], "ratio_clock": clock}
        if name == BASELINE:
            entry.update(ratio_to_rolling_window=1.0, ratio_spread=None, ratio_wall=1.0, ratio_wall_spread=None)
        else:
            spread, wall = quantiles(ratios[name][clock]), quantiles(ratios[name]["wall"])
            entry.update(ratio_to_rolling_window=spread["median"], ratio_spread=spread, ratio_wall=wall["median"],
                         ratio_wall_spread=wall)
        out[name] = entry
    return out


def measure(model, *, width, height, rounds, policies=POLICIES, cond=None, first_block_runs: int = 3,
            say=None) -> dict:
    """Both phases merged per policy; the rolling window is always among them (the ratios' baseline)."""
    if rounds < 1:
        raise ValueError(f"need at least one paired round, got {rounds}")
    policies = with_baseline(policies)
    if cond is None:
        cond = torch.randn(1, model.config.text_len, model.config.text_dim, generator=torch.Generator().manual_seed(0))
    figures, streams = solo(model, cond, width=width, height=height, total_frames=frames_needed(rounds),
                            policies=policies, first_block_runs=first_block_runs, say=say)
    timing = paired(streams, cond, rounds=rounds, device=model.device, say=say)
    del streams
    _release(model.device)
    return {name: {**timing[name], **figures[name]} for name in policies}
