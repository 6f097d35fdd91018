"""The one registry of memory presets: what the Scene Memory Settings node offers, what the benches
measure and what the tests run. Adding a policy means adding one `Preset` here."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from ..engine.errors import EchoError
from ..engine.frame_cache import full_cache, rolling_window
from ..engine.memory_api import MemoryPolicy
from .baselines import EchoInfinityRope, InfinityRope, LongLiveRecache
from .config import EchoConfig
from .echo_forcing import EchoForcingMemory


@dataclass(frozen=True)
class Preset:
    name: str
    build: Callable[..., MemoryPolicy]  # keyword overrides -> a fresh policy
    title: str  # for tables and charts
    bounded: bool = True  # memory does not grow with the video (the full cache refuses to run past its size)
    window_frames: int | None = None  # whole-frame caches: frames held at the default settings


PRESET_LIST = (
    Preset("echo_forcing", lambda **o: EchoForcingMemory(EchoConfig(**o)), "echo_forcing"),
    Preset("self_forcing_window", lambda window_frames=21, sink_frames=0: rolling_window(window_frames, sink_frames),
           "rolling window 21 (Self-Forcing)", window_frames=21),
    Preset("longlive_recache", lambda window_frames=12, sink_frames=3: LongLiveRecache(window_frames, sink_frames),
           "LongLive 12 + sink 3", window_frames=12),
    Preset("infinity_rope", lambda window_frames=6, sink_frames=1: InfinityRope(window_frames, sink_frames),
           "inf-RoPE 6 + sink 1", window_frames=6),
    Preset("echo_infinity_rope", lambda window_frames=12, sink_frames=3: EchoInfinityRope(window_frames, sink_frames),
           "Echo-Infinity RoPE 12 + 3", window_frames=12),
    Preset("full_cache", lambda max_frames=21: full_cache(max_frames), "full cache", bounded=False,
           window_frames=21),
)
PRESETS: dict[str, Preset] = {p.name: p for p in PRESET_LIST}
BOUNDED = tuple(p.name for p in PRESET_LIST if p.bounded)  # usable for a video of any length
ECHO_OPTIONS = {f.name for f in dataclasses.fields(EchoConfig)}


def make_memory(preset: str = "echo_forcing", **overrides) -> MemoryPolicy:
    """A fresh memory policy; unknown presets or options are named in the error."""
    if preset not in PRESETS:
        raise EchoError(f"unknown memory preset {preset!r}; choose one of {sorted(PRESETS)}")
    try:
        return PRESETS[preset].build(**overrides)
    except TypeError as err:
        if preset == "echo_forcing":
            bad = sorted(set(overrides) - ECHO_OPTIONS)
        else:
            bad = sorted(overrides)
        raise EchoError(f"preset {preset!r} does not take {bad}: {err}") from None
