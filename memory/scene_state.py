"""The current scene of the Echo-Forcing memory: who it is, how far it got, and what it measured.

Frames committed, the query calibration (first W frames) and running query mean (for its recall
frame), the rolling anchors (notes §3.2) and the reuse counts of ring tokens by the compression.
A scene's index comes from the caller (a session's scene index); a bare stream numbers them in order.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.memory_api import BlockEvent, CacheGeometry
from ..engine.state import copy_into, require, tensor_or_none
from .anchors import roll_anchors
from .compression import QueryCalibration
from .scene_pool import prompt_feature


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


class SceneState:
    def __init__(self, geometry: CacheGeometry, window: int):
        g = geometry
        self.reuse = torch.zeros(g.num_layers, window * g.frame_tokens, dtype=torch.int32, device=g.device)
        self.calibration = QueryCalibration(g.num_layers, g.num_heads, g.head_dim, g.device)
        self.q_scene_sum = torch.zeros(g.num_layers, g.num_heads, g.head_dim, dtype=torch.float32, device=g.device)
        self.q_scene_count = 0
        self.scene: Scene | None = None
        self.scenes_started = 0
        self.anchor_ids: list[int] | None = None
        self._anchors_before: list[int] | None = None
        self._rolled_for: tuple | None = None

    def index_for(self, event: BlockEvent, default: int | None = None) -> int:
        """The caller's scene index; a bare stream without one numbers scenes in order."""
        if event.scene_index is not None:
            return event.scene_index
        return self.scenes_started if default is None else default

    def start_first(self, event: BlockEvent) -> None:
        """The stream's first scene; a transition named before anything was generated only renames it."""
        label = event.extras.get("label")
        if self.scene is None:
            self.scene = Scene(self.index_for(event), label, event_feature(event), event.transition)
            self.scenes_started += 1
        else:
            self.scene.index = self.index_for(event, self.scene.index)
            self.scene.label = label if label is not None else self.scene.label
            self.scene.feature = event_feature(event)

    def begin(self, scene: Scene) -> None:
        """A new scene after a switch: its statistics start afresh."""
        self.scene = scene
        self.scenes_started += 1
        self.calibration.reset()
        self.q_scene_sum.zero_()
        self.q_scene_count = 0
        self.reuse.zero_()
        self.anchor_ids = None

    def roll(self, window: int, anchors: int, block: int) -> list[int]:
        """Anchor ids of the steady block at the scene's current frame (a block run again after an
        interruption rolls once)."""
        n = self.scene.frames
        if self._rolled_for != (self.scene.index, n):
            self._anchors_before = self.anchor_ids
            self._rolled_for = (self.scene.index, n)
        self.anchor_ids = roll_anchors(self._anchors_before, n, window, anchors, block)
        return self.anchor_ids

    def add_queries(self, i: int, q: torch.Tensor, calibrate: bool) -> None:
        """Clean-pass queries of layer i: calibration (first W frames) and the scene's query mean."""
        if calibrate:
            self.calibration.add(i, q)
        self.q_scene_sum[i] += q.float().sum(dim=(0, 1))
        if i == 0:
            self.q_scene_count += q.shape[0] * q.shape[1]

    def query_mean(self) -> torch.Tensor:
        return self.q_scene_sum / max(self.q_scene_count, 1)

    def end_block(self, block: int, window: int) -> None:
        self.scene.frames += block
        if self.scene.frames >= window and not self.calibration.ready:
            self.calibration.finalise()  # calibrated over the scene's first W frames

    # ------------------------------------------------------------------ state
    def tensors(self) -> dict[str, torch.Tensor]:
        return {"reuse": self.reuse, "calib_sum": self.calibration.sum, "calib_abs_sum": self.calibration.abs_sum,
                "q_scene_sum": self.q_scene_sum}

    def state_dict(self) -> dict:
        scene, cal = self.scene, self.calibration
        return {
            "reuse": self.reuse,
            "calibration": {"sum": cal.sum, "abs_sum": cal.abs_sum, "count": cal.count, "mean": cal.mean,
                            "abs_mean": cal.abs_mean},
            "q_scene_sum": self.q_scene_sum, "q_scene_count": self.q_scene_count,
            "scene": None if scene is None else {"index": scene.index, "label": scene.label,
                                                 "feature": scene.feature, "transition": scene.transition,
                                                 "frames": scene.frames},
            "scenes_started": self.scenes_started,
            "anchor_ids": self.anchor_ids, "anchors_before": self._anchors_before,
            "rolled_for": None if self._rolled_for is None else list(self._rolled_for),
        }

    def load_state_dict(self, state: dict, owner: str) -> None:
        copy_into(self.reuse, state["reuse"], "reuse", owner)
        copy_into(self.q_scene_sum, state["q_scene_sum"], "q_scene_sum", owner)
        cal, saved = self.calibration, state["calibration"]
        require(saved, ("sum", "abs_sum", "count", "mean", "abs_mean"), owner + " calibration")
        for name in ("sum", "abs_sum", "count"):
            copy_into(getattr(cal, name), saved[name], f"calibration.{name}", owner)
        cal.mean = tensor_or_none(saved["mean"], self.reuse.device)
        cal.abs_mean = tensor_or_none(saved["abs_mean"], self.reuse.device)
        self.q_scene_count = int(state["q_scene_count"])
        scene = state["scene"]
        self.scene = None if scene is None else Scene(int(scene["index"]), scene["label"],
                                                      tensor_or_none(scene["feature"], "cpu"), scene["transition"],
                                                      int(scene["frames"]))
        self.scenes_started = int(state["scenes_started"])
        ints = lambda ids: None if ids is None else [int(a) for a in ids]  # noqa: E731
        self.anchor_ids, self._anchors_before = ints(state["anchor_ids"]), ints(state["anchors_before"])
        self._rolled_for = None if state["rolled_for"] is None else tuple(state["rolled_for"])
