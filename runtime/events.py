"""The live-preview events the Streaming Sampler sends to the browser (docs/preview_events.md).

Pure data: `RunEvents` builds the payloads and decides when a block carries preview images
(throttled, so a fast GPU does not flood the websocket); the node layer only sends them.
"""
from __future__ import annotations

import time
import uuid
from typing import Callable

import torch

from .preview import data_url, latent_to_rgb, to_images
from .session import BlockReport, RunResult, Session
from ..engine.geometry import FPS, VAE_TEMPORAL_STRIDE

VERSION = 1
RUN_EVENT = "echo_stream.run"
BLOCK_EVENT = "echo_stream.block"


class PreviewThrottle:
    """Allows at most one preview every `min_interval` seconds (clock injectable for tests)."""

    def __init__(self, min_interval: float = 0.25, clock: Callable[[], float] = time.monotonic):
        self.min_interval, self.clock = min_interval, clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.min_interval:
            return False
        self._last = now
        return True


class RunEvents:
    def __init__(self, session: Session, node: str, *, continued: bool, run_blocks: int, planned_scenes: list[dict],
                 rgb_factors=None, max_width: int = 256, throttle: PreviewThrottle | None = None):
        self.session, self.node, self.continued = session, str(node), continued
        self.run = uuid.uuid4().hex[:12]
        self.first_block = session.blocks_done
        self.run_blocks = run_blocks
        self.planned_scenes = planned_scenes
        self.rgb_factors, self.max_width = rgb_factors, max_width
        self.throttle = throttle or PreviewThrottle()

    def _base(self) -> dict:
        return {"version": VERSION, "node": self.node, "session": self.session.name, "run": self.run}

    def run_event(self, phase: str, result: RunResult | None = None, message: str | None = None) -> dict:
        if phase == "start":
            scenes, run_blocks = self.planned_scenes, self.run_blocks
        else:
            scenes = self.session.timeline()
            run_blocks = result.blocks_done if result is not None else self.session.blocks_done - self.first_block
        payload = self._base() | {
            "phase": phase, "continued": self.continued, "first_block": self.first_block,
            "run_blocks": run_blocks, "total_blocks": self.first_block + run_blocks,
            "frames_per_block": self.session.spec.frames_per_block, "fps": FPS,
            "frames_per_image": VAE_TEMPORAL_STRIDE, "scenes": scenes,
        }
        payload["video"] = self.video()
        if message is not None:
            payload["message"] = message
        return payload

    def video(self) -> dict | None:
        """What the session video holds, or None without one: `latent_frames` decoded into it (4T - 3
        video frames) from session-wide latent frame `first_image` on. The file itself is served at
        /echo_stream/sessions/{session}/video (nodes/routes.py)."""
        decode = self.session.video_decode
        if decode is None or decode.latent_frames <= 0:
            return None
        waiting = sum(block.shape[2] for block in decode.pending)
        made = self.session.blocks_done * self.session.spec.frames_per_block
        return {"latent_frames": decode.latent_frames, "first_image": max(0, made - waiting - decode.latent_frames)}

    def block_event(self, report: BlockReport, decoded=None) -> dict:
        """`decoded`: the block's frames from the VAE ([k, H, W, 3] in [0, 1], one per latent), shown
        instead of the latent-to-RGB approximation when a VAE decodes the stream."""
        fpb = self.session.spec.frames_per_block
        images = []
        if self.throttle.ready():
            if decoded is not None:
                frames = (decoded.float().clamp(0, 1) * 255).round().to(torch.uint8)
            else:
                frames = latent_to_rgb(report.latents[0], *self._factors())
            images = [data_url(image) for image in to_images(frames, self.max_width)]
        done = report.run_block + 1
        rate = done / report.elapsed if report.elapsed > 0 else 0.0
        eta = (report.run_blocks - done) / rate if rate > 0 else None
        return self._base() | {
            "block": report.block, "run_block": report.run_block, "run_blocks": report.run_blocks,
            "total_blocks": self.first_block + report.run_blocks,
            "scene": {"index": report.scene.index, "label": report.scene.label, "transition": report.scene.transition}
            | ({"recalls": report.scene.recalls} if report.scene.recalls is not None else {}),
            "images": images, "image_frame": report.block * fpb,
            "timing": {"elapsed": round(report.elapsed, 3), "blocks_per_second": round(rate, 4),
                       "eta": None if eta is None else round(eta, 2)},
        }

    def _factors(self):
        return self.rgb_factors if self.rgb_factors is not None else (None, None)
