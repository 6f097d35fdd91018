"""Memory presets by name, with overrides: what the Scene Memory Settings node offers."""
from __future__ import annotations

import dataclasses

from ..engine.errors import EchoError
from ..engine.frame_cache import full_cache, rolling_window
from ..engine.memory_api import MemoryPolicy
from .baselines import EchoInfinityRope, InfinityRope, LongLiveRecache
from .config import EchoConfig
from .echo_forcing import EchoForcingMemory

PRESETS = {
    "echo_forcing": lambda **o: EchoForcingMemory(EchoConfig(**o)),
    "self_forcing_window": lambda window_frames=21, sink_frames=0: rolling_window(window_frames, sink_frames),
    "longlive_recache": lambda window_frames=12, sink_frames=3: LongLiveRecache(window_frames, sink_frames),
    "infinity_rope": lambda window_frames=6, sink_frames=1: InfinityRope(window_frames, sink_frames),
    "echo_infinity_rope": lambda window_frames=12, sink_frames=3: EchoInfinityRope(window_frames, sink_frames),
    "full_cache": lambda max_frames=21: full_cache(max_frames),
}
ECHO_OPTIONS = {f.name for f in dataclasses.fields(EchoConfig)}


def make_memory(preset: str = "echo_forcing", **overrides) -> MemoryPolicy:
    """A fresh memory policy; unknown presets or options are named in the error."""
    if preset not in PRESETS:
        raise EchoError(f"unknown memory preset {preset!r}; choose one of {sorted(PRESETS)}")
    try:
        return PRESETS[preset](**overrides)
    except TypeError as err:
        if preset == "echo_forcing":
            bad = sorted(set(overrides) - ECHO_OPTIONS)
        else:
            bad = sorted(overrides)
        raise EchoError(f"preset {preset!r} does not take {bad}: {err}") from None
