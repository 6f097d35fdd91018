"""The Echo-Forcing scene memory: preserve, recall, forget — under a fixed budget.

Attention set of a block (window W = 21 frames by default), ids by slot (notes §3.1, §4):
  growth  (scene-local frames n + block <= W):  [staged old memory o | scene frames 0..n-1 | block]
          ids 0..o-1 | o..o+n-1 | o+n.. (+ the RoPE jump on the block's keys and queries, first block)
  steady  [12 rolling anchors | 3 frames of compressed tokens | 3 recent | block]  ids 0..20

Storage, per layer, all layers in one tensor each (nothing is stored twice):
  ring  - the scene's last W clean frames, scene frame f in slot f % W; after a switch the staged
          old-scene memory (o <= 3 frames) waits in the last o slots, which the young scene cannot
          reach before that memory is evicted;
  pool  - the scene's first A = 12 clean frames: the anchor pool and the recall-frame candidates;
  work  - ONE layer's assembled context (steady state), reused by every layer in turn.
Anchors and compressed tokens are gathered from pool and ring when a layer attends; in growth the
context is a plain view of the ring (assembled only while old memory is staged). The released code keeps ~25 GB for 1.3B at 832x480; this keeps
W + A frames plus one layer's window (see `bench/memory_bench.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from ..engine.memory_api import AttentionContext, BlockEvent, CacheGeometry, LayerMemory, MemoryPolicy
from ..engine.rope import grid_positions
from ..engine.state import copy_into, require, tensor_or_none
from .anchors import roll_anchors
from .compression import QueryCalibration, as_pairs, drift_gate, phase_scores, select_top
from .config import TRANSITIONS, EchoConfig, ModeSettings
from .decay import difference_rates
from .scene_pool import PoolEntry, ScenePool, prompt_feature, recall_frame, recall_jump


@dataclass
class Scene:
    index: int
    label: str | None
    feature: torch.Tensor | None  # prompt feature (unit vector, CPU) for recall by similarity
    transition: str | None  # how the scene began
    frames: int = 0  # committed frames n


def event_feature(event: BlockEvent) -> torch.Tensor | None:
    """The scene's prompt feature: the caller's when given, else the mean-pooled conditioning."""
    if event.prompt_feature is not None:
        vec = event.prompt_feature.detach().float().cpu().flatten()
        return vec / vec.norm().clamp(min=1e-12)
    return None if event.conditioning is None else prompt_feature(event.conditioning)


def entry_state(entry: PoolEntry) -> dict:
    return {"scene_index": entry.scene_index, "label": entry.label, "feature": entry.feature, "k": entry.k,
            "v": entry.v}


def entry_from_state(state: dict, device) -> PoolEntry:
    require(state, ("scene_index", "label", "feature", "k", "v"), "scene pool entry")
    return PoolEntry(int(state["scene_index"]), state["label"], tensor_or_none(state["feature"], "cpu"),
                     tensor_or_none(state["k"], device), tensor_or_none(state["v"], device))


class _EchoLayer(LayerMemory):
    def __init__(self, memory: "EchoForcingMemory", index: int):
        self.memory, self.index = memory, index

    def context(self, q, k, v) -> AttentionContext:
        return self.memory._context(self.index, q, k, v)

    def commit(self, q, k, v) -> None:
        self.memory._commit(self.index, q, k, v)


class EchoForcingMemory(MemoryPolicy):
    def __init__(self, config: EchoConfig | None = None):
        self.config = config or EchoConfig()
        self.geometry = None

    # ================================================================== setup
    def setup(self, geometry: CacheGeometry) -> None:
        cfg, g = self.config, geometry
        self.geometry = g
        self.block = fpb = g.frames_per_block
        self.window = cfg.window_frames(fpb)
        if cfg.anchor_frames % fpb:
            raise EchoError(f"anchor_frames ({cfg.anchor_frames}) must be a multiple of the block ({fpb} frames)")
        t, L, B = g.frame_tokens, g.num_layers, g.batch
        kv = (g.num_heads, g.head_dim)
        alloc = lambda *shape: torch.zeros(shape, dtype=g.dtype, device=g.device)  # noqa: E731
        self.ring_k, self.ring_v = alloc(L, B, self.window * t, *kv), alloc(L, B, self.window * t, *kv)
        self.pool_k = alloc(L, B, cfg.anchor_frames * t, *kv)
        self.pool_v = alloc(L, B, cfg.anchor_frames * t, *kv)
        self.work_k, self.work_v = alloc(B, self.window * t, *kv), alloc(B, self.window * t, *kv)
        self.reuse = torch.zeros(L, self.window * t, dtype=torch.int32, device=g.device)
        self.calibration = QueryCalibration(L, g.num_heads, g.head_dim, g.device)
        self.q_scene_sum = torch.zeros(L, g.num_heads, g.head_dim, dtype=torch.float32, device=g.device)
        self.q_scene_count = 0
        self.pool = ScenePool(cfg.pool_size)
        self.chain_anchor: PoolEntry | None = None
        self.scene: Scene | None = None
        self.scenes_started = 0
        self.anchor_ids: list[int] | None = None
        self._anchors_before: list[int] | None = None
        self._rolled_for: tuple | None = None
        self.old_frames = 0  # o: staged old-memory frames in the context
        self.old_blocks = 0
        self.old_weights: torch.Tensor | None = None  # [L, T] or [L, B, T]
        self.old_rates: torch.Tensor | None = None
        self.mode: ModeSettings | None = None
        self.mode_name: str | None = None
        self.jump = 0
        self._layers = [_EchoLayer(self, i) for i in range(L)]
        self._steady_keys = self._rotary(list(range(self.window)))
        self._steady_query = self._rotary(list(range(self.window - fpb, self.window)))
        self.history: list[dict] = []  # per-block layout record (for inspection, charts, tests)

    def _rotary(self, frame_ids, positions: torch.Tensor | None = None):
        g = self.geometry
        pos = grid_positions(frame_ids, g.grid_h, g.grid_w) if positions is None else positions
        return g.rotary.rotary(pos, g.device)

    def layer(self, index: int) -> LayerMemory:
        return self._layers[index]

    def tensors(self) -> dict[str, torch.Tensor]:
        if self.geometry is None:
            return {}
        return {"ring_k": self.ring_k, "ring_v": self.ring_v, "pool_k": self.pool_k, "pool_v": self.pool_v,
                "work_k": self.work_k, "work_v": self.work_v, "reuse": self.reuse,
                "calib_sum": self.calibration.sum, "calib_abs_sum": self.calibration.abs_sum,
                "q_scene_sum": self.q_scene_sum}

    def pool_nbytes(self) -> int:
        """Bytes of the recall frames waiting in the scene pool (on `pool_device`)."""
        return self.pool.nbytes() if self.geometry is not None else 0

    # ================================================================== state
    def state_dict(self) -> dict:
        scene, cal = self.scene, self.calibration
        pool = self.pool.entries
        chain = self.chain_anchor
        chain_state = None if chain is None else (
            {"pool_position": next(i for i, e in enumerate(pool) if e is chain)} if any(e is chain for e in pool)
            else {"entry": entry_state(chain)})
        return {
            "ring_k": self.ring_k, "ring_v": self.ring_v, "pool_k": self.pool_k, "pool_v": self.pool_v,
            "reuse": self.reuse,
            "calibration": {"sum": cal.sum, "abs_sum": cal.abs_sum, "count": cal.count, "mean": cal.mean,
                            "abs_mean": cal.abs_mean},
            "q_scene_sum": self.q_scene_sum, "q_scene_count": self.q_scene_count,
            "scene": None if scene is None else {"index": scene.index, "label": scene.label,
                                                 "feature": scene.feature, "transition": scene.transition,
                                                 "frames": scene.frames},
            "scenes_started": self.scenes_started,
            "pool": [entry_state(e) for e in pool],
            "chain_anchor": chain_state,
            "anchor_ids": self.anchor_ids, "anchors_before": self._anchors_before,
            "rolled_for": None if self._rolled_for is None else list(self._rolled_for),
            "old": {"frames": self.old_frames, "blocks": self.old_blocks, "weights": self.old_weights,
                    "rates": self.old_rates, "mode": self.mode_name},
            "jump": self.jump,
        }

    def load_state_dict(self, state: dict) -> None:
        owner = "echo_forcing memory"
        require(state, ("ring_k", "ring_v", "pool_k", "pool_v", "reuse", "calibration", "q_scene_sum",
                        "q_scene_count", "scene", "scenes_started", "pool", "chain_anchor", "anchor_ids",
                        "anchors_before", "rolled_for", "old", "jump"), owner)
        g, cfg = self.geometry, self.config
        for name in ("ring_k", "ring_v", "pool_k", "pool_v", "reuse", "q_scene_sum"):
            copy_into(getattr(self, name), state[name], name, owner)
        cal, saved = self.calibration, state["calibration"]
        require(saved, ("sum", "abs_sum", "count", "mean", "abs_mean"), owner + " calibration")
        for name in ("sum", "abs_sum", "count"):
            copy_into(getattr(cal, name), saved[name], f"calibration.{name}", owner)
        cal.mean = tensor_or_none(saved["mean"], g.device)
        cal.abs_mean = tensor_or_none(saved["abs_mean"], g.device)
        self.q_scene_count = int(state["q_scene_count"])
        scene = state["scene"]
        self.scene = None if scene is None else Scene(int(scene["index"]), scene["label"],
                                                      tensor_or_none(scene["feature"], "cpu"), scene["transition"],
                                                      int(scene["frames"]))
        self.scenes_started = int(state["scenes_started"])
        pool_device = g.device if cfg.pool_device == "same" else torch.device(cfg.pool_device)
        self.pool = ScenePool(cfg.pool_size)
        self.pool.entries = [entry_from_state(e, pool_device) for e in state["pool"]]
        chain = state["chain_anchor"]
        if chain is None:
            self.chain_anchor = None
        elif "pool_position" in chain:
            self.chain_anchor = self.pool.entries[int(chain["pool_position"])]
        else:
            self.chain_anchor = entry_from_state(chain["entry"], pool_device)
        self.anchor_ids = None if state["anchor_ids"] is None else [int(a) for a in state["anchor_ids"]]
        before = state["anchors_before"]
        self._anchors_before = None if before is None else [int(a) for a in before]
        self._rolled_for = None if state["rolled_for"] is None else tuple(state["rolled_for"])
        old = state["old"]
        require(old, ("frames", "blocks", "weights", "rates", "mode"), owner + " old-scene memory")
        self.old_frames, self.old_blocks = int(old["frames"]), int(old["blocks"])
        self.old_weights = tensor_or_none(old["weights"], g.device)
        self.old_rates = tensor_or_none(old["rates"], g.device)
        self.mode_name = old["mode"]
        if self.mode_name is not None and self.mode_name not in cfg.modes:
            raise EchoError(f"{owner} state names transition mode {self.mode_name!r}, which this memory lacks")
        self.mode = None if self.mode_name is None else cfg.modes[self.mode_name]
        self.jump = int(state["jump"])

    # ================================================================== block lifecycle
    def begin_block(self, event: BlockEvent) -> None:
        switching = event.transition is not None or event.prompt_changed
        if self.scene is None or (switching and self.scene.frames == 0):
            self._start_first_scene(event)
        elif switching:
            self._switch(event)
        scene, t = self.scene, self.geometry.frame_tokens
        n, fpb, W = scene.frames, self.block, self.window
        self.steady = n + fpb > W
        self._select_pending = [self.steady] * self.geometry.num_layers
        self._scales: dict[int, tuple] = {}
        if self.steady:
            if self._rolled_for != (scene.index, n):  # a block run again after an interruption rolls once
                self._anchors_before = self.anchor_ids
                self._rolled_for = (scene.index, n)
            self.anchor_ids = roll_anchors(self._anchors_before, n, W, self.config.anchor_frames, fpb)
            self._frame_sources = [("pool", a) for a in self.anchor_ids] + [
                ("ring", self._slot(f)) for f in range(n - self.config.recent_frames, n)]
            self._key_rotary, self._query_rotary = self._steady_keys, self._steady_query
            self._selected: list = [None] * self.geometry.num_layers
            self._layer_rotary: list = [None] * self.geometry.num_layers
            key_ids = list(range(W))
            query_ids = key_ids[-fpb:]
        else:
            o = self.old_frames
            key_ids = list(range(o + n)) + [o + n + j + self.jump for j in range(fpb)]
            query_ids = key_ids[-fpb:]
            self._key_rotary, self._query_rotary = self._rotary(key_ids), self._rotary(query_ids)
        self._block_slots = [self._slot(f) for f in range(n, n + fpb)]
        self.history.append({
            "block": event.index, "scene": scene.index, "label": scene.label, "transition": scene.transition
            if n == 0 else None, "phase": "steady" if self.steady else "growth",
            "key_frame_ids": key_ids, "query_frame_ids": query_ids, "jump": self.jump,
            "anchor_ids": list(self.anchor_ids) if self.steady else None,
            "tokens": self._token_counts(n), "old_weight": self._mean_old_weight(),
        })
        if len(self.history) > 4096:  # bounded: keep the recent record only
            del self.history[:1024]

    def end_block(self) -> None:
        scene, cfg = self.scene, self.config
        scene.frames += self.block
        if scene.frames >= self.window and not self.calibration.ready:
            self.calibration.finalise()  # calibrated over the scene's first W frames
        self.jump = 0
        if self.old_frames:
            self.old_blocks += 1
            self.old_weights = self.old_weights * self.old_rates
            overflow = self.old_frames + scene.frames + self.block > self.window
            if self.old_blocks >= self.mode.clear_after_blocks or overflow:
                self.old_frames = 0  # evict: ids shift down by o, the ring slots are simply left

    # ================================================================== attention
    def _context(self, i: int, q, k, v) -> AttentionContext:
        if self.steady:
            return self._steady_context(i, q, k, v)
        t, o = self.geometry.frame_tokens, self.old_frames
        end = (self.scene.frames + self.block) * t
        self.ring_k[i][:, end - k.shape[1]:end] = k  # growth: the block's slots are free, write in place
        self.ring_v[i][:, end - v.shape[1]:end] = v
        keys, values = self.ring_k[i][:, :end], self.ring_v[i][:, :end]
        if o:  # staged old memory (last o ring slots) goes first, as slots 0..o-1
            staged = (self.window - o) * t
            for work, ring, scene in ((self.work_k, self.ring_k[i], keys), (self.work_v, self.ring_v[i], values)):
                work[:, :o * t] = ring[:, staged:]
                work[:, o * t:o * t + end] = scene
            keys, values = self.work_k[:, :o * t + end], self.work_v[:, :o * t + end]
        scale, bias = self._old_scale(i, keys.shape[1])
        return AttentionContext(keys, values, self._key_rotary, self._query_rotary, key_scale=scale,
                                logit_bias=bias)

    def _steady_context(self, i: int, q, k, v) -> AttentionContext:
        cfg, t = self.config, self.geometry.frame_tokens
        if self._select_pending[i]:
            self._select(i, q)
            self._select_pending[i] = False
        a_end = cfg.anchor_frames * t
        c_end = a_end + cfg.compressed_frames * t
        for work, ring, pool, new in ((self.work_k, self.ring_k[i], self.pool_k[i], k),
                                      (self.work_v, self.ring_v[i], self.pool_v[i], v)):
            for dst, (src_buf, src) in enumerate(self._frame_sources):  # anchors, then recent: whole frames
                at = dst * t if dst < cfg.anchor_frames else c_end + (dst - cfg.anchor_frames) * t
                work[:, at:at + t] = (pool if src_buf == "pool" else ring)[:, src * t:(src + 1) * t]
            sel = self._selected[i]
            if sel.dim() == 2:  # per-sample selection
                for b in range(len(sel)):
                    torch.index_select(ring[b], 0, sel[b], out=work[b, a_end:c_end])
            elif work.shape[0] == 1:
                torch.index_select(ring, 1, sel, out=work[:, a_end:c_end])
            else:
                work[:, a_end:c_end] = ring.index_select(1, sel)
            work[:, -new.shape[1]:] = new
        rotary = self._layer_rotary[i] or self._key_rotary
        return AttentionContext(self.work_k, self.work_v, rotary, self._query_rotary)

    def _select(self, i: int, q: torch.Tensor) -> None:
        """Top-C history tokens for layer i, scored once per block on the first (noisy) forward.

        The ring is scored where it lies (slot order); the recent frames are excluded, and the chosen
        tokens are put in chronological order before they take the compressed slots.
        """
        cfg, g = self.config, self.geometry
        t, n, W = g.frame_tokens, self.scene.frames, self.window
        slot_frames = [n - W + ((s - (n - W)) % W) for s in range(W)]  # frame held by each ring slot
        distances = torch.tensor([n - f for f in slot_frames])
        recent = torch.tensor([f >= n - cfg.recent_frames for f in slot_frames], device=g.device)
        order = torch.tensor([(f - (n - W)) * t for f in slot_frames], device=g.device)
        chrono = (order[:, None] + torch.arange(t, device=g.device)).flatten()  # chronological rank of a token
        cal = self.calibration
        gate = 1.0
        if cfg.use_drift_gate and cfg.use_magnitude_compensation:
            gate = drift_gate(as_pairs(q).mean(dim=(0, 1)), cal.mean[i], cfg.drift_lambda)
        blocked = (self.reuse[i] >= cfg.max_reuse) | recent.repeat_interleave(t)
        samples = range(g.batch) if cfg.per_sample_selection else range(1)
        picks = []
        for b in samples:
            keys = self.ring_k[i][b].view(W, t, g.num_heads, g.head_dim)
            scores = phase_scores(keys, distances, cal.mean[i], cal.abs_mean[i], gate, cfg.future_offsets,
                                  cfg.fusion, cfg.use_magnitude_compensation)
            chosen = select_top(scores, cfg.compressed_frames * t, blocked)
            picks.append(chosen[chrono[chosen].argsort()])
        for chosen in picks:
            self.reuse[i].index_add_(0, chosen, torch.ones_like(chosen, dtype=torch.int32))
        self._selected[i] = picks[0] if len(picks) == 1 else torch.stack(picks)
        if cfg.true_spatial_ids:
            pos = grid_positions(list(range(self.window)), g.grid_h, g.grid_w)
            a_end = cfg.anchor_frames * t
            spatial = picks[0].cpu() % t  # one set of ids, shared by the samples
            pos[a_end:a_end + len(spatial), 1] = spatial // g.grid_w
            pos[a_end:a_end + len(spatial), 2] = spatial % g.grid_w
            self._layer_rotary[i] = self._rotary(None, pos)

    def _old_scale(self, i: int, context_tokens: int):
        """Per-token weights of the staged old memory (the first o frames of the growth view)."""
        if not self.old_frames:
            return None, None
        if i not in self._scales:
            w = self.old_weights[i]  # [T] or [B, T]
            staged = w.repeat(*([1] * (w.dim() - 1)), self.old_frames)
            ones = torch.ones(*staged.shape[:-1], context_tokens - staged.shape[-1], device=staged.device)
            full = torch.cat([staged, ones], dim=-1)
            self._scales[i] = (None, full.clamp(min=1e-30).log()) if self.config.decay_as_log_weight else (full, None)
        return self._scales[i]

    # ================================================================== commit (clean pass)
    def _commit(self, i: int, q, k, v) -> None:
        cfg, t = self.config, self.geometry.frame_tokens
        n = self.scene.frames
        if self.steady:
            for j, slot in enumerate(self._block_slots):
                self.ring_k[i][:, slot * t:(slot + 1) * t] = k[:, j * t:(j + 1) * t]
                self.ring_v[i][:, slot * t:(slot + 1) * t] = v[:, j * t:(j + 1) * t]
                self.reuse[i][slot * t:(slot + 1) * t] = 0
        if n < cfg.anchor_frames:  # the scene's first frames: anchor pool and recall candidates
            m = min(self.block, cfg.anchor_frames - n)
            self.pool_k[i][:, n * t:(n + m) * t] = k[:, :m * t]
            self.pool_v[i][:, n * t:(n + m) * t] = v[:, :m * t]
        if n + self.block <= self.window:
            self.calibration.add(i, q)
        self.q_scene_sum[i] += q.float().sum(dim=(0, 1))
        if i == 0:
            self.q_scene_count += q.shape[0] * q.shape[1]
        if n == 0 and self.old_frames and self.mode.decay == "diff":
            per_sample = self.config.per_sample_selection
            first_staged = (self.window - self.old_frames) * t  # the recall frame
            rates = difference_rates(k[:, :t], self.ring_k[i][:, first_staged:first_staged + t],
                                     self.mode.rate_min, self.mode.rate_max, per_sample)
            if self.old_rates is None:
                self.old_rates = torch.empty((self.geometry.num_layers, *rates.shape), device=rates.device)
            self.old_rates[i] = rates

    # ================================================================== scenes and transitions
    def _start_first_scene(self, event: BlockEvent) -> None:
        label = event.extras.get("label")
        if self.scene is None:
            self.scene = Scene(self._scene_index(event), label, event_feature(event), event.transition)
            self.scenes_started += 1
        else:  # a transition named before anything was generated only renames the scene
            self.scene.index = self._scene_index(event, self.scene.index)
            self.scene.label = label if label is not None else self.scene.label
            self.scene.feature = event_feature(event)

    def _switch(self, event: BlockEvent) -> None:
        cfg, g = self.config, self.geometry
        t = g.frame_tokens
        finished = self._finish_scene()
        given = event_feature(event)
        feature = finished.feature if given is None else given
        mode_name = event.transition or cfg.default_transition
        recall_target = event.extras.get("recall")
        if mode_name == "auto":
            mode_name, recall_target = self._auto_mode(feature, finished)
        if mode_name not in TRANSITIONS:
            raise EchoError(f"unknown transition {mode_name!r}; use one of {TRANSITIONS + ('auto',)}")
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
        # previous scene's last frames, read before the ring is reused
        prev = self.scene
        n_recent = min(mode.old_recent_frames, prev.frames)
        recent = [self._slot(f) for f in range(prev.frames - n_recent, prev.frames)]
        recent_k = [self.ring_k[:, :, s * t:(s + 1) * t].clone() for s in recent]
        recent_v = [self.ring_v[:, :, s * t:(s + 1) * t].clone() for s in recent]
        staged_k, staged_v = [], []
        if mode.use_old_memory and source is not None:
            staged_k.append(source.k.to(g.device, g.dtype))
            staged_v.append(source.v.to(g.device, g.dtype))
        staged_k += recent_k
        staged_v += recent_v
        o = len(staged_k)
        if o + self.block > self.window:
            raise EchoError(f"{o} staged frames leave no room for a block in a {self.window}-frame window")
        for j, (sk, sv) in enumerate(zip(staged_k, staged_v)):
            slot = self.window - o + j
            self.ring_k[:, :, slot * t:(slot + 1) * t] = sk
            self.ring_v[:, :, slot * t:(slot + 1) * t] = sv
        # the new scene
        self.scene = Scene(self._scene_index(event), event.extras.get("label"), given, mode_name)
        self.scenes_started += 1
        self.calibration.reset()
        self.q_scene_sum.zero_()
        self.q_scene_count = 0
        self.reuse.zero_()
        self.anchor_ids = None
        self.mode, self.mode_name = mode, mode_name
        self.old_frames = o
        self.old_blocks = 0
        shape = (g.num_layers, g.batch, t) if cfg.per_sample_selection else (g.num_layers, t)
        self.old_weights = torch.full(shape, mode.first_block_weight, device=g.device)
        self.old_rates = None if mode.decay == "diff" else torch.full(shape, mode.rate_max, device=g.device)
        if mode.decay == "diff" and not (mode.use_old_memory and source is not None):
            self.old_rates = torch.full(shape, mode.rate_max, device=g.device)  # nothing to compare with
        if mode.jump is not None:
            self.jump = mode.jump
        else:
            sims = self.pool.similarities(feature)
            selected = float(source.feature @ feature) if source is not None else 1.0
            self.jump = recall_jump(selected, sims, cfg.recall_jump_max)

    def _finish_scene(self) -> PoolEntry:
        """Build the ending scene's recall frame and put it in the pool."""
        cfg, g = self.config, self.geometry
        t, n = g.frame_tokens, self.scene.frames
        sources = list(range(0, min(cfg.recall_source_frames, cfg.anchor_frames, n), cfg.recall_stride))
        idx = lambda f: slice(f * t, (f + 1) * t)  # noqa: E731
        k_c = torch.stack([self.pool_k[:, :, idx(f)] for f in sources], dim=1)  # [L, C, B, T, H, D]
        v_c = torch.stack([self.pool_v[:, :, idx(f)] for f in sources], dim=1)
        q_scene = self.q_scene_sum / max(self.q_scene_count, 1)
        ks, vs = zip(*(recall_frame(k_c[i], v_c[i], q_scene[i], cfg.recall_base_weight)
                       for i in range(g.num_layers)))
        device = g.device if cfg.pool_device == "same" else torch.device(cfg.pool_device)
        feature = self.scene.feature if self.scene.feature is not None else torch.zeros(1)
        entry = PoolEntry(self.scene.index, self.scene.label, feature, torch.stack(ks).to(device),
                          torch.stack(vs).to(device))
        self.pool.add(entry)
        if self.chain_anchor is None:
            self.chain_anchor = entry
        return entry

    def _auto_mode(self, feature: torch.Tensor, current: PoolEntry):
        """smooth / cut / recall from prompt similarity (the paper's promise; not in the released code)."""
        cfg = self.config
        s_current = float(current.feature @ feature)
        past, s_past = self.pool.best_match(feature, exclude=current.scene_index)
        if past is not None and s_past >= cfg.auto_recall_similarity and s_past > s_current:
            return "recall", past.scene_index
        return ("smooth" if s_current >= cfg.auto_smooth_similarity else "cut"), None

    # ================================================================== helpers
    def _scene_index(self, event: BlockEvent, default: int | None = None) -> int:
        """The caller's scene index (a session's); a bare stream without one numbers scenes in order."""
        if event.scene_index is not None:
            return event.scene_index
        return self.scenes_started if default is None else default

    def _slot(self, frame: int) -> int:
        """Ring slot of the current scene's frame."""
        return frame % self.window

    def _token_counts(self, n: int) -> dict:
        cfg, t = self.config, self.geometry.frame_tokens
        if self.steady:
            return {"anchors": cfg.anchor_frames * t, "compressed": cfg.compressed_frames * t,
                    "recent": cfg.recent_frames * t, "current": self.block * t, "old": 0}
        return {"anchors": 0, "compressed": 0, "recent": n * t, "current": self.block * t,
                "old": self.old_frames * t}

    def _mean_old_weight(self) -> float | None:
        return float(self.old_weights.mean()) if self.old_frames and self.old_weights is not None else None
