"""Sessions by name in this process, with their memory visible and releasable.

What survives between queue runs lives here. A session is either *live* (its scene memory and
work buffers on the model's device, ready to run) or *parked* (a snapshot of its state on the CPU;
its device memory is released). At most `live_cap` sessions are live: putting or continuing one more
parks the least recently used, and the log names it. A parked session comes back by itself when it
is continued and goes on exactly as if it had never moved (the snapshot is the saved-state path).
`release` parks idle sessions when the host (ComfyUI) needs memory; `free` forgets a session.

Handles (SCENE_MEMORY) name a session, its id and the block count when they were made; `check`
tells a handle that still matches from one whose session moved on, was freed or was replaced.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan
from .held_tensors import held_bytes
from .session import Session, SessionSpec
from .session_state import SessionSnapshot, restore, snapshot

log = logging.getLogger("echo_stream")
LIVE_SESSIONS_ENV = "ECHO_STREAM_LIVE_SESSIONS"
DEFAULT_LIVE_SESSIONS = 2
GONE_REMEMBERED = 64  # names of freed or replaced sessions kept for clear messages


def live_cap_from_env() -> int:
    raw = os.environ.get(LIVE_SESSIONS_ENV, "").strip()
    if not raw:
        return DEFAULT_LIVE_SESSIONS
    if not raw.isdigit() or int(raw) < 1:
        raise EchoError(f"{LIVE_SESSIONS_ENV}={raw!r}: give the number of sessions kept on the device, 1 or more")
    return int(raw)


def mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


@dataclass
class Parked:
    """A session whose device memory was released; its state waits on the CPU."""

    name: str
    id: str
    model_name: str
    spec: SessionSpec
    blocks_done: int
    model: CausalWan
    state: SessionSnapshot
    reason: str


@dataclass(frozen=True)
class Freed:
    name: str
    id: str
    bytes_by_device: dict  # what was released, {"cuda:0": n, "cpu": m}

    @property
    def total(self) -> int:
        return sum(self.bytes_by_device.values())

    def describe(self) -> str:
        where = ", ".join(f"{mib(n)} on {d}" for d, n in sorted(self.bytes_by_device.items()) if n) or "nothing"
        return f"freed session {self.name!r}: {where}"


def same_device(a: torch.device | str, b: torch.device | str) -> bool:
    a, b = torch.device(a), torch.device(b)
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


class SessionRegistry:
    def __init__(self, live_cap: int | None = None):
        self.live_cap = live_cap_from_env() if live_cap is None else live_cap
        self._entries: OrderedDict[str, Session | Parked] = OrderedDict()  # least recently used first
        self._busy: set[str] = set()
        self._gone: OrderedDict[str, tuple[str, str]] = OrderedDict()  # name -> (id, what happened)

    # ------------------------------------------------------------------ lookup
    def names(self) -> list[str]:
        return sorted(self._entries)

    def live_names(self) -> list[str]:
        return [n for n, e in self._entries.items() if isinstance(e, Session)]

    def parked_names(self) -> list[str]:
        return [n for n, e in self._entries.items() if isinstance(e, Parked)]

    def peek(self, name: str) -> Session | Parked | None:
        """The entry under `name`, live or parked, without bringing it back or touching its age."""
        return self._entries.get(name)

    def get(self, name: str, model: CausalWan | None = None, model_name: str = "") -> Session | None:
        """The live session (a parked one is brought back onto `model`, default its own).

        Another `model` of the same sizes carries the session on with its weights (a changed LoRA
        strength, say); the log says so, naming both models.
        """
        entry = self._entries.get(name)
        if entry is None:
            return None
        if model is not None and model is not entry.model:
            log.info("echo_stream: session %r (made with model %r) continues with other weights%s", name,
                     entry.model_name, f" ({model_name!r})" if model_name else "")
        if isinstance(entry, Parked):
            entry = self._bring_back(entry, model)
        elif model is not None:
            entry.use_model(model)
        self._entries.move_to_end(name)
        self._enforce_cap(keep=name)
        return entry

    def require(self, name: str, model: CausalWan | None = None, model_name: str = "") -> Session:
        session = self.get(name, model, model_name)
        if session is None:
            raise EchoError(self._missing(name) + "; set mode to 'new' to start it, or load a saved scene memory")
        return session

    def _missing(self, name: str) -> str:
        known = ", ".join(sorted(self._entries)) or "none"
        gone = self._gone.get(name)
        if gone is not None and gone[1] == "freed":
            return f"session {name!r} was freed (Free Scene Memory) and is no longer in memory (sessions: {known})"
        return f"no session named {name!r} to continue (sessions: {known})"

    # ------------------------------------------------------------------ adding and freeing
    def put(self, session: Session) -> Session:
        if session.name in self._entries:
            self._forget(session.name, "replaced")
        self._entries[session.name] = session
        self._enforce_cap(keep=session.name)
        return session

    def free(self, name: str) -> Freed | None:
        """Forget the session and release everything it holds; None when there is no such session."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        if name in self._busy:
            raise EchoError(f"session {name!r} is generating; free it after the run (or Cancel the run first)")
        freed = Freed(name, entry.id, held_bytes(entry.state if isinstance(entry, Parked) else entry))
        self._forget(name, "freed")
        log.info("echo_stream: %s", freed.describe())
        return freed

    def drop(self, name: str) -> None:
        """Forget a session (before a new one of that name is allocated)."""
        if name in self._entries:
            self._forget(name, "replaced")

    def _forget(self, name: str, what: str) -> None:
        entry = self._entries.pop(name)
        self._gone[name] = (entry.id, what)
        self._gone.move_to_end(name)
        while len(self._gone) > GONE_REMEMBERED:
            self._gone.popitem(last=False)

    # ------------------------------------------------------------------ parking
    @contextmanager
    def busy(self, name: str):
        """While a session runs it is never parked or freed."""
        self._busy.add(name)
        try:
            yield
        finally:
            self._busy.discard(name)

    def park(self, name: str, reason: str) -> dict[str, int]:
        """Move a live session's state to the CPU and release its device memory; bytes released by device."""
        session = self._entries[name]
        if isinstance(session, Parked):
            return {}
        if name in self._busy:
            raise EchoError(f"session {name!r} is generating and cannot be moved")
        released = held_bytes(session)
        state = snapshot(session)
        self._entries[name] = Parked(name, session.id, session.model_name, session.spec, session.blocks_done,
                                     session.model, state, reason)
        released["cpu"] = released.get("cpu", 0) - state.nbytes()  # the snapshot itself stays on the CPU
        where = ", ".join(f"{mib(n)} on {d}" for d, n in sorted(released.items()) if n > 0) or "no device memory"
        log.info("echo_stream: session %r moved to the CPU (%s; %s released); it comes back when continued",
                 name, reason, where)
        return released

    def release(self, device: torch.device | str | None = None, needed: float | None = None,
                reason: str = "memory was needed") -> int:
        """Park idle live sessions on `device` (all devices: None), least recently used first, until
        `needed` bytes of that device are released (None: all of them). Returns the bytes released."""
        total = 0
        for name in list(self._entries):
            if needed is not None and total >= needed:
                break
            entry = self._entries[name]
            if not isinstance(entry, Session) or name in self._busy:
                continue
            home = entry.streamer.geometry.device
            if device is not None and not same_device(home, device):
                continue
            released = self.park(name, reason)
            total += sum(n for d, n in released.items() if (d != "cpu" if device is None else same_device(d, device)))
        return total

    def _enforce_cap(self, keep: str) -> None:
        live = [n for n in self.live_names() if n != keep and n not in self._busy]
        excess = len(self.live_names()) - self.live_cap
        for name in live[:max(0, excess)]:  # least recently used first
            self.park(name, f"more than {self.live_cap} live sessions ({LIVE_SESSIONS_ENV})")

    def _bring_back(self, parked: Parked, model: CausalWan | None) -> Session:
        model = model or parked.model
        if model.config != parked.model.config:
            raise EchoError(f"session {parked.name!r} was made with a model of other sizes; start a new session "
                            f"for this model")
        session = restore(parked.state, model, parked.name, f"parked session {parked.name!r}", parked.id,
                          parked.model_name)
        self._entries[parked.name] = session
        log.info("echo_stream: session %r is back on %s (%s)", parked.name, session.streamer.geometry.device,
                 mib(session.cache_bytes()))
        return session

    # ------------------------------------------------------------------ handles
    def check(self, name: str, session_id: str, blocks: int, use: str) -> Session | Parked:
        """The entry a handle points at, or a message saying why the handle no longer matches it."""
        entry = self._entries.get(name)
        if entry is None or entry.id != session_id:
            gone = self._gone.get(name)
            if entry is None and gone is not None and gone[0] == session_id and gone[1] == "freed":
                raise EchoError(f"{use}: session {name!r} was freed (Free Scene Memory) after this scene memory was "
                                f"made; run the sampler again or load a saved file")
            if entry is None:
                raise EchoError(f"{use}: {self._missing(name)}; run the sampler that makes it again")
            made = f" (model {entry.model_name!r})" if entry.model_name else ""
            raise EchoError(f"{use}: the scene memory is from an earlier session {name!r} that was since replaced "
                            f"by a new one{made} (started again, loaded from a file or made with another model); "
                            f"use the scene memory output of the node that made the current session")
        if entry.blocks_done != blocks:
            raise EchoError(f"{use}: session {name!r} has moved on since this scene memory was made (it had "
                            f"{blocks} blocks, now {entry.blocks_done}); using it would act on the later state. "
                            f"Re-run the node that made it, or continue the session by name (mode continue)")
        return entry


SESSIONS = SessionRegistry()
