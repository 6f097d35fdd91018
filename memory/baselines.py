"""The training-free baselines Echo-Forcing is measured against, on the engine's frame cache.

- LongLive: 3-frame sink + 12-frame window, absolute RoPE; on a prompt switch the window's non-sink
  frames are re-encoded under the new prompt (KV re-cache), the sink kept.
- infinity-RoPE: block-relative RoPE over a 6-frame window with a 1-frame sink; a prompt switch
  flushes the cache to [sink, last 2 frames]; a hard cut also moves the new block to ids 45..47.
- Echo-Infinity unified relative RoPE (training-free part): sink ids 0..2, the newest frame's id
  capped at 20, the window re-cached on a switch as in its pipeline.
(Self-Forcing's rolling window is `engine.rolling_window`.)
"""
from __future__ import annotations

from ..engine.errors import EchoError
from ..engine.frame_cache import FrameCache
from ..engine.layout import BlockLayout
from ..engine.memory_api import BlockEvent, Recaching
from ..engine.transitions import is_switch


class LongLiveRecache(FrameCache, Recaching):
    def __init__(self, window_frames: int = 12, sink_frames: int = 3, positions: str = "absolute"):
        super().__init__(window_frames, sink_frames, rolling=True, positions=positions)
        self.max_recache_frames = window_frames - sink_frames

    def recache_request(self, event: BlockEvent) -> int:
        if not is_switch(event) or self.geometry is None:
            return 0
        return sum(1 for f in self.held_frames() if f >= self.sink_frames)  # the sink stays as it was

    def begin_recache(self, start_frame: int, num_frames: int) -> BlockLayout:
        frames = list(range(start_frame, start_frame + num_frames))
        missing = [f for f in frames if f not in self.slot_frames]
        if missing:
            raise EchoError(f"cannot re-cache frames {missing}: they are no longer held")
        self._plan(-1, frames, "recache")
        return self.layout

    def end_recache(self) -> None:
        self._apply()


class InfinityRope(FrameCache):
    CUT_TO = 45  # the hard cut's first temporal id (transition_from)
    KEEP_RECENT = 2

    def __init__(self, window_frames: int = 6, sink_frames: int = 1):
        super().__init__(window_frames, sink_frames, rolling=True, positions="relative")

    def on_block_event(self, event: BlockEvent) -> None:
        if not is_switch(event):
            return
        held = sorted(self.held_frames())
        sinks = [f for f in held if f < self.sink_frames]
        rest = [f for f in held if f >= self.sink_frames]
        self.keep_only(sinks + rest[-self.KEEP_RECENT:])  # KV flush: no re-encoding
        if event.transition == "cut":
            self.jump = self.CUT_TO - len(self.held_frames())  # new block at ids 45, 46, 47


class EchoInfinityRope(LongLiveRecache):
    def __init__(self, window_frames: int = 12, sink_frames: int = 3):
        super().__init__(window_frames, sink_frames, positions="unified")
