"""The compression scores as the selector computes them (its own `CompressionSelector.scores`: kept
magnitude terms and kept phase rows, see memory/selector.py) against the full scorer (`phase_scores`, every
offset and head), on random rings of Wan-1.3B's shape: how far the scores differ and how often the
selection does.

    python bench/score_equivalence.py [--rings 300] [--out FILE]

Rings of 21 frames x 1,560 tokens x 12 heads x 128 (bf16 keys), a random calibration and drift gate, the
scene at frame 21 (slot s holds frame s, at distance 21 - s); the last 3 frames blocked as the recent
window; 3 frames' worth of tokens selected. JSON on stdout.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import torch

import loadpack  # noqa: F401
from echo_stream.engine import CacheGeometry
from echo_stream.engine.rope import RotaryEmbedding
from echo_stream.memory.compression import phase_rotations, phase_scores, select_top
from echo_stream.memory.config import EchoConfig
from echo_stream.memory.selector import CompressionSelector
from progress import machine
from report import emit

FRAMES, TOKENS, HEADS, HEAD_DIM = 21, 1560, 12, 128
OFFSETS = (1, 2, 4, 8, 16)
BLOCK = 3
GRID = (30, 52)  # tokens per frame at 832 x 480


class OneRing:
    """What the selector reads of a storage: one layer's ring keys."""

    def __init__(self, keys: torch.Tensor):
        self.keys = keys.reshape(1, FRAMES * TOKENS, HEADS, HEAD_DIM)

    def ring_keys(self, i: int, start: int = 0, end: int | None = None) -> torch.Tensor:
        return self.keys[:, start:end]


def one_layer_selector() -> CompressionSelector:
    geometry = CacheGeometry(num_layers=1, num_heads=HEADS, head_dim=HEAD_DIM, grid_h=GRID[0], grid_w=GRID[1],
                             frames_per_block=BLOCK, batch=1, dtype=torch.bfloat16, device=torch.device("cpu"),
                             rotary=RotaryEmbedding(HEAD_DIM))
    return CompressionSelector(EchoConfig(future_offsets=OFFSETS), geometry, FRAMES)


def scene_at_frame_21(q_mean, abs_mean) -> SimpleNamespace:
    """What the selector reads of the scene state: frame count, calibration, scene generation."""
    calibration = SimpleNamespace(mean=q_mean[None], abs_mean=abs_mean[None], ready=True)
    return SimpleNamespace(scene=SimpleNamespace(frames=FRAMES), calibration=calibration, scenes_started=1)


def selector_scores(selector: CompressionSelector, keys, q_mean, abs_mean, gate) -> torch.Tensor:
    """The selector's scores of a fresh ring (its kept parts forgotten first), [FRAMES, TOKENS]."""
    selector.reset()
    return selector.scores(0, OneRing(keys), scene_at_frame_21(q_mean, abs_mean), gate)[0]


@torch.no_grad()
def compare(rings: int, seed: int = 0) -> dict:
    distances = torch.arange(FRAMES, 0, -1)
    rotations = phase_rotations(distances, OFFSETS, HEAD_DIM, "cpu")
    selector = one_layer_selector()
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
        split = selector_scores(selector, keys, q_mean, abs_mean, gate)
        worst = max(worst, (full - split).abs().max().item())
        a, b = (select_top(s, 3 * TOKENS, blocked) for s in (full, split))
        if not torch.equal(a, b):
            differing.append({"ring": ring, "tokens_differing": len(set(a.tolist()) ^ set(b.tolist())) // 2})
    return {"benchmark": "score_equivalence", "date": time.strftime("%Y-%m-%d"), "machine": machine(),
            "rings": rings, "shape": [FRAMES, TOKENS, HEADS, HEAD_DIM], "selected_per_ring": 3 * TOKENS,
            "scorer": "CompressionSelector.scores (kept magnitude terms and phase rows)",
            "max_abs_score_difference": worst, "selections_differing": differing,
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rings", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.rings < 1:
        ap.error(f"--rings must be at least 1, got {args.rings}")
    torch.set_num_threads(1)
    result = compare(args.rings)
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
