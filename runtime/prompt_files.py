"""The prompt sets papers report on, read into scene lists (then encoded into a scene script).

Two formats, one script per non-empty line:

- LongLive / MemFlow interactive benchmark (`prompts/interactive_benchmark.jsonl`, 100 lines of 6
  prompts): each line is a JSON object `{"prompts": ["...", ...]}`. The switch points are not in the
  file but in the inference config, as latent-frame indices (`switch_frame_indices: 40, 80, 120, 160,
  200` of `num_output_frames: 240`): the k-th prompt runs from the (k-1)-th index to the k-th, the
  last one to the end. Every switch is a prompt switch within one story (smooth).
- Echo-Forcing's interactive sets (`prompts/inter_prompts/{smooth,hardcut,recall}-64.txt`): each line
  is a timeline in its prompt syntax, `scene [10s#] | scene [10s@] | scene [10s]` (see timeline_text).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..engine.errors import EchoError
from .script import FPS, PIXEL_FRAMES_PER_LATENT
from .timeline_text import TextScene, parse_timeline

FORMATS = ("auto", "interactive jsonl", "timeline lines")
SEGMENT_FRAMES = 40  # LongLive / MemFlow: a prompt every 40 latent frames (10 s)


@dataclass(frozen=True)
class PromptFile:
    """One script of a prompt file: its scenes, and where it came from."""

    scenes: list[TextScene]
    format: str
    index: int  # 0-based among the file's scripts
    count: int  # scripts in the file


def parse_switch_frames(text: str) -> tuple[int, ...]:
    """'40, 80, 120' -> (40, 80, 120); empty -> (); must rise strictly from above 0."""
    try:
        frames = tuple(int(s) for s in str(text or "").replace(";", ",").split(",") if s.strip())
    except ValueError:
        raise EchoError(f"switch frames must be whole latent-frame indices separated by commas, like "
                        f"'40, 80, 120, 160, 200'; got {text!r}") from None
    if any(f <= 0 for f in frames) or any(b <= a for a, b in zip(frames, frames[1:])):
        raise EchoError(f"switch frames must rise strictly and be above 0; got {list(frames)}")
    return frames


def segment_seconds(count: int, switch_frames: tuple[int, ...] = (), total_frames: int | None = None) -> list[float]:
    """Seconds of each of `count` prompts from latent-frame switch indices (default: every 40 frames)."""
    if not switch_frames:
        switch_frames = tuple(SEGMENT_FRAMES * k for k in range(1, count))
    if len(switch_frames) != count - 1:
        raise EchoError(f"{count} prompts need {count - 1} switch frames, got {len(switch_frames)} "
                        f"({list(switch_frames)}); leave them empty for a switch every {SEGMENT_FRAMES} latent frames")
    last = switch_frames[-1] if switch_frames else 0
    total = total_frames if total_frames else last + (switch_frames[0] if switch_frames else SEGMENT_FRAMES)
    if total <= last:
        raise EchoError(f"the video has {total} latent frames, but a prompt switches at frame {last}")
    bounds = (0,) + switch_frames + (total,)
    return [(b - a) * PIXEL_FRAMES_PER_LATENT / FPS for a, b in zip(bounds, bounds[1:])]


def _script_lines(text: str) -> list[tuple[int, str]]:
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def detect_format(text: str) -> str:
    lines = _script_lines(text)
    if not lines:
        raise EchoError("the prompt file is empty; it needs one script per line")
    return "interactive jsonl" if lines[0][1].lstrip().startswith("{") else "timeline lines"


def _jsonl_prompts(number: int, line: str) -> list[str]:
    try:
        data = json.loads(line)
    except ValueError as err:
        raise EchoError(f"line {number} is not valid JSON ({err.msg} at column {err.colno}); each line of an "
                        f"interactive .jsonl holds one object like {{\"prompts\": [\"...\", \"...\"]}}") from None
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise EchoError(f"line {number} has no \"prompts\" list of non-empty texts; each line of an interactive "
                        f".jsonl holds one object like {{\"prompts\": [\"...\", \"...\"]}}")
    return [" ".join(p.split()) for p in prompts]


def read_prompt_file(text: str, *, index: int = 0, format: str = "auto", switch_frames: tuple[int, ...] = (),
                     total_frames: int | None = None, default_seconds: float = 10.0) -> PromptFile:
    """Script `index` (0-based, among the non-empty lines) of a prompt file's text."""
    if format not in FORMATS:
        raise EchoError(f"unknown prompt file format {format!r}; use one of {', '.join(FORMATS)}")
    kind = detect_format(text) if format == "auto" else format
    lines = _script_lines(text)
    if not lines:
        raise EchoError("the prompt file is empty; it needs one script per line")
    if not 0 <= index < len(lines):
        raise EchoError(f"script index {index} is out of range: the file holds {len(lines)} script"
                        f"{'' if len(lines) == 1 else 's'} (0..{len(lines) - 1})")
    number, line = lines[index]
    if kind == "interactive jsonl":
        prompts = _jsonl_prompts(number, line)
        seconds = segment_seconds(len(prompts), switch_frames, total_frames)
        scenes = [TextScene(p, s, "start" if k == 0 else "smooth") for k, (p, s) in enumerate(zip(prompts, seconds))]
    else:
        if line.lstrip().startswith("{"):
            raise EchoError(f"line {number} looks like JSON; read the file as 'interactive jsonl'")
        try:
            scenes = parse_timeline(line, default_seconds)
        except EchoError as err:
            raise EchoError(f"line {number}: {err}") from None
    return PromptFile(scenes, kind, index, len(lines))
