"""The compression scores as the selector computes them (kept magnitude term + kept phase rows: one matrix
product per frame with the offset-averaged weights of every distance the frame will have, the row of its
current distance read) against the full scorer (`phase_scores`, every offset and head), on random rings of
Wan-1.3B's shape: how far the scores differ and how often the selection does.

    python bench/score_equivalence.py [--rings 300] [--out FILE]

Rings of 21 frames x 1,560 tokens x 12 heads x 128 (bf16 keys), a random calibration and drift gate;
the last 3 frames blocked as the recent window; 3 frames' worth of tokens selected. JSON on stdout.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.memory.compression import (magnitude_term, mean_phase_rows, mean_phase_weight, phase_rotations,
                                            phase_scores, select_top)
from progress import machine
from report import emit

FRAMES, TOKENS, HEADS, HEAD_DIM = 21, 1560, 12, 128
OFFSETS = (1, 2, 4, 8, 16)
BLOCK = 3


def kept_phase(keys, distances, q_mean) -> torch.Tensor:
    """The selector's phase part: rows for each frame's distances D mod 3, + 3, ... (7 of them), made with one
    matrix product per frame, and the row of its current distance read back. [F, T]"""
    rows = FRAMES // BLOCK
    weights = mean_phase_weight(q_mean, phase_rotations(torch.arange(1, rows * BLOCK + 1), OFFSETS, HEAD_DIM,
                                                        "cpu").mean(dim=1))
    first = (distances - 1) % BLOCK
    kept = mean_phase_rows(keys, weights[first[:, None] + BLOCK * torch.arange(rows)])  # [F, rows, T]
    return kept[torch.arange(FRAMES), (distances - 1) // BLOCK]


@torch.no_grad()
def compare(rings: int, seed: int = 0) -> dict:
    distances = torch.arange(FRAMES, 0, -1)
    rotations = phase_rotations(distances, OFFSETS, HEAD_DIM, "cpu")
    blocked = torch.zeros(FRAMES * TOKENS, dtype=torch.bool)
    blocked[-3 * TOKENS:] = True
    g = torch.Generator().manual_seed(seed)
    worst, differing, started = 0.0, [], time.perf_counter()
    for ring in range(rings):
        keys = torch.randn(FRAMES, TOKENS, HEADS, HEAD_DIM, generator=g).bfloat16()
        q_mean = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
        abs_mean = q_mean.abs() + torch.rand(HEADS, HEAD_DIM // 2, generator=g)
        gate = torch.tensor(float(torch.rand(1, generator=g)), dtype=torch.float64)
        full = phase_scores(keys, distances, q_mean, abs_mean, gate, OFFSETS, "sum", True, rotations=rotations)
        split = kept_phase(keys, distances, q_mean) + gate * magnitude_term(keys, q_mean, abs_mean)
        worst = max(worst, (full - split).abs().max().item())
        a, b = (select_top(s, 3 * TOKENS, blocked) for s in (full, split))
        if not torch.equal(a, b):
            differing.append({"ring": ring, "tokens_differing": len(set(a.tolist()) ^ set(b.tolist())) // 2})
    return {"benchmark": "score_equivalence", "date": time.strftime("%Y-%m-%d"), "machine": machine(),
            "rings": rings, "shape": [FRAMES, TOKENS, HEADS, HEAD_DIM], "selected_per_ring": 3 * TOKENS,
            "max_abs_score_difference": worst, "selections_differing": differing,
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rings", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    result = compare(args.rings)
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
