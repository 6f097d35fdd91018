"""Scene Recall Frames and the scene pool (notes §5).

At a scene's end, per layer, the candidate frames (scene frames 0, 4, 8 of its first 12) are fused per
spatial position with softmax weights from k . q_scene (mean over heads, no 1/sqrt(d), temperature 1),
then blended with the scene's first frame: rec = beta * K0 + (1 - beta) * sum_c w_c K_c (same for V).
The pool keeps one such frame per scene, with the scene's prompt feature and label.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.errors import EchoError


def prompt_feature(conditioning: torch.Tensor) -> torch.Tensor:
    """Mean of the non-padding rows of [B, L, C] text embeddings (batch 0), L2-normalised, on CPU."""
    rows = conditioning[0].float().cpu()
    real = rows[rows.abs().sum(dim=-1) > 0]
    vec = (real if len(real) else rows).mean(dim=0)
    return vec / vec.norm().clamp(min=1e-12)


def recall_frame(k_frames: torch.Tensor, v_frames: torch.Tensor, q_scene: torch.Tensor, base_weight: float):
    """k/v_frames [C, B, T, H, D] candidates (index 0 = the scene's first frame); q_scene [H, D].

    Returns (k, v) [B, T, H, D]: base_weight * frame 0 + (1 - base_weight) * softmax-fused candidates.
    """
    scores = torch.einsum("cbthd,hd->cbt", k_frames.float(), q_scene.float()) / q_scene.shape[0]
    weights = scores.softmax(dim=0)[..., None, None]  # over candidates, per spatial position
    fused_k = (weights * k_frames.float()).sum(dim=0)
    fused_v = (weights * v_frames.float()).sum(dim=0)
    k = base_weight * k_frames[0].float() + (1 - base_weight) * fused_k
    v = base_weight * v_frames[0].float() + (1 - base_weight) * fused_v
    return k.to(k_frames.dtype), v.to(v_frames.dtype)


@dataclass
class PoolEntry:
    scene_index: int
    label: str | None
    feature: torch.Tensor  # [C] unit vector (CPU)
    k: torch.Tensor  # [L, B, T, H, D] recall frame of every layer
    v: torch.Tensor


class ScenePool:
    """FIFO-capped list of past scenes' recall frames."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.entries: list[PoolEntry] = []

    def add(self, entry: PoolEntry) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.capacity:
            self.entries.pop(0)

    def latest(self) -> PoolEntry | None:
        return self.entries[-1] if self.entries else None

    def similarities(self, feature: torch.Tensor) -> torch.Tensor:
        if not self.entries:
            return torch.zeros(0)
        return torch.stack([e.feature for e in self.entries]) @ feature

    def find(self, target) -> PoolEntry:
        """An entry by label (str) or by scene index (int, 0-based)."""
        for entry in reversed(self.entries):
            if (isinstance(target, str) and entry.label == target) or (
                    not isinstance(target, str) and entry.scene_index == int(target)):
                return entry
        known = [e.label if e.label is not None else e.scene_index for e in self.entries]
        raise EchoError(
            f"cannot recall scene {target!r}: the scene pool holds {known or 'no scenes yet'}; "
            f"name one of those by label or 0-based index, or recall by similarity"
        )

    def best_match(self, feature: torch.Tensor, exclude: int | None = None) -> tuple[PoolEntry | None, float]:
        sims = self.similarities(feature)
        best, best_sim = None, float("-inf")
        for entry, sim in zip(self.entries, sims.tolist()):
            if entry.scene_index != exclude and sim > best_sim:
                best, best_sim = entry, sim
        return best, best_sim

    def nbytes(self) -> int:
        return sum(e.k.numel() * e.k.element_size() * 2 for e in self.entries)


def recall_jump(selected_similarity: float, all_similarities: torch.Tensor, max_jump: int) -> int:
    """J = round(max_jump * g), g = (1 - s_sel) / sum_c (1 - s_c), clipped to [0, 1] (notes §4.3)."""
    if len(all_similarities) <= 1:
        return max_jump
    total = float((1 - all_similarities).sum())
    g = 1.0 if total < 1e-8 else min(max((1 - selected_similarity) / total, 0.0), 1.0)
    return int(round(g * max_jump))
