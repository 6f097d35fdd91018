"""Rewind points: the session's state at scene starts, on the CPU, so a scene can be taken again.

A snapshot is `session_state.snapshot` (the session's explicit state dict: timeline, prompt, RNG,
re-cache frames and the memory, copied to the CPU), taken just before a scene's first block.
Loading it back puts the session exactly where it stood, so rewinding and continuing with the
original script gives the original latents. At most `limit` snapshots are kept per session (the
oldest go first); their bytes are reported so the user sees what rewinding costs.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..engine.errors import EchoError
from .session import Session
from .session_state import SessionSnapshot, snapshot
from .state_io import join

DEFAULT_LIMIT = 4
MAX_SESSIONS = 4  # sessions whose rewind points are kept (least recently used go first)


class RewindPoints:
    """One session's snapshots by scene index."""

    def __init__(self, session_id: str, limit: int = DEFAULT_LIMIT):
        self.session_id, self.limit = session_id, limit
        self._points: OrderedDict[int, SessionSnapshot] = OrderedDict()

    def take(self, session: Session, scene: int) -> None:
        if self.limit <= 0:
            return
        self._points.pop(scene, None)
        self._points[scene] = snapshot(session)
        while len(self._points) > self.limit:
            self._points.popitem(last=False)

    def rewind(self, session: Session, scene: int) -> int:
        """Put the session back at the start of `scene`; returns the session's block count there."""
        point = self._points.get(scene)
        if point is None:
            have = ", ".join(map(str, self._points)) or "none"
            raise EchoError(f"no rewind point for scene {scene} of session {session.name!r} (kept: {have}; "
                            f"rewind points are taken at scene starts, the oldest dropped beyond {self.limit})")
        session.load_state_dict(join(point.meta["session"], point.tensors, f"rewind point of scene {scene}"))
        for later in [k for k in self._points if k > scene]:
            del self._points[later]  # what came after is gone
        return point.meta["blocks"]

    def describe(self) -> list[dict]:
        return [{"scene": k, "block": p.meta["blocks"], "bytes": p.nbytes()} for k, p in self._points.items()]

    def nbytes(self) -> int:
        return sum(p.nbytes() for p in self._points.values())


class RewindStore:
    """Rewind points of the recent sessions of this process, by session name."""

    def __init__(self, max_sessions: int = MAX_SESSIONS):
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._by_name: OrderedDict[str, RewindPoints] = OrderedDict()

    def points(self, session: Session, limit: int = DEFAULT_LIMIT) -> RewindPoints:
        """The session's rewind points (new ones when the name now holds another session)."""
        with self._lock:
            points = self._by_name.get(session.name)
            if points is None or points.session_id != session.id:
                points = RewindPoints(session.id, limit)
            points.limit = limit
            self._by_name[session.name] = points
            self._by_name.move_to_end(session.name)
            while len(self._by_name) > self.max_sessions:
                self._by_name.popitem(last=False)
            return points

    def peek(self, name: str) -> RewindPoints | None:
        with self._lock:
            return self._by_name.get(name)


REWIND = RewindStore()
