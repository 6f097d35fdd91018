"""Steering commands for a live run: what a client may send, checked, and the queue they wait in.

A client (the node's widget, over the pack's HTTP routes) sends a prompt with a transition, a
rewind, or Stop. Bodies are validated here (known fields and transitions, bounded text, no
characters of the timeline syntax, nothing used as a path); the sampler thread takes the commands at
the next block boundary (`LiveChannel.due`), so a block is never generated under half a command.
Each applied command is recorded with the block where it took effect and its latency.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

TRANSITIONS = ("smooth", "cut", "recall", "auto")
MAX_TEXT = 2000  # characters of a prompt
MAX_PENDING = 32  # commands waiting at once
MAX_APPLIED = 500  # applied commands remembered per run (for the widget)
LABEL = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SYNTAX = "|;[]{}"  # would break the exported timeline text
PROMPT_FIELDS = {"text", "transition", "label", "target"}


class BadCommand(ValueError):
    """A request a client must fix (HTTP 400); the message names the problem."""


class NotRunning(LookupError):
    """The session exists but has no live run to steer (HTTP 409)."""


@dataclass
class Command:
    kind: str  # "prompt", "rewind" or "stop"
    text: str | None = None
    transition: str | None = None
    label: str | None = None
    target: str | int | None = None  # recall target (label or scene index); rewind: the scene index
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    arrived: float = field(default_factory=time.perf_counter)
    arrived_block: int = 0  # blocks the session had made when the command arrived

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "text": self.text, "transition": self.transition,
                "label": self.label, "target": self.target, "arrived_block": self.arrived_block}


def _label(value, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not LABEL.fullmatch(value):
        raise BadCommand(f"{name} must be 1-64 letters, digits, '_', '.' or '-', got {value!r:.80}")
    return value


def parse_prompt(body) -> Command:
    """A prompt command from a JSON body {text, transition?, label?, target?}."""
    if not isinstance(body, dict):
        raise BadCommand("the body must be a JSON object like {\"text\": \"a beach at dawn\", \"transition\": \"smooth\"}")
    unknown = sorted(set(body) - PROMPT_FIELDS)
    if unknown:
        raise BadCommand(f"unknown field(s) {', '.join(map(repr, unknown))}; a prompt command has "
                         f"{', '.join(sorted(PROMPT_FIELDS))}")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadCommand("text must be a non-empty string (the new prompt)")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        raise BadCommand(f"text is {len(text)} characters; at most {MAX_TEXT}")
    bad = sorted(set(text) & set(SYNTAX))
    if bad:
        raise BadCommand(f"text contains {' '.join(bad)}, which the timeline syntax reserves; leave them out")
    transition = body.get("transition", "smooth")
    if transition not in TRANSITIONS:
        raise BadCommand(f"unknown transition {transition!r:.40}; use one of {', '.join(TRANSITIONS)}")
    target = body.get("target")
    if target is not None and target != "":
        if transition != "recall":
            raise BadCommand(f"target names the scene to recall; it needs transition 'recall', not {transition!r}")
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise BadCommand("target must be a scene label or a scene index")
        if isinstance(target, int) or target.isdigit():
            target = int(target)
            if target < 0:
                raise BadCommand("target must be a scene index of 0 or more")
        else:
            target = _label(target, "target")
    else:
        target = None
    return Command("prompt", text, transition, _label(body.get("label"), "label"), target)


def parse_rewind(body) -> Command:
    """A rewind command from {scene: K}: back to the start of scene K."""
    if not isinstance(body, dict) or set(body) != {"scene"}:
        raise BadCommand("the body must be {\"scene\": K}, K the index of the scene to take again")
    scene = body["scene"]
    if isinstance(scene, bool) or not isinstance(scene, int) or scene < 0:
        raise BadCommand(f"scene must be a scene index of 0 or more, got {scene!r:.40}")
    return Command("rewind", target=scene)


class LiveChannel:
    """The commands of one live run: pending until a block boundary, then applied (with their block)."""

    def __init__(self, session: str, node: str = "", accepts_text: bool = True, max_pending: int = MAX_PENDING):
        self.session, self.node, self.accepts_text, self.max_pending = session, node, accepts_text, max_pending
        self.run = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._pending: deque[Command] = deque()
        self.applied: list[dict] = []
        self.blocks_done = 0  # the session's block count, updated by the run after each block
        self.scenes: list[dict] = []  # the session's timeline, updated by the run after each block
        self.snapshots: list[dict] = []  # rewind points: {scene, block, bytes}
        self.running = True

    def submit(self, command: Command) -> Command:
        if command.kind == "prompt" and not self.accepts_text:
            raise NotRunning(f"the live run of session {self.session!r} has no CLIP connected to the Streaming "
                             f"Sampler, so it cannot encode text; connect one and queue again")
        with self._lock:
            if not self.running:
                raise NotRunning(f"the live run of session {self.session!r} has ended")
            if len(self._pending) >= self.max_pending:
                raise NotRunning(f"{self.max_pending} commands are already waiting; wait for them or clear the queue")
            command.arrived, command.arrived_block = time.perf_counter(), self.blocks_done
            self._pending.append(command)
        return command

    def due(self) -> list[Command]:
        """At a block boundary: every waiting stop and rewind up to and including one prompt, in order."""
        taken = []
        with self._lock:
            while self._pending:
                command = self._pending.popleft()
                taken.append(command)
                if command.kind in ("prompt", "stop"):
                    break
        return taken

    def clear(self) -> int:
        with self._lock:
            n = len(self._pending)
            self._pending.clear()
        return n

    def pending(self) -> list[dict]:
        with self._lock:
            return [c.to_json() for c in self._pending]

    def record(self, command: Command, block: int, scene: int | None = None, error: str | None = None,
               dropped: int = 0) -> dict:
        """An applied (or refused) command; `dropped`: blocks a rewind took back."""
        entry = command.to_json() | {"block": block, "scene": scene, "latency_blocks": block - command.arrived_block,
                                     "latency_ms": None, "error": error, "dropped": dropped,
                                     "_arrived": command.arrived}
        with self._lock:
            self.applied.append(entry)
            del self.applied[:-MAX_APPLIED]
        return entry

    def block_done(self, block: int, scenes: list[dict]) -> None:
        """After each block: the latency of commands that took effect with it (arrival to block made)."""
        now = time.perf_counter()
        with self._lock:
            self.blocks_done, self.scenes = block + 1, scenes
            for entry in self.applied:
                if entry["latency_ms"] is None and entry["block"] == block and entry["error"] is None:
                    entry["latency_ms"] = round((now - entry["_arrived"]) * 1000, 3)

    def close(self) -> None:
        with self._lock:
            self.running = False
            self._pending.clear()

    def status(self) -> dict:
        with self._lock:
            return {"session": self.session, "node": self.node, "run": self.run, "running": self.running,
                    "accepts_text": self.accepts_text, "blocks": self.blocks_done, "scenes": list(self.scenes),
                    "pending": [c.to_json() for c in self._pending],
                    "applied": [{k: v for k, v in e.items() if not k.startswith("_")} for e in self.applied],
                    "snapshots": list(self.snapshots), "transitions": list(TRANSITIONS)}


class LiveChannels:
    """The live runs of this process by session name (a session has at most one run at a time)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channels: dict[str, LiveChannel] = {}

    @contextmanager
    def open(self, channel: LiveChannel):
        with self._lock:
            self._channels[channel.session] = channel
        try:
            yield channel
        finally:
            channel.close()
            with self._lock:
                if self._channels.get(channel.session) is channel:
                    del self._channels[channel.session]

    def get(self, session: str) -> LiveChannel | None:
        with self._lock:
            return self._channels.get(session)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._channels)


LIVE = LiveChannels()
