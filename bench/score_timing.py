"""What scoring the ring costs per layer and block at Wan-1.3B's shape, two ways, alternated pair by pair:

  per_block  what the selector did before it kept the phase rows: the magnitude term of the 3 new frames
             (kept), and the phase part of every ring frame at its current distance each block
             (`mean_phase_scores`: one dot product per key over the 21 frames, bf16 keys in float32);
  kept_rows  the selector itself (`CompressionSelector.scores`) with the 3 frames of the last block new:
             their magnitude terms and their phase parts for the 7 distances they will have (one matrix
             product per frame), then this block's row of every slot read back and combined.

    python bench/score_timing.py [--pairs 7] [--out FILE]

Both apply the drift gate; neither includes the selection (top-k), which is the same. JSON on stdout.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.memory.compression import magnitude_term, mean_phase_scores, mean_phase_weight, phase_rotations
from progress import machine
from report import emit
from score_equivalence import (BLOCK, FRAMES, HEAD_DIM, HEADS, OFFSETS, TOKENS, OneRing, one_layer_selector,
                               scene_at_frame_21)


@torch.no_grad()
def measure(pairs: int) -> dict:
    g = torch.Generator().manual_seed(0)
    ring = torch.randn(FRAMES, TOKENS, HEADS, HEAD_DIM, generator=g).bfloat16()
    q_mean = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
    abs_mean = q_mean.abs() + torch.rand(HEADS, HEAD_DIM // 2, generator=g)
    gate = torch.tensor(0.7, dtype=torch.float64)
    distances = torch.arange(FRAMES, 0, -1)  # the scene at frame 21: slot s holds frame s
    magnitude = torch.zeros(FRAMES, TOKENS)
    new = slice(FRAMES - BLOCK, FRAMES)  # the slots of the frames written by the last block
    selector, scenes, storage = one_layer_selector(), scene_at_frame_21(q_mean, abs_mean), OneRing(ring)

    def per_block():
        magnitude[new] = magnitude_term(ring[new], q_mean, abs_mean)
        weight = mean_phase_weight(q_mean, phase_rotations(distances, OFFSETS, HEAD_DIM, "cpu").mean(dim=1))
        return mean_phase_scores(ring, weight, magnitude, gate)

    def kept_rows():
        selector.forget(0, range(new.start, new.stop))  # as after a block's commit
        return selector.scores(0, storage, scenes, gate)

    kept_rows(), per_block()  # warm up: every slot's parts kept once, as in a running stream
    times = {"per_block": [], "kept_rows": []}
    started = time.perf_counter()
    for _ in range(pairs):
        for name, fn in (("per_block", per_block), ("kept_rows", kept_rows)):
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    ratios = [a / b for a, b in zip(times["per_block"], times["kept_rows"])]
    return {"benchmark": "score_timing", "date": time.strftime("%Y-%m-%d"), "machine": machine(),
            "shape": [FRAMES, TOKENS, HEADS, HEAD_DIM], "keys": "bfloat16", "pairs": pairs,
            "per_layer_and_block_ms": {n: round(1000 * statistics.median(v), 2) for n, v in times.items()},
            "speedup_median_of_pairs": round(statistics.median(ratios), 2),
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.pairs < 1:
        ap.error(f"--pairs must be at least 1, got {args.pairs}")
    torch.set_num_threads(1)
    result = measure(args.pairs)
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
