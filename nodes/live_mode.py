"""Live mode of the Streaming Sampler: its optional inputs and the run that steering commands drive.

The run itself is runtime/live.py; this adapter makes the CLIP an `encode(text)` and opens the
session's steering channel (runtime/steering.py) for the pack's HTTP routes (nodes/routes.py) while
the run lasts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..runtime.live import max_live_blocks, run_live
from ..runtime.rewind import DEFAULT_LIMIT, REWIND
from ..runtime.script import SceneScript
from ..runtime.session import Session
from ..runtime.steering import LIVE, LiveChannel
from .types import conditioning_tensor

LIVE_INPUTS = {
    "live": ("BOOLEAN", {"default": False, "tooltip": "Live: after the script, the last scene carries on until you "
                                                      "press Stop on the node (or live_max_seconds); prompts typed "
                                                      "on the node switch the scene at the next block."}),
    "live_max_seconds": ("FLOAT", {"default": 600.0, "min": 0.75, "max": 36000.0, "step": 0.75,
                                   "tooltip": "Live: the run ends by itself after this much video."}),
    "clip": ("CLIP", {"tooltip": "Live: the umt5 text encoder (CLIPLoader, type wan) that encodes the prompts you "
                                 "type, between blocks."}),
    "rewind_points": ("INT", {"default": DEFAULT_LIMIT, "min": 0, "max": 64,
                              "tooltip": "Live: snapshots of the session at scene starts kept on the CPU (oldest "
                                         "dropped first; the node shows their size), to take a scene again. 0 = off."}),
}


def clip_encoder(clip) -> Callable[[str], object] | None:
    if clip is None:
        return None
    from .script_nodes import _encode

    return lambda text: conditioning_tensor(_encode(clip, text), "live prompt")


@dataclass
class LiveRunner:
    session: Session
    script: SceneScript
    channel: LiveChannel
    encode: Callable | None
    max_blocks: int
    rewind_points: int
    decoding: object = None  # the sampler's VaeDecoding, when it writes the session video

    def run(self, on_block, should_stop):
        points = REWIND.points(self.session, self.rewind_points) if self.rewind_points > 0 else None
        on_rewind = None
        if self.decoding is not None:
            from .video_rewind import branch_video

            def on_rewind(session):
                branch_video(self.decoding, session)
        with LIVE.open(self.channel):
            return run_live(self.session, self.script, self.channel, self.encode, max_blocks=self.max_blocks,
                            rewind=points, on_block=on_block, should_stop=should_stop, on_rewind=on_rewind)


def live_runner(session: Session, script: SceneScript, node_id, decoding=None, live=False, live_max_seconds=600.0,
                clip=None, rewind_points=DEFAULT_LIMIT) -> LiveRunner | None:
    if not live:
        return None
    encode = clip_encoder(clip)
    channel = LiveChannel(session.name, str(node_id or ""), accepts_text=encode is not None)
    blocks = max_live_blocks(float(live_max_seconds), session.spec.frames_per_block)
    return LiveRunner(session, script, channel, encode, blocks, int(rewind_points), decoding)
