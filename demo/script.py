"""The demo's six-scene interactive script: what a user does in ComfyUI, as one SceneScript."""
from __future__ import annotations

from dataclasses import dataclass

from ..runtime.script import SceneScript


@dataclass(frozen=True)
class DemoScene:
    prompt: str  # key into the prompt embeddings
    label: str
    transition: str  # how the scene begins
    recall: str | None = None  # recall target label; None with "recall" = by prompt similarity
    note: str = ""
    seconds: float | None = None  # None: the demo's seconds per scene


SCENES = (
    DemoScene("A", "A", "start", note="a scene begins"),
    DemoScene("B", "B", "smooth", note="the prompt changes within the story"),
    DemoScene("C", "C", "cut", note="a hard cut to something unrelated"),
    DemoScene("A", "A again", "recall", "A", note="back to A, recalled by its label"),
    DemoScene("D", "D", "smooth", note="A's story moves on"),
    DemoScene("E", "E", "recall", None, note="a prompt like C's (the toy model: C's category): recalled by similarity alone"),
)


def file_scenes(text_scenes) -> tuple[tuple[DemoScene, ...], dict[str, str]]:
    """A prompt file's scenes as demo scenes S1, S2, ...; prompts keyed P0, P1, ... by first appearance.

    Returns (scenes, {key: prompt text})."""
    keys: dict[str, str] = {}
    scenes = tuple(DemoScene(keys.setdefault(t.prompt, f"P{len(keys)}"), f"S{i + 1}", t.transition,
                             note=t.prompt[:80], seconds=t.seconds) for i, t in enumerate(text_scenes))
    return scenes, {key: text for text, key in keys.items()}


def demo_script(prompts: dict, seconds_per_scene: float, scenes=SCENES) -> SceneScript:
    first, *rest = scenes
    script = SceneScript.start(prompts[first.prompt], first.seconds or seconds_per_scene, label=first.label)
    for s in rest:
        script = script.then(prompts[s.prompt], s.seconds or seconds_per_scene, s.transition, label=s.label,
                             recall=s.recall)
    return script


def describe(seconds_per_scene: float, blocks: list[int], scenes=SCENES) -> list[dict]:
    return [{"label": s.label, "prompt": s.prompt, "transition": s.transition, "recall": s.recall,
             "seconds": s.seconds or seconds_per_scene, "blocks": n, "note": s.note} for s, n in zip(scenes, blocks)]
