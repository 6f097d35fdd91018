"""A session's timeline as Scene Script text (runtime/timeline_text.py), to replay it exactly.

Each scene is written with its prompt text, its label as `{label}`, its block-exact duration in
seconds, and the transition into the next scene as it happened: the mode the memory chose for an
`auto` (smooth, `#` cut, `@` recall) and, for a recall, the scene it recalled (`@label` / `@index`),
so the replay makes no similarity decision of its own. Replayed from a new session with the same
seed, steps and model, Scene Script From Text gives the same latents as the session made.
"""
from __future__ import annotations

from ..engine.errors import EchoError
from ..engine.geometry import FPS, VAE_TEMPORAL_STRIDE

MARK = {"smooth": "", "cut": "#", "recall": "@", "auto": "~"}


def block_seconds(blocks: int, frames_per_block: int) -> str:
    """Seconds that Scene Script turns back into exactly `blocks` blocks (multiples of 1/16 s print exactly)."""
    seconds = blocks * frames_per_block * VAE_TEMPORAL_STRIDE / FPS
    return f"{seconds:.4f}".rstrip("0").rstrip(".")


def _into(record: dict) -> str:
    """The marker for how `record` began (written on the scene before it)."""
    mode = record.get("mode") or record["transition"]
    if mode == "start":
        raise EchoError(f"scene {record['index']} starts the session again; a timeline has one start")
    mark = MARK[mode]
    if mode == "recall" and record.get("recall") is not None:
        mark += str(record["recall"])
    return mark


def export_timeline(scenes: list[dict], frames_per_block: int, note: str | None = None) -> str:
    """The Scene Script text of a session's timeline (its `Session.timeline()` records)."""
    scenes = [s for s in scenes if s["blocks"] > 0]
    if not scenes:
        raise EchoError("the session has no blocks yet; there is nothing to export")
    unknown = [str(s["index"]) for s in scenes if not s.get("text")]
    if unknown:
        raise EchoError(f"scene(s) {', '.join(unknown)} were prompted with a CONDITIONING, whose text the session "
                        f"does not know; only scenes from text (Scene Script From Text, live commands) export")
    worded = [str(s["index"]) for s in scenes if s.get("text_feature")]
    if worded:
        raise EchoError(f"scene(s) {', '.join(worded)} were matched for recall by their distinctive words (a recall by "
                        f"similarity, '@', in Scene Script From Text), which depend on every prompt of that script; "
                        f"the export could not replay them exactly. Name the scene to recall instead ([Ns@label])")
    parts = []
    for k, record in enumerate(scenes):
        label = f" {{{record['label']}}}" if record.get("label") else ""
        mark = _into(scenes[k + 1]) if k + 1 < len(scenes) else ""
        subtitle = f" ; {note}" if note and k == 0 else ""
        parts.append(f"{record['text']}{label} [{block_seconds(record['blocks'], frames_per_block)}s{mark}]{subtitle}")
    return " | ".join(parts)
