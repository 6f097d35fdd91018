"""Transitions of the Echo-Forcing memory (notes §4.3, §5, §6): finish a scene into the scene pool,
choose the old-scene memory a new scene starts with (smooth, cut, recall, auto), stage it, and let it
decay until it is evicted.

The planner owns the scene pool (one recall frame per past scene), the smooth chain's anchor, the
staged old memory (frames, weights, decay rates, its mode) and the RoPE jump of a scene's first block.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from ..engine.memory_api import BlockEvent, CacheGeometry
from ..engine.state import require, tensor_or_none
from ..engine.transitions import MODES, SWITCHES
from .config import EchoConfig, ModeSettings
from .decay import difference_rates
from .echo_storage import EchoStorage
from .scene_pool import PoolEntry, ScenePool, recall_frame, recall_jump
from .scene_state import Scene, SceneState, event_feature


@dataclass
class OldMemory:
    """The previous scene's memory staged in the last `frames` ring slots of a young scene."""

    frames: int = 0  # o
    blocks: int = 0  # blocks generated with it so far
    weights: torch.Tensor | None = None  # [L, T] or [L, B, T]
    rates: torch.Tensor | None = None  # per-block decay of the weights, same shape
    mode: str | None = None  # the transition mode that staged it
    scene: int | None = None  # the scene whose recall frame is staged, if any


class TransitionPlanner:
    def __init__(self, config: EchoConfig, geometry: CacheGeometry, window: int):
        self.config, self.geometry, self.window = config, geometry, window
        self.pool = ScenePool(config.pool_size)
        self.chain_anchor: PoolEntry | None = None
        self.old = OldMemory()
        self.jump = 0
        self.pool_device = geometry.device if config.pool_device == "same" else torch.device(config.pool_device)

    @property
    def mode(self) -> ModeSettings | None:
        return None if self.old.mode is None else self.config.modes[self.old.mode]

    # ------------------------------------------------------------------ switching
    def switch(self, event: BlockEvent, scenes: SceneState, storage: EchoStorage) -> None:
        """End the current scene and begin the event's, staging the chosen old-scene memory."""
        cfg, g = self.config, self.geometry
        t = g.frame_tokens
        finished = self.finish_scene(scenes, storage)
        given = event_feature(event)
        feature = finished.feature if given is None else given
        mode_name = event.transition or cfg.default_transition
        recall_target = event.extras.get("recall")
        if mode_name == "auto":
            mode_name, recall_target = self.auto_mode(feature, finished)
        if mode_name not in MODES:
            raise EchoError(f"unknown transition {mode_name!r}; use one of {SWITCHES}")
        mode = cfg.modes[mode_name]
        if mode_name == "smooth":
            source = self.chain_anchor or self.pool.latest()
        elif mode_name == "cut":
            source = self.pool.latest()
        elif recall_target is not None:
            source = self.pool.find(recall_target)
        else:
            source, _ = self.pool.best_match(feature)
        if mode_name != "smooth":
            self.chain_anchor = None  # the next registered scene starts a new smooth chain
        prev = scenes.scene
        n_recent = min(mode.old_recent_frames, prev.frames)
        used = mode.use_old_memory and source is not None
        o = used + n_recent
        if o + g.frames_per_block > self.window:
            raise EchoError(f"{o} staged frames leave no room for a block in a {self.window}-frame window")
        storage.stage_old((source.k, source.v) if used else None,
                          [storage.slot(f) for f in range(prev.frames - n_recent, prev.frames)])
        scenes.begin(Scene(scenes.index_for(event), event.extras.get("label"), given, mode_name))
        shape = (g.num_layers, g.batch, t) if cfg.per_sample_selection else (g.num_layers, t)
        rates = None if mode.decay == "diff" else torch.full(shape, mode.rate_max, device=g.device)
        if mode.decay == "diff" and not used:
            rates = torch.full(shape, mode.rate_max, device=g.device)  # nothing to compare with
        self.old = OldMemory(o, 0, torch.full(shape, mode.first_block_weight, device=g.device), rates, mode_name,
                             source.scene_index if used else None)
        if mode.jump is not None:
            self.jump = mode.jump
        else:
            sims = self.pool.similarities(feature)
            selected = float(source.feature @ feature) if source is not None else 1.0
            self.jump = recall_jump(selected, sims, cfg.recall_jump_max)

    def finish_scene(self, scenes: SceneState, storage: EchoStorage) -> PoolEntry:
        """Build the ending scene's recall frame and put it in the pool."""
        cfg, g = self.config, self.geometry
        scene = scenes.scene
        sources = list(range(0, min(cfg.recall_source_frames, cfg.anchor_frames, scene.frames), cfg.recall_stride))
        q_scene = scenes.query_mean()
        recall = None
        for i in range(g.num_layers):  # one layer's candidates at a time, straight to the pool's device
            k, v = recall_frame(*storage.pool_frames(i, sources), q_scene[i], cfg.recall_base_weight)
            if recall is None:
                recall = tuple(torch.empty((g.num_layers, *x.shape), dtype=x.dtype, device=self.pool_device)
                               for x in (k, v))
            recall[0][i], recall[1][i] = k, v
        feature = scene.feature if scene.feature is not None else torch.zeros(1)
        entry = PoolEntry(scene.index, scene.label, feature, *recall)
        self.pool.add(entry)
        if self.chain_anchor is None:
            self.chain_anchor = entry
        return entry

    def auto_mode(self, feature: torch.Tensor, current: PoolEntry):
        """smooth / cut / recall from prompt similarity (the paper's promise; not in the released code)."""
        cfg = self.config
        s_current = float(current.feature @ feature)
        past, s_past = self.pool.best_match(feature, exclude=current.scene_index)
        if past is not None and s_past >= cfg.auto_recall_similarity and s_past > s_current:
            return "recall", past.scene_index
        return ("smooth" if s_current >= cfg.auto_smooth_similarity else "cut"), None

    # ------------------------------------------------------------------ the staged memory
    def old_scale(self, i: int, context_tokens: int):
        """(key_scale, logit_bias) of layer i: the staged old memory's weights (first o frames of the
        growth context), as a scale of K and V or as a log-weight on the logits."""
        old = self.old
        if not old.frames:
            return None, None
        w = old.weights[i]  # [T] or [B, T]
        staged = w.repeat(*([1] * (w.dim() - 1)), old.frames)
        ones = torch.ones(*staged.shape[:-1], context_tokens - staged.shape[-1], device=staged.device)
        full = torch.cat([staged, ones], dim=-1)
        return (None, full.clamp(min=1e-30).log()) if self.config.decay_as_log_weight else (full, None)

    def measure_rates(self, i: int, k: torch.Tensor, storage: EchoStorage) -> None:
        """Difference-aware decay rates of layer i from the new scene's first clean frame against the
        staged recall frame (first block of a scene, clean pass)."""
        old, mode, g = self.old, self.mode, self.geometry
        if not (old.frames and mode.decay == "diff"):
            return
        t = g.frame_tokens
        first_staged = (self.window - old.frames) * t  # the recall frame
        rates = difference_rates(k[:, :t], storage.ring_keys(i, first_staged, first_staged + t),
                                 mode.rate_min, mode.rate_max, self.config.per_sample_selection)
        if old.rates is None:
            old.rates = torch.empty((g.num_layers, *rates.shape), device=rates.device)
        old.rates[i] = rates

    def end_block(self, scene_frames: int) -> None:
        """Decay the staged memory; evict it after its mode's blocks or when the scene needs the room."""
        self.jump = 0
        old = self.old
        if old.frames:
            old.blocks += 1
            old.weights = old.weights * old.rates
            overflow = old.frames + scene_frames + self.geometry.frames_per_block > self.window
            if old.blocks >= self.mode.clear_after_blocks or overflow:
                old.frames = 0  # evict: ids shift down by o, the ring slots are simply left

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        pool, chain, old = self.pool.entries, self.chain_anchor, self.old
        chain_state = None if chain is None else (
            {"pool_position": next(i for i, e in enumerate(pool) if e is chain)} if any(e is chain for e in pool)
            else {"entry": entry_state(chain)})
        return {"pool": [entry_state(e) for e in pool], "chain_anchor": chain_state,
                "old": {"frames": old.frames, "blocks": old.blocks, "weights": old.weights, "rates": old.rates,
                        "mode": old.mode, "scene": old.scene},
                "jump": self.jump}

    def load_state_dict(self, state: dict, owner: str) -> None:
        device = self.geometry.device
        self.pool = ScenePool(self.config.pool_size)
        self.pool.entries = [entry_from_state(e, self.pool_device) for e in state["pool"]]
        chain = state["chain_anchor"]
        if chain is None:
            self.chain_anchor = None
        elif "pool_position" in chain:
            self.chain_anchor = self.pool.entries[int(chain["pool_position"])]
        else:
            self.chain_anchor = entry_from_state(chain["entry"], self.pool_device)
        old = state["old"]
        require(old, ("frames", "blocks", "weights", "rates", "mode"), owner + " old-scene memory")
        if old["mode"] is not None and old["mode"] not in self.config.modes:
            raise EchoError(f"{owner} state names transition mode {old['mode']!r}, which this memory lacks")
        self.old = OldMemory(int(old["frames"]), int(old["blocks"]), tensor_or_none(old["weights"], device),
                             tensor_or_none(old["rates"], device), old["mode"], old.get("scene"))
        self.jump = int(state["jump"])


def entry_state(entry: PoolEntry) -> dict:
    return {"scene_index": entry.scene_index, "label": entry.label, "feature": entry.feature, "k": entry.k,
            "v": entry.v}


def entry_from_state(state: dict, device) -> PoolEntry:
    require(state, ("scene_index", "label", "feature", "k", "v"), "scene pool entry")
    return PoolEntry(int(state["scene_index"]), state["label"], tensor_or_none(state["feature"], "cpu"),
                     tensor_or_none(state["k"], device), tensor_or_none(state["v"], device))
