"""Transition names, in one place.

MODES are what a transition does to a scene memory; a caller may also name "auto" (the memory picks a
mode from prompt similarity); a scene script's first scene is a "start".
"""
from __future__ import annotations

from .memory_api import BlockEvent

MODES = ("smooth", "cut", "recall")
SWITCHES = MODES + ("auto",)
SCRIPT_TRANSITIONS = ("start",) + SWITCHES


def is_switch(event: BlockEvent) -> bool:
    """The block begins a new scene: a prompt change or a named transition."""
    return event.prompt_changed or event.transition in SWITCHES
