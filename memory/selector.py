"""The compression selector of the Echo-Forcing memory (notes §3.3): per layer, once per steady
block on its first (noisy) pass, the top C frames' worth of history tokens of the ring by drift-gated
phase score, put in chronological order; they fill the compressed slots of the context.

With the default fusion (mean over offsets and heads) the score is taken apart and its parts are kept
per stored frame, so that in the steady state a block reads the keys of its 3 new frames only:
  - the magnitude compensation depends on a key and the scene's calibration only: one float per token;
  - the phase part is one dot product per token with a weight that depends on the frame's temporal
    distance D, and D grows by one block per block: when a frame is first scored, its phase part is
    computed for every distance <= W of its class D mod block (ceil(W / block) of them: the ones it will
    have in the ring, and any it had already when it is scored late, after a load).
Both are scratch, rebuilt after a load; at a scene's first steady block, and after a load, every ring
frame is new and scored at once. Fusion "max" is not linear and scores every token with `phase_scores`
each block."""
from __future__ import annotations

import torch

from ..engine.memory_api import CacheGeometry
from ..engine.rope import grid_positions
from .compression import (as_pairs, drift_gate, magnitude_term, mean_phase_rows, mean_phase_weight, phase_rotations,
                          phase_scores, select_top)
from .config import EchoConfig
from .echo_storage import EchoStorage, slot_runs
from .scene_state import SceneState


class CompressionSelector:
    def __init__(self, config: EchoConfig, geometry: CacheGeometry, window: int):
        self.config, self.geometry, self.window = config, geometry, window
        self._tables: tuple | None = None  # (scene frames n, tables): the same for every layer of a block
        samples = geometry.batch if config.per_sample_selection else 1
        t, block, L = geometry.frame_tokens, geometry.frames_per_block, geometry.num_layers
        kept = config.fusion == "sum"
        self.distances_kept = -(-window // block)  # phase parts kept per token: one per distance of its class
        distances = torch.arange(1, self.distances_kept * block + 1)
        # kept score parts of each ring token, per layer and sample (what they were computed for, the scene
        # generation and frame number per ring slot and layer, is in `_kept_for`)
        self._magnitude = torch.zeros(L, samples, window, t, device=geometry.device) \
            if kept and config.use_magnitude_compensation else None
        self._phase = torch.zeros(L, samples, window, self.distances_kept, t, device=geometry.device) if kept else None
        # each layer's phase weight for distances 1, 2, ... (row d - 1: distance d), from the scene's calibrated
        # query means (`_weights_of`: the tensor they were made from), and the rotations they need
        self._weights = torch.zeros(L, len(distances), geometry.num_heads * geometry.head_dim,
                                    device=geometry.device) if kept else None
        self._mean_rotation = phase_rotations(distances, config.future_offsets, geometry.head_dim,
                                              geometry.device).mean(dim=1)
        self.reset()

    def reset(self) -> None:
        """Forget the kept score parts (the ring was loaded or rewound)."""
        self._kept_for = [[None] * self.window for _ in range(self.geometry.num_layers)]
        self._weights_of = None

    def forget(self, i: int, slots) -> None:
        """Layer i's ring `slots` are being overwritten: their kept terms no longer hold (a block cut short
        in its write pass leaves new keys there under the old frame numbers)."""
        for slot in slots:
            self._kept_for[i][slot] = None

    def tensors(self) -> dict[str, torch.Tensor]:
        kept = {"magnitude": self._magnitude, "phase": self._phase, "phase_weights": self._weights}
        return {name: tensor for name, tensor in kept.items() if tensor is not None}

    def tables(self, n: int) -> dict:
        """Index tables of the ring at scene frame n (built once per block, not per layer)."""
        if self._tables is not None and self._tables[0] == n:
            return self._tables[1]
        cfg, g, W, t = self.config, self.geometry, self.window, self.geometry.frame_tokens
        block = g.frames_per_block
        slot_frames = [n - W + ((s - (n - W)) % W) for s in range(W)]  # frame held by each ring slot
        distances = torch.tensor([n - f for f in slot_frames])
        recent = torch.tensor([f >= n - cfg.recent_frames for f in slot_frames], device=g.device)
        order = torch.tensor([(f - (n - W)) * t for f in slot_frames], device=g.device)
        rotations = phase_rotations(distances, cfg.future_offsets, g.head_dim, g.device)
        tables = {
            "slot_frames": slot_frames,
            "distances": distances,
            "rotations": rotations,
            "slots": torch.arange(W, device=g.device),
            "kept_index": ((distances - 1) // block).to(g.device),  # which kept phase part is this block's
            # the distances each slot's frame has now and will have, as rows of the weight table
            "weight_rows": ((distances[:, None] - 1) % block + block * torch.arange(self.distances_kept)).to(g.device),
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
        picks = []
        for scores in self.scores(i, storage, scenes, gate):
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

    def scores(self, i: int, storage: EchoStorage, scenes: SceneState, gate) -> torch.Tensor:
        """Layer i's score of every ring token at the current scene frame, [samples, W, T] (slot order)."""
        cfg, g, W = self.config, self.geometry, self.window
        tables, cal = self.tables(scenes.scene.frames), scenes.calibration
        samples = g.batch if cfg.per_sample_selection else 1
        if cfg.fusion != "sum":
            ring = storage.ring_keys(i)[:samples].view(samples, W, g.frame_tokens, g.num_heads, g.head_dim)
            return torch.stack([phase_scores(keys, tables["distances"], cal.mean[i], cal.abs_mean[i], gate,
                                             cfg.future_offsets, cfg.fusion, cfg.use_magnitude_compensation,
                                             rotations=tables["rotations"]) for keys in ring])
        if not cal.ready:
            raise AssertionError("scored before the scene's calibration is done")  # a steady block needs it
        self._keep_terms(i, storage, cal, tables, scenes.scenes_started, samples)
        phase = self._phase[i][:, tables["slots"], tables["kept_index"]]  # the parts of this block's distances
        return phase + gate * self._magnitude[i] if cfg.use_magnitude_compensation else phase

    def _phase_weights(self, cal) -> torch.Tensor:
        """Every layer's phase weights for distances 1, 2, ..., [L, distances, H*D]: made once per calibration,
        i.e. per scene."""
        if self._weights_of is not cal.mean:
            self._weights.copy_(mean_phase_weight(cal.mean, self._mean_rotation))
            self._weights_of = cal.mean
        return self._weights

    def _keep_terms(self, i: int, storage: EchoStorage, cal, tables: dict, generation: int, samples: int) -> None:
        """Layer i's kept score parts for the ring slots whose frame is new since they were computed (in the
        steady state: the block of frames written by the last block). Reads those frames' keys only."""
        held = [(generation, f) for f in tables["slot_frames"]]
        known = self._kept_for[i]
        stale = [s for s in range(self.window) if known[s] != held[s]]
        if not stale:
            return
        g, t = self.geometry, self.geometry.frame_tokens
        runs = slot_runs(stale)
        if len(runs) == 1:  # the usual case, one run of slots: slices
            first, _, count = runs[0]
            where = slice(first, first + count)
            keys = storage.ring_keys(i, first * t, (first + count) * t)[:samples]
            keys = keys.reshape(samples, len(stale), t, g.num_heads, g.head_dim)
        else:
            where = torch.tensor(stale, device=self._phase.device)
            keys = storage.ring_keys(i)[:samples].view(samples, self.window, t, g.num_heads, g.head_dim)
            keys = keys.index_select(1, where)
        frames = keys.flatten(0, 1)  # [samples * stale, T, H, D]
        if self.config.use_magnitude_compensation:
            magnitude = magnitude_term(frames, cal.mean[i], cal.abs_mean[i])
            self._magnitude[i, :, where] = magnitude.view(samples, len(stale), t)
        weights = self._phase_weights(cal)[i]  # row d - 1: distance d
        rows = tables["weight_rows"][where]  # [stale, distances kept]
        per_frame = weights[rows if samples == 1 else rows.repeat(samples, 1)]  # [samples * stale, kept, H*D]
        phase = mean_phase_rows(frames, per_frame)
        self._phase[i, :, where] = phase.view(samples, len(stale), self.distances_kept, t)
        for s in stale:
            known[s] = held[s]


def count_reuse(reuse: torch.Tensor, selected: torch.Tensor) -> None:
    """One more use for each selected ring token ([C*T], or [B, C*T] with per-sample selection)."""
    for chosen in (selected if selected.dim() == 2 else [selected]):
        reuse.index_add_(0, chosen, torch.ones_like(chosen, dtype=torch.int32))
