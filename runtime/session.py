"""A generation session: one model, one memory policy, one RNG and a timeline of scenes.

`Session.run(script)` generates the script's blocks after whatever the session made before, so
running two scripts one after the other gives exactly the latents of running them as one script
(the memory, the RNG and the prompt stay where the first run left them). Sessions live in a
registry keyed by name; that is what lets ComfyUI's Queue button continue a video.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..engine.errors import EchoError
from ..engine.schedule import FlowSchedule
from ..engine.geometry import cache_geometry
from ..engine.prompts import same_prompt
from ..engine.state import require, tensor_or_none
from ..engine.stream import BlockStreamer, StreamSettings
from ..engine.transformer import CausalWan
from .memory_choice import MemoryChoice
from .script import Scene, SceneScript


@dataclass(frozen=True)
class SessionSpec:
    """What a session is created with; a continuation must match it."""

    width: int
    height: int
    seed: int = 0
    batch: int = 1
    frames_per_block: int = 3
    steps: tuple[float, ...] = (1000, 750, 500, 250)
    shift: float = 5.0
    memory: MemoryChoice = field(default_factory=MemoryChoice)

    def stream_settings(self) -> StreamSettings:
        return StreamSettings(FlowSchedule(tuple(self.steps), self.shift), self.frames_per_block)

    def to_json(self) -> dict:
        return {"width": self.width, "height": self.height, "seed": self.seed, "batch": self.batch,
                "frames_per_block": self.frames_per_block, "steps": list(self.steps), "shift": self.shift,
                "memory": self.memory.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "SessionSpec":
        return cls(int(data["width"]), int(data["height"]), int(data["seed"]), int(data["batch"]),
                   int(data["frames_per_block"]), tuple(float(s) for s in data["steps"]), float(data["shift"]),
                   MemoryChoice.from_json(data["memory"]))


@dataclass
class SceneRecord:
    """One scene of the session's timeline (session-wide indices)."""

    index: int
    label: str | None
    transition: str  # "start", "smooth", "cut", "recall", "auto"
    start_block: int
    blocks: int = 0

    def to_json(self) -> dict:
        return {"index": self.index, "label": self.label, "transition": self.transition,
                "start_block": self.start_block, "blocks": self.blocks}


def recall_target(target: str | int) -> str | int:
    """A typed "3" names scene index 3; anything else is a label."""
    return int(target) if isinstance(target, str) and target.strip().isdigit() else target


@dataclass(frozen=True)
class PlannedScene:
    scene: Scene
    blocks: int
    transition: str | None  # what the memory is told at the scene's first block; None = carry on
    record_index: int  # session scene index this scene's blocks belong to


@dataclass
class BlockReport:
    """Handed to `on_block` after each block."""

    block: int  # session-wide block index
    run_block: int
    run_blocks: int
    scene: SceneRecord
    latents: torch.Tensor  # [B, C, frames_per_block, H/8, W/8]
    elapsed: float  # seconds since the run started


@dataclass
class RunResult:
    latents: torch.Tensor  # this run's blocks [B, C, T, H/8, W/8] on the CPU
    first_block: int
    blocks_done: int
    blocks_planned: int
    interrupted: bool


def estimate_cache_bytes(model: CausalWan, spec: SessionSpec) -> int:
    """Bytes the session's memory will allocate, measured on the meta device (nothing allocated)."""
    geometry = cache_geometry(model, width=spec.width, height=spec.height, frames_per_block=spec.frames_per_block,
                              batch=spec.batch, device="meta")
    policy = spec.memory.build()
    policy.setup(geometry)
    return policy.nbytes()


class Session:
    def __init__(self, name: str, model: CausalWan, spec: SessionSpec, model_name: str = ""):
        self.name, self.model, self.spec = name, model, spec
        self.id = uuid.uuid4().hex[:12]  # tells this session from a later one under the same name
        self.model_name = model_name  # for messages: which model the session was made with
        self.memory = spec.memory.build()
        self.streamer = BlockStreamer(model, self.memory, width=spec.width, height=spec.height, seed=spec.seed,
                                      batch=spec.batch, settings=spec.stream_settings())
        self.scenes: list[SceneRecord] = []
        self.conditioning: torch.Tensor | None = None
        self.run_blocks: list[torch.Tensor] = []  # the current (or last) run's blocks, kept if a run fails

    def use_model(self, model: CausalWan) -> None:
        """Carry on with other weights of the same sizes (e.g. a changed LoRA strength)."""
        if model is self.model:
            return
        if model.config != self.model.config:
            raise EchoError(f"session {self.name!r} was made with a model of other sizes; start a new session "
                            f"for this model")
        self.model = self.streamer.model = model
        self.streamer.text = None  # cross-attention K/V come from the new weights

    def state_dict(self) -> dict:
        """What defines the session from here on: its timeline, its current prompt and the stream's state.

        Tensors may be live buffers (copy them before the session runs on). The current prompt is
        kept once when it is the stream's last prompt (the usual case).
        """
        stream = self.streamer.state_dict()
        shared = self.conditioning is not None and same_prompt(stream["prompt"], self.conditioning)
        return {"scenes": self.timeline(), "conditioning": None if shared else self.conditioning,
                "conditioning_is_prompt": shared, "stream": stream}

    def load_state_dict(self, state: dict) -> None:
        """Continue a saved session; this one must be freshly made with the same spec and model sizes."""
        require(state, ("scenes", "conditioning", "conditioning_is_prompt", "stream"), "session")
        self.streamer.load_state_dict(state["stream"])
        self.scenes = [SceneRecord(**record) for record in state["scenes"]]
        self.conditioning = (self.streamer.prompt if state["conditioning_is_prompt"]
                             else tensor_or_none(state["conditioning"], self.model.device))

    def run_latents(self) -> torch.Tensor:
        """The blocks of the current or last run so far (what an interrupted run keeps)."""
        return torch.cat(self.run_blocks, dim=2) if self.run_blocks else self._empty_latents()

    @property
    def blocks_done(self) -> int:
        return self.streamer.block_index

    # ------------------------------------------------------------------ planning
    def plan(self, script: SceneScript) -> list[PlannedScene]:
        """Blocks per scene and what each scene's first block tells the memory; checks recall targets."""
        counts = script.block_counts(self.spec.frames_per_block)
        labels = {r.label: r.index for r in self.scenes if r.label}
        next_index = len(self.scenes)
        planned = []
        for position, (scene, blocks) in enumerate(zip(script.scenes, counts)):
            transition = scene.transition
            if transition == "start":
                if not self.scenes:
                    transition = "start"
                elif self._same_prompt(scene.conditioning):
                    transition = None  # continue the current scene
                else:
                    transition = scene.on_continue
            if transition == "recall" and scene.recall is not None:
                self._check_recall(scene.recall, labels, next_index, position)
            index = next_index - 1 if transition is None else next_index
            next_index = index + 1
            if scene.label and transition is not None:
                labels[scene.label] = index
            planned.append(PlannedScene(scene, blocks, transition, index))
        return planned

    def _same_prompt(self, conditioning) -> bool:
        return self.conditioning is not None and same_prompt(self.conditioning, conditioning)

    def _check_recall(self, target, labels: dict, next_index: int, position: int) -> None:
        target = recall_target(target)
        if isinstance(target, int):
            if not 0 <= target < next_index:
                raise EchoError(f"Scene Recall (script scene {position + 1}) asks for scene index {target}, but only "
                                f"scenes 0..{next_index - 1} exist before it")
        elif target not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise EchoError(f"Scene Recall (script scene {position + 1}) asks for a scene labelled {target!r}, "
                            f"which does not come before it; labelled scenes: {known}. "
                            f"Leave the target empty to recall by prompt similarity.")

    # ------------------------------------------------------------------ running
    def run(self, script: SceneScript, *, on_block: Callable[[BlockReport], None] | None = None,
            should_stop: Callable[[], bool] | None = None, plan: list[PlannedScene] | None = None) -> RunResult:
        """Generate the script after what the session already made; stops early when `should_stop()`."""
        plan = plan if plan is not None else self.plan(script)
        total = sum(p.blocks for p in plan)
        first_block, started = self.blocks_done, time.perf_counter()
        blocks = self.run_blocks = []
        interrupted = False
        for planned in plan:
            for j in range(planned.blocks):
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
                record, fields = self._enter(planned, j)
                x0 = self.streamer.next_block(self.conditioning, **fields)
                record.blocks += 1
                blocks.append(x0.detach().to("cpu"))
                if on_block is not None:
                    on_block(BlockReport(self.blocks_done - 1, len(blocks) - 1, total, record, x0,
                                         time.perf_counter() - started))
            if interrupted:
                break
        return RunResult(self.run_latents(), first_block, len(blocks), total, interrupted)

    def _enter(self, planned: PlannedScene, j: int) -> tuple[SceneRecord, dict]:
        """The scene record a block belongs to, and the memory event fields of the block."""
        scene = planned.scene
        if j > 0 or planned.transition is None:
            return self.scenes[-1], {}
        # the scene's first block: a new scene record (kept if the block fails, so it is not made twice)
        if not self.scenes or self.scenes[-1].index != planned.record_index:
            self.scenes.append(SceneRecord(planned.record_index, scene.label, planned.transition, self.blocks_done))
        record = self.scenes[-1]
        self.conditioning = scene.conditioning
        extras = {"label": scene.label} if scene.label else {}
        feature = {"prompt_feature": scene.prompt_feature} if scene.prompt_feature is not None else {}
        if planned.transition == "start":
            return record, {"scene_index": record.index, "extras": extras, **feature}
        if planned.transition == "recall" and scene.recall is not None:
            extras["recall"] = recall_target(scene.recall)
        return record, {"transition": planned.transition, "scene_index": record.index, "extras": extras, **feature}

    def _empty_latents(self) -> torch.Tensor:
        s = self.streamer
        return torch.zeros(s.batch, self.model.config.in_dim, 0, s.latent_h, s.latent_w)

    def planned_timeline(self, plan: list[PlannedScene]) -> list[dict]:
        """The timeline as it will be once `plan` has run (for the live preview's first event)."""
        records = self.timeline()
        block = self.blocks_done
        for p in plan:
            if records and (p.transition is None or records[-1]["index"] == p.record_index):
                records[-1]["blocks"] += p.blocks
            else:
                records.append({"index": p.record_index, "label": p.scene.label, "transition": p.transition,
                                "start_block": block, "blocks": p.blocks})
            block += p.blocks
        return records

    def timeline(self) -> list[dict]:
        return [r.to_json() for r in self.scenes]

    def cache_bytes(self) -> int:
        return self.memory.nbytes()
