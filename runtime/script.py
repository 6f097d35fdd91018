"""Scene scripts: an immutable timeline of scenes (prompt, duration, how it begins).

A script is a value, so branching ComfyUI graphs can extend one script in two ways. Durations
turn into blocks the way Echo-Forcing does (notes §2.1): a scene of N seconds is
max(1, int(N * 16 / (4 * frames_per_block))) blocks, and the last scene absorbs the leftover
blocks of the rounded total, ceil(total_s * 16 // 4 / frames_per_block).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..engine.errors import EchoError
from ..engine.geometry import FPS, VAE_TEMPORAL_STRIDE
from ..engine.transitions import SCRIPT_TRANSITIONS as TRANSITIONS

PIXEL_FRAMES_PER_LATENT = VAE_TEMPORAL_STRIDE  # re-exported for callers of this module; a rate, not a count


@dataclass(frozen=True)
class Scene:
    conditioning: Any  # the prompt: a text-embedding tensor [B, L, C]
    seconds: float
    transition: str = "start"  # how this scene begins; "start" only for a script's first scene
    label: str | None = None
    recall: str | int | None = None  # recall target (label or scene index); None = by similarity
    on_continue: str = "smooth"  # a "start" scene that extends a session with another prompt
    prompt_feature: Any = None  # [C] unit vector for recall by similarity; None = mean-pooled conditioning

    def __post_init__(self):
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds) and self.seconds > 0):
            raise EchoError(f"scene duration must be a positive number of seconds, got {self.seconds!r}")
        if self.transition not in TRANSITIONS:
            raise EchoError(f"unknown transition {self.transition!r}; use one of {TRANSITIONS}")
        if self.on_continue not in ("smooth", "cut", "auto"):
            raise EchoError(f"on_continue must be smooth, cut or auto, got {self.on_continue!r}")
        if self.conditioning is None:
            raise EchoError("a scene needs a prompt (CONDITIONING); connect a text encoder's output")


@dataclass(frozen=True)
class SceneScript:
    scenes: tuple[Scene, ...]

    def __post_init__(self):
        if not self.scenes:
            raise EchoError("the scene script is empty; begin it with a Scene Start node")
        if self.scenes[0].transition != "start":
            raise EchoError("a scene script must begin with a Scene Start")
        if any(s.transition == "start" for s in self.scenes[1:]):
            raise EchoError("only the first scene of a script can be a Scene Start; use Prompt Switch, "
                            "Hard Cut, Scene Recall or Auto Transition after it")

    @classmethod
    def start(cls, conditioning, seconds: float, label: str | None = None, on_continue: str = "smooth",
              prompt_feature=None):
        return cls((Scene(conditioning, seconds, "start", _label(label), None, on_continue, prompt_feature),))

    def then(self, conditioning, seconds: float, transition: str, label: str | None = None,
             recall: str | int | None = None, prompt_feature=None) -> "SceneScript":
        """A new, longer script; this one is unchanged."""
        if transition == "start":
            raise EchoError("use Prompt Switch, Hard Cut, Scene Recall or Auto Transition to add a scene")
        scene = Scene(conditioning, seconds, transition, _label(label), recall, prompt_feature=prompt_feature)
        return SceneScript(self.scenes + (scene,))

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.scenes)

    def block_counts(self, frames_per_block: int = 3) -> list[int]:
        counts = [max(1, int(s.seconds * FPS / (VAE_TEMPORAL_STRIDE * frames_per_block))) for s in self.scenes]
        total = math.ceil((self.seconds * FPS // VAE_TEMPORAL_STRIDE) / frames_per_block)
        counts[-1] += max(0, total - sum(counts))
        return counts

    def labels(self) -> list[str]:
        return [s.label for s in self.scenes if s.label]


def _label(label: str | None) -> str | None:
    label = (label or "").strip()
    return label or None
