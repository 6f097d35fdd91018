"""The compression selector of the Echo-Forcing memory (notes §3.3): per layer, once per steady
block on its first (noisy) pass, the top C frames' worth of history tokens of the ring by drift-gated
phase score, put in chronological order; they fill the compressed slots of the context."""
from __future__ import annotations

import torch

from ..engine.memory_api import CacheGeometry
from ..engine.rope import grid_positions
from .compression import as_pairs, drift_gate, phase_rotations, phase_scores, select_top
from .config import EchoConfig
from .echo_storage import EchoStorage
from .scene_state import SceneState


class CompressionSelector:
    def __init__(self, config: EchoConfig, geometry: CacheGeometry, window: int):
        self.config, self.geometry, self.window = config, geometry, window
        self._tables: tuple | None = None  # (scene frames n, tables): the same for every layer of a block

    def tables(self, n: int) -> dict:
        """Index tables of the ring at scene frame n (built once per block, not per layer)."""
        if self._tables is not None and self._tables[0] == n:
            return self._tables[1]
        cfg, g, W, t = self.config, self.geometry, self.window, self.geometry.frame_tokens
        slot_frames = [n - W + ((s - (n - W)) % W) for s in range(W)]  # frame held by each ring slot
        distances = torch.tensor([n - f for f in slot_frames])
        recent = torch.tensor([f >= n - cfg.recent_frames for f in slot_frames], device=g.device)
        order = torch.tensor([(f - (n - W)) * t for f in slot_frames], device=g.device)
        tables = {
            "distances": distances,
            "rotations": phase_rotations(distances, cfg.future_offsets, g.head_dim, g.device),
            "recent": recent.repeat_interleave(t),
            "chrono": (order[:, None] + torch.arange(t, device=g.device)).flatten(),  # chronological rank
        }
        self._tables = (n, tables)
        return tables

    def select(self, i: int, q: torch.Tensor, storage: EchoStorage, scenes: SceneState):
        """(selected ring token indices, drift gate, this layer's key rotary or None) of layer i.

        The ring is scored where it lies (slot order); the recent frames and tokens already reused
        `max_reuse` times are excluded. Nothing is written here: `count_reuse` runs at commit.
        """
        cfg, g = self.config, self.geometry
        t, W = g.frame_tokens, self.window
        tables = self.tables(scenes.scene.frames)
        cal = scenes.calibration
        gate = 1.0
        if cfg.use_drift_gate and cfg.use_magnitude_compensation:
            gate = drift_gate(as_pairs(q).mean(dim=(0, 1)), cal.mean[i], cfg.drift_lambda)
        blocked = (scenes.reuse[i] >= cfg.max_reuse) | tables["recent"]
        samples = range(g.batch) if cfg.per_sample_selection else range(1)
        picks = []
        for b in samples:
            keys = storage.ring_keys(i)[b].view(W, t, g.num_heads, g.head_dim)
            scores = phase_scores(keys, tables["distances"], cal.mean[i], cal.abs_mean[i], gate, cfg.future_offsets,
                                  cfg.fusion, cfg.use_magnitude_compensation, rotations=tables["rotations"])
            chosen = select_top(scores, cfg.compressed_frames * t, blocked)
            picks.append(chosen[tables["chrono"][chosen].argsort()])
        selected = picks[0] if len(picks) == 1 else torch.stack(picks)
        rotary = None
        if cfg.true_spatial_ids:
            pos = grid_positions(list(range(W)), g.grid_h, g.grid_w)
            a_end = cfg.anchor_frames * t
            spatial = picks[0].cpu() % t  # one set of ids, shared by the samples
            pos[a_end:a_end + len(spatial), 1] = spatial // g.grid_w
            pos[a_end:a_end + len(spatial), 2] = spatial % g.grid_w
            rotary = g.rotary.rotary(pos, g.device)
        return selected, gate, rotary


def count_reuse(reuse: torch.Tensor, selected: torch.Tensor) -> None:
    """One more use for each selected ring token ([C*T], or [B, C*T] with per-sample selection)."""
    for chosen in (selected if selected.dim() == 2 else [selected]):
        reuse.index_add_(0, chosen, torch.ones_like(chosen, dtype=torch.int32))
