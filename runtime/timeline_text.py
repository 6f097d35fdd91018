"""Echo-Forcing's prompt syntax: a whole timeline in one text box.

    a quiet beach at dawn [10s] | the same beach at noon [10s#] | a neon city street [10s@] | ...

Scenes are separated by `|`. Each carries a duration `[Ns]` (anywhere in its text; N may be
fractional). A marker after the number sets the transition OUT of that scene into the next one,
as in the released code (notes §6.4): `#` = hard cut, `@` = recall (of the most similar earlier
scene), none = smooth; the last scene's marker is ignored. Text after `;` is a subtitle and is
dropped; a scene with no duration gets `default_seconds`.

The pack adds (what a live session's exported script needs; plain Echo-Forcing text reads as before):
`[Ns@beach]` / `[Ns@2]` recall the scene labelled `beach` / scene index 2, `[Ns~]` = auto, and
`{beach}` anywhere in a scene's text labels that scene.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..engine.errors import EchoError

DURATION = re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*s\s*([#@~]?)\s*([A-Za-z0-9_.\-]*)\s*\]", re.IGNORECASE)
LABEL = re.compile(r"\{\s*([A-Za-z0-9_.\-]+)\s*\}")
MARKERS = {"": "smooth", "#": "cut", "@": "recall", "~": "auto"}


@dataclass(frozen=True)
class TextScene:
    prompt: str
    seconds: float
    transition: str  # how this scene begins: "start" for the first
    label: str | None = None
    recall: str | None = None  # a recall's target (label or index); None = the most similar scene


def parse_timeline(text: str, default_seconds: float = 10.0) -> list[TextScene]:
    segments = [seg for seg in (text or "").split("|")]
    if not any(seg.strip() for seg in segments):
        raise EchoError("the timeline text is empty; write scenes like 'a beach [10s] | a forest [10s#]'")
    scenes, next_transition, next_recall = [], "start", None
    for number, segment in enumerate(segments, start=1):
        body = segment.split(";", 1)[0]
        found = DURATION.findall(body)
        if len(found) > 1:
            raise EchoError(f"scene {number} has {len(found)} durations; give each scene one [Ns]")
        labels = LABEL.findall(body)
        if len(labels) > 1:
            raise EchoError(f"scene {number} has {len(labels)} labels; give each scene at most one {{label}}")
        prompt = " ".join(LABEL.sub(" ", DURATION.sub(" ", body)).split())
        if not prompt:
            raise EchoError(f"scene {number} has no prompt text (check for a stray '|')")
        seconds = float(found[0][0]) if found else float(default_seconds)
        if seconds <= 0:
            raise EchoError(f"scene {number} lasts {seconds} s; durations must be positive")
        scenes.append(TextScene(prompt, seconds, next_transition, labels[0] if labels else None, next_recall))
        marker, target = (found[0][1], found[0][2]) if found else ("", "")
        if target and marker != "@":
            raise EchoError(f"scene {number}: '{target}' after the duration names a recall target; write it after "
                            f"'@', as in [{found[0][0]}s@{target}]")
        next_transition, next_recall = MARKERS[marker], target or None
    return scenes
