"""Whole-frame KV caches: the full cache, the Self-Forcing rolling window, and the base of the
frame-level baselines (LongLive re-cache, infinity-RoPE flush/cut, Echo-Infinity ids).

K/V (pre-RoPE) live in one preallocated buffer per tensor kind for all layers, `window_frames`
latent frames long. `slot_frames` maps each physical frame slot to the logical frame it holds. A new
frame takes the lowest empty slot, else the slot of the oldest non-sink frame, and is written in
place: nothing is moved or concatenated per step. Attention does not care about key order, so the
occupied prefix of the buffer is attended as it lies, each slot carrying the RoPE ids of its frame.
"""
from __future__ import annotations

import torch

from .errors import EchoError
from .layout import CACHE, CURRENT, BlockLayout, FrameSource
from .memory_api import AttentionContext, BlockEvent, CacheGeometry, LayerMemory, MemoryPolicy
from .rope import grid_positions
from .state import copy_into, require


def absolute_ids(frames: list[int], sink: int, new: list[int]) -> dict[int, int]:
    """Each frame's true index (Self-Forcing, LongLive)."""
    return {f: f for f in frames}


def relative_ids(frames: list[int], sink: int, new: list[int]) -> dict[int, int]:
    """Held frames numbered 0..n-1 in time order (infinity-RoPE's block-relative RoPE)."""
    return {f: i for i, f in enumerate(sorted(frames))}


def unified_ids(frames: list[int], sink: int, new: list[int], max_id: int = 20) -> dict[int, int]:
    """Echo-Infinity: sink frames 0..S-1; the rest end at the newest frame's id, capped at `max_id`."""
    ordered = sorted(frames)
    sinks = [f for f in ordered if f < sink]
    local = [f for f in ordered if f >= sink]
    last = min(max(frames), max_id)
    ids = {f: i for i, f in enumerate(sinks)}
    ids.update({f: last - (len(local) - 1 - i) for i, f in enumerate(local)})
    return ids


POSITIONS = {"absolute": absolute_ids, "relative": relative_ids, "unified": unified_ids}


class _FrameCacheLayer(LayerMemory):
    def __init__(self, policy: "FrameCache", index: int):
        self.policy = policy
        self.index = index

    def context(self, q, k, v) -> AttentionContext:
        p, layout = self.policy, self.policy.layout
        kb, vb = p.k[self.index], p.v[self.index]
        for dst, src, n in p._staging:  # stage this forward's K/V of the new frames in their slots
            kb[:, dst:dst + n] = k[:, src:src + n]
            vb[:, dst:dst + n] = v[:, src:src + n]
        end = len(layout.sources) * layout.frame_tokens
        return AttentionContext(kb[:, :end], vb[:, :end], layout.key_rotary, layout.query_rotary)

    def commit(self, q, k, v) -> None:
        """The staged K/V are this clean pass's: final. The slot map follows at `end_block`."""
        self.policy._committed[self.index] = True


class FrameCache(MemoryPolicy):
    """A cache of `window_frames` whole latent frames; frames < `sink_frames` are never evicted.

    rolling=False is the full cache: it refuses to run past `window_frames` instead of evicting.
    positions: "absolute" (true frame index), "relative" (0..n-1 over held frames), "unified"
    (Echo-Infinity: sinks 0..S-1, newest frame's id capped at 20).
    """

    def __init__(self, window_frames: int, sink_frames: int = 0, rolling: bool = True, positions: str = "absolute"):
        if positions not in POSITIONS:
            raise EchoError(f"positions must be one of {sorted(POSITIONS)}, got {positions!r}")
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
        self.jump = 0  # added to the temporal ids of the block's own frames (RoPE cut)
        self.geometry = None
        self.layout: BlockLayout | None = None

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
        self.slot_frames: list[int | None] = [None] * self.window_frames
        self._layers = [_FrameCacheLayer(self, i) for i in range(g.num_layers)]

    def on_block_event(self, event: BlockEvent) -> None:
        """Hook for subclasses: react to a prompt change or transition before slots are assigned."""

    def begin_block(self, event: BlockEvent) -> BlockLayout:
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
        self.on_block_event(event)
        self._plan(event.index, list(range(event.start_frame, end)), "window")
        self._pending_end = end
        return self.layout

    def end_block(self) -> None:
        self._apply()
        self.frames_done = self._pending_end
        self.jump = 0

    def layer(self, index: int) -> LayerMemory:
        return self._layers[index]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"k": self.k, "v": self.v} if self.geometry is not None else {}

    def state_dict(self) -> dict:
        """The held frames (slot order) and their K/V; the free tail of the buffers is never read."""
        held = len(self.held_frames()) * self.geometry.frame_tokens
        return {"slot_frames": list(self.slot_frames), "frames_done": self.frames_done,
                "k": self.k[:, :, :held], "v": self.v[:, :, :held]}

    def load_state_dict(self, state: dict) -> None:
        owner = type(self).__name__
        require(state, ("slot_frames", "frames_done", "k", "v"), owner)
        slots = list(state["slot_frames"])
        if len(slots) != self.window_frames:
            raise EchoError(f"{owner} state holds {len(slots)} frame slots but this cache has {self.window_frames}")
        self.slot_frames = slots
        self.frames_done = int(state["frames_done"])
        held = len(self.held_frames()) * self.geometry.frame_tokens
        copy_into(self.k[:, :, :held], state["k"], "k", owner)
        copy_into(self.v[:, :, :held], state["v"], "v", owner)

    # ------------------------------------------------------------------ slots
    def _place(self, slots: list, frame: int) -> int:
        if frame in slots:
            return slots.index(frame)  # a frame held already (re-cache)
        if None in slots:
            slot = slots.index(None)
        else:
            evictable = [(f, s) for s, f in enumerate(slots) if f >= self.sink_frames]
            slot = min(evictable)[1]
        slots[slot] = frame
        return slot

    def keep_only(self, frames) -> None:
        """Drop every other frame and compact the kept ones to the front (a one-off copy at a switch)."""
        keep = sorted(f for f in self.slot_frames if f is not None and f in set(frames))
        t = self.geometry.frame_tokens
        src = torch.tensor([self.slot_frames.index(f) for f in keep], dtype=torch.long)
        index = (src[:, None] * t + torch.arange(t)).flatten().to(self.k.device)
        for buf in (self.k, self.v):
            buf[:, :, :len(index)] = buf.index_select(2, index)  # gathered first, so no overlap issue
        self.slot_frames = keep + [None] * (self.window_frames - len(keep))

    def held_frames(self) -> list[int]:
        """Frames held after the last committed block, in slot order."""
        return [f for f in self.slot_frames if f is not None]

    def _plan(self, block: int, new_frames: list[int], phase: str) -> None:
        """Slots for `new_frames` (the slot map changes only at commit) and the block's layout."""
        g = self.geometry
        t = g.frame_tokens
        slots = list(self.slot_frames)
        placed = [self._place(slots, f) for f in new_frames]
        self._staging = [(slot * t, i * t, t) for i, slot in enumerate(placed)]
        self._planned_slots = slots
        self._committed = [False] * g.num_layers
        held = [f for f in slots if f is not None]
        if slots[: len(held)] != held:
            raise AssertionError("occupied slots must form a prefix")  # invariant of _place/keep_only
        ids = POSITIONS[self.positions](held, self.sink_frames, new_frames)
        for f in new_frames:
            ids[f] += self.jump
        key_ids = tuple(ids[f] for f in held)
        query_ids = tuple(ids[f] for f in new_frames)
        sources = tuple(FrameSource(CURRENT, new_frames.index(f), f) if f in new_frames else FrameSource(CACHE, s, f)
                        for s, f in enumerate(held))
        self.layout = BlockLayout(
            block, phase, key_ids, query_ids, sources, t,
            g.rotary.rotary(grid_positions(key_ids, g.grid_h, g.grid_w), g.device),
            g.rotary.rotary(grid_positions(query_ids, g.grid_h, g.grid_w), g.device),
            jump=self.jump)

    def _apply(self) -> None:
        if not all(self._committed):
            raise EchoError("end of a block before every layer committed its K/V (run the clean write pass)")
        self.slot_frames = self._planned_slots


def full_cache(max_frames: int = 21) -> FrameCache:
    """Attend to everything so far (short clips); Self-Forcing's default 21-frame cache."""
    return FrameCache(max_frames, rolling=False)


def rolling_window(window_frames: int = 21, sink_frames: int = 0, positions: str = "absolute") -> FrameCache:
    """Self-Forcing's rolling KV window (LongLive's geometry: window 12, sink 3); constant memory."""
    return FrameCache(window_frames, sink_frames, rolling=True, positions=positions)
