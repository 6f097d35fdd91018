"""The compression selector of the Echo-Forcing memory (notes §3.3): per layer, once per steady
block on its first (noisy) pass, the top C frames' worth of history tokens of the ring by drift-gated
phase score, put in chronological order; they fill the compressed slots of the context.

With the default fusion (mean over offsets and heads) the score is taken apart: the magnitude
compensation of a token depends on its key and the scene's calibration only, so it is computed once
per stored frame and kept (one float per token and layer, scratch: rebuilt after a load); the phase
part is one dot product per token with a weight made once per block and layer. Fusion "max" is not
linear and scores every token with `phase_scores` each block."""
from __future__ import annotations

import torch

from ..engine.memory_api import CacheGeometry
from ..engine.rope import grid_positions
from .compression import (as_pairs, drift_gate, magnitude_term, mean_phase_scores, mean_phase_weight,
                          phase_rotations, phase_scores, select_top)
from .config import EchoConfig
from .echo_storage import EchoStorage
from .scene_state import SceneState


class CompressionSelector:
    def __init__(self, config: EchoConfig, geometry: CacheGeometry, window: int):
        self.config, self.geometry, self.window = config, geometry, window
        self._tables: tuple | None = None  # (scene frames n, tables): the same for every layer of a block
        samples = geometry.batch if config.per_sample_selection else 1
        t = geometry.frame_tokens
        # magnitude term of each ring token, per layer and sample, and what it was computed for:
        # (scene generation, frame) per ring slot and layer
        self._magnitude = torch.zeros(geometry.num_layers, samples, window, t, device=geometry.device)
        self.reset()

    def reset(self) -> None:
        """Forget the kept magnitude terms (the ring was loaded or rewound)."""
        self._magnitude_of = [[None] * self.window for _ in range(self.geometry.num_layers)]

    def forget(self, i: int, slots) -> None:
        """Layer i's ring `slots` are being overwritten: their kept terms no longer hold (a block cut short
        in its write pass leaves new keys there under the old frame numbers)."""
        for slot in slots:
            self._magnitude_of[i][slot] = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"magnitude": self._magnitude}

    def tables(self, n: int) -> dict:
        """Index tables of the ring at scene frame n (built once per block, not per layer)."""
        if self._tables is not None and self._tables[0] == n:
            return self._tables[1]
        cfg, g, W, t = self.config, self.geometry, self.window, self.geometry.frame_tokens
        slot_frames = [n - W + ((s - (n - W)) % W) for s in range(W)]  # frame held by each ring slot
        distances = torch.tensor([n - f for f in slot_frames])
        recent = torch.tensor([f >= n - cfg.recent_frames for f in slot_frames], device=g.device)
        order = torch.tensor([(f - (n - W)) * t for f in slot_frames], device=g.device)
        rotations = phase_rotations(distances, cfg.future_offsets, g.head_dim, g.device)
        tables = {
            "slot_frames": slot_frames,
            "distances": distances,
            "rotations": rotations,
            "mean_rotation": rotations.mean(dim=1),
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
        samples = g.batch if cfg.per_sample_selection else 1
        ring = storage.ring_keys(i)[:samples].view(samples, W, t, g.num_heads, g.head_dim)
        if cfg.fusion == "sum":
            weight = mean_phase_weight(cal.mean[i], tables["mean_rotation"])
            magnitude = self._magnitudes(i, ring, cal, tables, scenes.scenes_started) \
                if cfg.use_magnitude_compensation else None
        picks = []
        for b in range(samples):
            if cfg.fusion == "sum":
                scores = mean_phase_scores(ring[b], weight, None if magnitude is None else magnitude[b], gate)
            else:
                scores = phase_scores(ring[b], tables["distances"], cal.mean[i], cal.abs_mean[i], gate,
                                      cfg.future_offsets, cfg.fusion, cfg.use_magnitude_compensation,
                                      rotations=tables["rotations"])
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

    def _magnitudes(self, i: int, ring: torch.Tensor, cal, tables: dict, generation: int) -> torch.Tensor:
        """Layer i's magnitude terms [samples, W, T], computed for the ring slots whose frame is new since
        the last block (in the steady state: the block of frames that just left the recent window)."""
        held = [(generation, f) for f in tables["slot_frames"]]
        known = self._magnitude_of[i]
        stale = [s for s in range(self.window) if known[s] != held[s]]
        if stale:
            index = torch.tensor(stale, device=ring.device)
            keys = ring.index_select(1, index)  # [samples, stale, T, H, D]
            fresh = magnitude_term(keys.flatten(0, 1), cal.mean[i], cal.abs_mean[i])
            self._magnitude[i, :, index] = fresh.view(keys.shape[0], len(stale), -1)
            for s in stale:
                known[s] = held[s]
        return self._magnitude[i]


def count_reuse(reuse: torch.Tensor, selected: torch.Tensor) -> None:
    """One more use for each selected ring token ([C*T], or [B, C*T] with per-sample selection)."""
    for chosen in (selected if selected.dim() == 2 else [selected]):
        reuse.index_add_(0, chosen, torch.ones_like(chosen, dtype=torch.int32))
