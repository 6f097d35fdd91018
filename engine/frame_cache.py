"""Whole-frame KV caches: the full cache and the Self-Forcing rolling window (with sink frames).

Both keep K/V (pre-RoPE) in one preallocated buffer per tensor kind for all layers, sized
`window_frames` latent frames. Frames live in a ring: a new block overwrites the slots of the
oldest non-sink frames in place, so nothing is moved or concatenated. Attention does not care
about key order, so the buffer is attended as it lies; each slot just gets the RoPE ids of the
logical frame it holds.
"""
from __future__ import annotations

import torch

from .errors import EchoError
from .memory_api import AttentionContext, BlockEvent, CacheGeometry, LayerMemory, MemoryPolicy
from .rope import grid_positions

POSITION_MODES = ("absolute", "relative")


class _FrameCacheLayer(LayerMemory):
    def __init__(self, policy: "FrameCache", index: int):
        self.policy = policy
        self.index = index

    def context(self, q, k, v) -> AttentionContext:
        p = self.policy
        kb, vb = p.k[self.index], p.v[self.index]
        for dst, src, n in p._writes:  # this forward's K/V of the block go to the block's slots
            kb[:, dst:dst + n] = k[:, src:src + n]
            vb[:, dst:dst + n] = v[:, src:src + n]
        end = p._visible_tokens
        return AttentionContext(kb[:, :end], vb[:, :end], p._key_rotary, p._query_rotary)


class FrameCache(MemoryPolicy):
    """A ring of `window_frames` latent frames; the first `sink_frames` are never evicted.

    rolling=False is the full cache: it refuses to run past `window_frames` instead of evicting.
    positions="absolute" gives every frame its true frame index as temporal RoPE id (Self-Forcing,
    LongLive); "relative" numbers the attended frames 0..n-1 in time order, so ids never leave the
    window however long the video runs (the infinite-length variant).
    """

    def __init__(self, window_frames: int, sink_frames: int = 0, rolling: bool = True, positions: str = "absolute"):
        if positions not in POSITION_MODES:
            raise EchoError(f"positions must be one of {POSITION_MODES}, got {positions!r}")
        if window_frames < 1 or sink_frames < 0 or sink_frames >= window_frames:
            raise EchoError(
                f"window of {window_frames} frames with {sink_frames} sink frames is invalid: "
                f"the window must be larger than the sink"
            )
        self.window_frames = window_frames
        self.sink_frames = sink_frames
        self.rolling = rolling
        self.positions = positions
        self.frames_done = 0  # latent frames committed so far
        self.geometry = None

    # ------------------------------------------------------------------ lifecycle
    def setup(self, geometry: CacheGeometry) -> None:
        fpb = geometry.frames_per_block
        if self.rolling and self.window_frames - self.sink_frames < fpb:
            raise EchoError(
                f"a rolling window of {self.window_frames} frames with {self.sink_frames} sink frames has no room "
                f"for a block of {fpb} frames; use a window of at least {self.sink_frames + fpb}"
            )
        self.geometry = g = geometry
        shape = (g.num_layers, g.batch, self.window_frames * g.frame_tokens, g.num_heads, g.head_dim)
        self.k = torch.zeros(shape, dtype=g.dtype, device=g.device)
        self.v = torch.zeros(shape, dtype=g.dtype, device=g.device)
        self._layers = [_FrameCacheLayer(self, i) for i in range(g.num_layers)]

    def begin_block(self, event: BlockEvent) -> None:
        g = self.geometry
        if event.start_frame != self.frames_done:
            raise EchoError(
                f"block starts at frame {event.start_frame} but the cache holds {self.frames_done} frames; "
                f"blocks must arrive in order"
            )
        end = event.start_frame + event.num_frames
        if not self.rolling and end > self.window_frames:
            raise EchoError(
                f"the full cache holds {self.window_frames} latent frames and this block would need {end}; "
                f"choose the rolling-window policy for longer videos"
            )
        slots = [(self._slot(f), f) for f in range(event.start_frame, end)]
        t = g.frame_tokens
        self._writes = [(slot * t, (f - event.start_frame) * t, t) for slot, f in slots]
        held = [self._frame_in_slot(s, end) for s in range(min(end, self.window_frames))]
        self._visible_tokens = len(held) * t
        ids = self._temporal_ids(held)
        self.key_frame_ids = ids  # temporal RoPE id of each held slot (for inspection and tests)
        self.query_frame_ids = [ids[slot] for slot, _ in slots]
        self._key_rotary = g.rotary.rotary(grid_positions(ids, g.grid_h, g.grid_w), g.device)
        self._query_rotary = g.rotary.rotary(grid_positions(self.query_frame_ids, g.grid_h, g.grid_w), g.device)
        self._pending_end = end

    def layer(self, index: int) -> LayerMemory:
        return self._layers[index]

    def end_block(self) -> None:
        self.frames_done = self._pending_end

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"k": self.k, "v": self.v} if self.geometry is not None else {}

    # ------------------------------------------------------------------ slot maths
    def _slot(self, frame: int) -> int:
        if frame < self.sink_frames or not self.rolling:
            return frame
        ring = self.window_frames - self.sink_frames
        return self.sink_frames + (frame - self.sink_frames) % ring

    def _frame_in_slot(self, slot: int, end: int) -> int:
        """The newest logical frame < end stored in `slot` (slots are filled in order)."""
        if slot < self.sink_frames or not self.rolling:
            return slot
        ring = self.window_frames - self.sink_frames
        offset = slot - self.sink_frames
        return self.sink_frames + offset + ring * ((end - 1 - self.sink_frames - offset) // ring)

    def _temporal_ids(self, held: list[int]) -> list[int]:
        if self.positions == "absolute":
            return held
        rank = {frame: i for i, frame in enumerate(sorted(held))}
        return [rank[f] for f in held]


def full_cache(max_frames: int = 21) -> FrameCache:
    """Attend to everything so far (short clips); Self-Forcing's default 21-frame cache."""
    return FrameCache(max_frames, rolling=False)


def rolling_window(window_frames: int = 21, sink_frames: int = 0, positions: str = "absolute") -> FrameCache:
    """Self-Forcing's rolling KV window (LongLive: window 12, sink 3); constant memory for any length."""
    return FrameCache(window_frames, sink_frames, rolling=True, positions=positions)
