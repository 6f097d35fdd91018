"""Per-block time and peak memory of every memory policy on one model.

Two phases, so neither measurement disturbs the other:
  interleaved  one stream per policy, all alive at once; each round runs one block of each policy in
               turn, so machine noise and clock changes hit all alike; the median over the
               steady-state blocks gives per-block time and its ratio to the rolling window;
  solo         the policies one at a time from a fresh stream: time to the first block (stream setup
               plus the first block, median of 3 fresh streams) and the peak memory of a run of
               `solo_blocks` blocks above what was in use before its stream was built (the cache plus
               the working memory of a block).
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


def cache_bytes_needed(model, names, *, width, height, total_frames) -> dict:
    """Each policy's cache at this model and size, set up on the meta device (nothing allocated)."""
    geometry = cache_geometry(model, width=width, height=height, device="meta")
    out = {}
    for name in names:
        memory = make_policy(name, total_frames)
        memory.setup(geometry)
        out[name] = memory.nbytes()
    return out


def _stream(model, name, *, width, height, total_frames):
    return BlockStreamer(model, make_policy(name, total_frames), width=width, height=height, seed=0)


@torch.no_grad()
def interleaved(model, cond, *, width, height, blocks, policies=POLICIES) -> dict:
    device = model.device
    if blocks <= STEADY_AFTER:
        raise ValueError(f"need more than {STEADY_AFTER} blocks to reach the steady state, got {blocks}")
    total_frames = blocks * 3
    streams = {n: _stream(model, n, width=width, height=height, total_frames=total_frames) for n in policies}
    times = {n: [] for n in policies}
    finite = {n: True for n in policies}
    for _ in range(blocks):
        for name, streamer in streams.items():
            t0 = time.perf_counter()
            x0 = streamer.next_block(cond)
            sync(device)
            times[name].append(time.perf_counter() - t0)
            finite[name] &= bool(torch.isfinite(x0).all())
    fpb = next(iter(streams.values())).settings.frames_per_block
    out = {}
    for name in policies:
        per_block = statistics.median(times[name][STEADY_AFTER:])
        out[name] = {"per_block_s": round(per_block, 5),
                     "pixel_fps": round(fpb * VAE_TEMPORAL_STRIDE / per_block, 2),
                     "cache_bytes": streams[name].memory.nbytes(), "finite": finite[name]}
    base = out[BASELINE]["per_block_s"] if BASELINE in out else None
    for entry in out.values():
        entry["ratio_to_rolling_window"] = round(entry["per_block_s"] / base, 4) if base else None
    del streams
    _release(device)
    return out


@torch.no_grad()
def solo(model, cond, *, width, height, blocks, total_frames, policies=POLICIES, first_block_runs: int = 3) -> dict:
    device = model.device
    out = {}
    for name in policies:
        firsts = []

        def first_block():
            t0 = time.perf_counter()
            streamer = _stream(model, name, width=width, height=height, total_frames=total_frames)
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
            for _ in range(blocks - 1):
                streamer.next_block(cond)
        entry = {"time_to_first_block_s": round(statistics.median(firsts), 4),
                 "peak_bytes_above_start": meter.peak, "peak_exact": meter.exact}
        if device.type == "cuda":
            entry["peak_gpu_bytes"] = torch.cuda.max_memory_allocated(device)  # weights included
        out[name] = entry
        del streamer
        _release(device)
    return out


def measure(model, *, width, height, blocks, solo_blocks=STEADY_AFTER + 1, policies=POLICIES, cond=None) -> dict:
    """Both phases merged per policy (the full cache is sized to the interleaved run in both)."""
    if cond is None:
        cond = torch.randn(1, model.config.text_len, model.config.text_dim, generator=torch.Generator().manual_seed(0))
    timing = interleaved(model, cond, width=width, height=height, blocks=blocks, policies=policies)
    memory = solo(model, cond, width=width, height=height, blocks=solo_blocks, total_frames=blocks * 3,
                  policies=policies)
    return {name: {**timing[name], **memory[name]} for name in policies}
