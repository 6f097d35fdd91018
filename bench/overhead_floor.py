"""How much of echo_forcing's time over the rolling window is the price of its shared work buffer.

Echo-Forcing assembles each layer's context [anchors | compressed | recent | block] in ONE work buffer
that every layer reuses (a buffer per layer would cost another window of K/V per layer: +6 GB at 1.3B),
so every layer and denoising pass copies its context there and rotates the keys in place. This bench
times three streams on one model, alternated block by block as the suite pairs them:

  self_forcing_window    the baseline: attends its cache where it lies, rotates keys into a new tensor
  window_shared_buffer   the same window, but each layer's context copied into one shared work buffer
                         and its keys rotated there in place: Echo's way of assembling a context, with
                         none of its memory's own work (selection, anchors, reuse, calibration)
  echo_forcing           the Echo memory

The shared-buffer stream's ratio is the floor of the design; echo_forcing's distance above it is the
memory's own work. The shared-buffer stream's outputs are the window's, bit for bit (tested).

    python bench/overhead_floor.py [--width 160 --height 96] [--rounds 16] [--wide] [--out FILE]

--wide uses 2 layers of Wan2.1-1.3B's width (dim 1536) instead of the toy model (dim 256). JSON on stdout.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine import BlockStreamer, LayerMemory
from echo_stream.engine.rope import rotate_in_place
from echo_stream.memory import make_memory
from engine_bench import SMALL, build_model
from policy_timing import BASELINE, STEADY_AFTER, paired
from progress import Progress, machine
from report import emit
from suite import WIDE, cpu_model_record
from wrapped_policy import WrappedPolicy


class SharedBufferWindow(WrappedPolicy):
    """A rolling window whose every layer's context is copied into one shared work buffer, keys rotated there."""

    def setup(self, geometry):
        super().setup(geometry)
        g = geometry
        shape = (g.batch, self.inner.window_frames * g.frame_tokens, g.num_heads, g.head_dim)
        self.work_k = torch.zeros(shape, dtype=g.dtype, device=g.device)
        self.work_v = torch.zeros(shape, dtype=g.dtype, device=g.device)

    def wrap_layer(self, index: int) -> LayerMemory:
        return _SharedBufferLayer(self, index)

    def tensors(self):
        return {**self.inner.tensors(), "work_k": self.work_k, "work_v": self.work_v}


class _SharedBufferLayer(LayerMemory):
    def __init__(self, policy: SharedBufferWindow, index: int):
        self.policy, self.index = policy, index

    def context(self, q, k, v):
        ctx = self.policy.inner.layer(self.index).context(q, k, v)
        n = ctx.keys.shape[1]
        keys, values = self.policy.work_k[:, :n], self.policy.work_v[:, :n]
        keys.copy_(ctx.keys)
        values.copy_(ctx.values)
        return dataclasses.replace(ctx, keys=rotate_in_place(keys, ctx.key_rotary), values=values, keys_rotated=True)

    def commit(self, q, k, v):
        self.policy.inner.layer(self.index).commit(q, k, v)


@torch.no_grad()
def measure(*, width: int, height: int, rounds: int, wide: bool, say) -> dict:
    cfg = WIDE if wide else SMALL
    model = build_model(cfg, torch.device("cpu"), torch.float32)
    cond = torch.randn(1, cfg.text_len, cfg.text_dim, generator=torch.Generator().manual_seed(0))
    memories = {BASELINE: make_memory(BASELINE), "window_shared_buffer": SharedBufferWindow(make_memory(BASELINE)),
                "echo_forcing": make_memory("echo_forcing")}
    streams = {}
    for name, memory in memories.items():
        streams[name] = BlockStreamer(model, memory, width=width, height=height, seed=0)
        for _ in range(STEADY_AFTER + 1):  # to the steady state (Echo's anchors and compression)
            streams[name].next_block(cond)
        say("warm-up", f"{name}: {STEADY_AFTER + 1} blocks")
    figures = paired(streams, cond, rounds=rounds, device=model.device, say=say)
    keep = ("per_block_s", "ratio_to_rolling_window", "ratio_spread", "ratio_wall", "cache_bytes", "finite")
    return {"model": cpu_model_record(cfg, width, height), "paired_rounds": rounds,
            "streams": {n: {k: f[k] for k in keep} for n, f in figures.items()}}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=16, help="paired rounds (each gives 2 ratios per stream)")
    ap.add_argument("--wide", action="store_true", help="2 layers of Wan2.1-1.3B's width instead of the toy model")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    torch.set_num_threads(1)
    progress = Progress("floor")
    start, started = machine(), time.perf_counter()
    result = {"benchmark": "overhead_floor", "date": time.strftime("%Y-%m-%d"),
              **measure(width=args.width, height=args.height, rounds=args.rounds, wide=args.wide, say=progress.say),
              "seconds": round(time.perf_counter() - started, 1),
              "machine": {"start": start, "end": machine(), "load_1min_by_stage": progress.stage_loads()}}
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
