"""The Echo-Forcing scene memory: preserve, recall, forget — under a fixed budget.

Attention set of a block (window W = 21 frames by default), ids by slot (notes §3.1, §4):
  growth  (scene-local frames n + block <= W):  [staged old memory o | scene frames 0..n-1 | block]
          ids 0..o-1 | o..o+n-1 | o+n.. (+ the RoPE jump on the block's keys and queries, first block)
  steady  [12 rolling anchors | 3 frames of compressed tokens | 3 recent | block]  ids 0..20

The policy is split along the memory contract:
  echo_storage.EchoStorage            ring, anchor pool, one layer's work buffer
  scene_state.SceneState              the current scene: frames, calibration, query mean, anchors, reuse
  transition_planner.TransitionPlanner  switch, finish (scene pool), auto; staged old memory and decay
  selector.CompressionSelector        drift-gated phase compression of the history
`begin_block` settles the block's `BlockLayout`; each layer reads it, stages the block's K/V (growth:
in its ring slots; steady: in the work buffer) and `commit` makes them final. The released code keeps
~25 GB for 1.3B at 832x480; this keeps W + A frames plus one layer's window (`bench/memory_bench.py`).
"""
from __future__ import annotations

import torch

from ..engine.errors import EchoError
from ..engine.layout import ANCHOR, COMPRESSED, CURRENT, OLD, RING, BlockLayout, FrameSource, LayerRecord
from ..engine.memory_api import AttentionContext, BlockEvent, CacheGeometry, LayerMemory, MemoryPolicy
from ..engine.rope import grid_positions, rotate_in_place
from ..engine.state import require
from .config import EchoConfig
from .echo_storage import EchoStorage, slot_runs
from .fp8_storage import Fp8EchoStorage
from .scene_state import Scene, SceneState, event_feature  # noqa: F401  (Scene, event_feature: re-exported)
from .selector import CompressionSelector, count_reuse
from .transition_planner import TransitionPlanner

STATE_KEYS = ("ring_k", "ring_v", "pool_k", "pool_v", "reuse", "calibration", "q_scene_sum", "q_scene_count",
              "scene", "scenes_started", "anchor_ids", "anchors_before", "rolled_for", "pool", "chain_anchor",
              "old", "jump")


class _EchoLayer(LayerMemory):
    def __init__(self, memory: "EchoForcingMemory", index: int):
        self.memory, self.index = memory, index

    def context(self, q, k, v) -> AttentionContext:
        m, i = self.memory, self.index
        layout, record = m.layout, m.layout.layers[i]
        if layout.steady:
            if not record.filled:  # first pass of the block: select the compressed history
                selected, gate, rotary = m.selector.select(i, q, m.storage, m.scenes)
                record.fill(selected=selected, gate=gate, key_rotary=rotary)
            keys, values = m.storage.steady_context(i, layout, record.selected, k, v)
            rotary = record.key_rotary or layout.key_rotary
            # the keys were just assembled in the work buffer: rotate them there (no new tensor per pass)
            return AttentionContext(rotate_in_place(keys, rotary), values, rotary, layout.query_rotary,
                                    keys_rotated=True)
        keys, values = m.storage.growth_context(i, k, v, m.scenes.scene.frames, layout.old_frames)
        if not record.filled:
            scale, bias = m.planner.old_scale(i, keys.shape[1])
            record.fill(key_scale=scale, logit_bias=bias)
        return AttentionContext(keys, values, layout.key_rotary, layout.query_rotary, key_scale=record.key_scale,
                                logit_bias=record.logit_bias)

    def commit(self, q, k, v) -> None:
        m, i = self.memory, self.index
        cfg, n, fpb = m.config, m.scenes.scene.frames, m.block
        if m.layout.steady:  # the block's frames replace the oldest ring frames; their reuse starts afresh
            t = m.geometry.frame_tokens
            count_reuse(m.scenes.reuse[i], m.layout.layers[i].selected)
            slots = [m.storage.slot(f) for f in range(n, n + fpb)]
            m.selector.forget(i, slots)
            m.storage.commit_ring(i, slots, k, v)
            for slot, _, frames in slot_runs(slots):
                m.scenes.reuse[i][slot * t:(slot + frames) * t] = 0
        if n < cfg.anchor_frames:  # the scene's first frames: anchor pool and recall candidates
            m.storage.commit_pool(i, n, min(fpb, cfg.anchor_frames - n), k, v)
        m.scenes.add_queries(i, q, calibrate=n + fpb <= m.window)
        if n == 0:
            m.planner.measure_rates(i, k, m.storage)


class EchoForcingMemory(MemoryPolicy):
    def __init__(self, config: EchoConfig | None = None):
        self.config = config or EchoConfig()
        self.geometry = None
        self.layout: BlockLayout | None = None

    # ================================================================== setup
    def setup(self, geometry: CacheGeometry) -> None:
        cfg, g = self.config, geometry
        self.geometry = g
        self.block = fpb = g.frames_per_block
        self.window = cfg.window_frames(fpb)
        if cfg.anchor_frames % fpb:
            raise EchoError(f"anchor_frames ({cfg.anchor_frames}) must be a multiple of the block ({fpb} frames)")
        if (cfg.compressed_frames + cfg.recent_frames) % fpb:
            # else the first steady block comes before the scene's calibration (its first W frames) is done
            # and the rolling anchors run past the pool
            fits = cfg.recent_frames + (-(cfg.compressed_frames + cfg.recent_frames)) % fpb
            raise EchoError(f"compressed_frames + recent_frames ({cfg.compressed_frames} + {cfg.recent_frames}) "
                            f"must be a multiple of the block ({fpb} frames), so that the window ({self.window} "
                            f"frames) is whole blocks; e.g. {cfg.compressed_frames} + {fits}")
        storage = Fp8EchoStorage if cfg.kv_storage == "fp8_e4m3" else EchoStorage
        self.storage = storage(g, self.window, cfg.anchor_frames)
        self.scenes = SceneState(g, self.window)
        self.planner = TransitionPlanner(cfg, g, self.window)
        self.selector = CompressionSelector(cfg, g, self.window)
        self._layers = [_EchoLayer(self, i) for i in range(g.num_layers)]
        self._steady_keys = self._rotary(list(range(self.window)))
        self._steady_query = self._rotary(list(range(self.window - fpb, self.window)))

    def _rotary(self, frame_ids):
        g = self.geometry
        return g.rotary.rotary(grid_positions(frame_ids, g.grid_h, g.grid_w), g.device)

    def layer(self, index: int) -> LayerMemory:
        return self._layers[index]

    @property
    def pool(self):
        """The scene pool: one recall frame per past scene."""
        return self.planner.pool

    @property
    def scene(self) -> Scene | None:
        return self.scenes.scene

    def tensors(self) -> dict[str, torch.Tensor]:
        if self.geometry is None:
            return {}
        return {**self.storage.tensors(), **self.scenes.tensors(), **self.selector.tensors()}

    def pool_nbytes(self) -> int:
        """Bytes of the recall frames waiting in the scene pool (on `pool_device`)."""
        return self.pool.nbytes() if self.geometry is not None else 0

    # ================================================================== block lifecycle
    def begin_block(self, event: BlockEvent) -> BlockLayout:
        scenes = self.scenes
        switching = event.transition is not None or event.prompt_changed
        if scenes.scene is None or (switching and scenes.scene.frames == 0):
            scenes.start_first(event)
        elif switching:
            self.planner.switch(event, scenes, self.storage)
        self.layout = self._layout(event.index)
        return self.layout

    def _layout(self, block: int) -> BlockLayout:
        cfg, scene, old, fpb, W = self.config, self.scenes.scene, self.planner.old, self.block, self.window
        n = scene.frames
        current = [FrameSource(CURRENT, j, n + j) for j in range(fpb)]
        common = dict(frame_tokens=self.geometry.frame_tokens, scene=scene.index, label=scene.label,
                      transition=scene.transition if n == 0 else None, jump=self.planner.jump,
                      layers=tuple(LayerRecord() for _ in range(self.geometry.num_layers)))
        if n + fpb > W:  # steady
            anchors = self.scenes.roll(W, cfg.anchor_frames, fpb)
            sources = ([FrameSource(ANCHOR, a, a) for a in anchors]
                       + [FrameSource(COMPRESSED, j) for j in range(cfg.compressed_frames)]
                       + [FrameSource(RING, self.storage.slot(f), f) for f in range(n - cfg.recent_frames, n)]
                       + current)
            key_ids = tuple(range(W))
            return BlockLayout(block, "steady", key_ids, key_ids[-fpb:], tuple(sources), key_rotary=self._steady_keys,
                               query_rotary=self._steady_query, anchor_ids=tuple(anchors), **common)
        o = old.frames
        sources = ([FrameSource(OLD, W - o + j) for j in range(o)]
                   + [FrameSource(RING, self.storage.slot(f), f) for f in range(n)] + current)
        key_ids = tuple(range(o + n)) + tuple(o + n + j + self.planner.jump for j in range(fpb))
        query_ids = key_ids[-fpb:]
        return BlockLayout(block, "growth", key_ids, query_ids, tuple(sources), key_rotary=self._rotary(key_ids),
                           query_rotary=self._rotary(query_ids), old_scene=old.scene if o else None,
                           old_weights=old.weights if o else None, old_rates=old.rates if o else None, **common)

    def end_block(self) -> None:
        self.scenes.end_block(self.block, self.window)
        self.planner.end_block(self.scenes.scene.frames)

    # ================================================================== state
    def state_dict(self) -> dict:
        return {**self.storage.state_dict(), **self.scenes.state_dict(), **self.planner.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        owner = "echo_forcing memory"
        require(state, STATE_KEYS, owner)
        self.storage.load_state_dict(state, owner)
        self.scenes.load_state_dict(state, owner)
        self.planner.load_state_dict(state, owner)
        self.selector.reset()  # its kept scratch describes the ring as it was before the load
        self.layout = None
