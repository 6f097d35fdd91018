"""Which memory policy a session uses, as a JSON-able value (saved with a session's state)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..engine.errors import EchoError
from ..engine.memory_api import MemoryPolicy
from ..memory.config import EchoConfig
from ..memory.echo_forcing import EchoForcingMemory
from ..memory.presets import PRESETS, make_memory


@dataclass(frozen=True)
class MemoryChoice:
    preset: str = "echo_forcing"
    options: dict = field(default_factory=dict)  # preset keyword arguments (EchoConfig fields for echo_forcing)
    modes: dict = field(default_factory=dict)  # echo_forcing only: {"smooth": {"rate_min": 0.8, ...}, ...}

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise EchoError(f"unknown memory preset {self.preset!r}; choose one of {sorted(PRESETS)}")
        if self.modes and self.preset != "echo_forcing":
            raise EchoError(f"decay settings only apply to echo_forcing, not {self.preset!r}")

    def build(self) -> MemoryPolicy:
        if self.preset != "echo_forcing":
            return make_memory(self.preset, **self.options)
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in self.options.items()}
        config = self._echo_config(options)
        for name, changes in self.modes.items():
            if name not in config.modes:
                raise EchoError(f"unknown transition mode {name!r} in decay settings; use {sorted(config.modes)}")
            try:
                config = config.with_mode(name, **changes)
            except TypeError as err:
                raise EchoError(f"bad decay setting for {name!r}: {err}") from None
        EchoConfig.__post_init__(config)  # re-check the changed modes
        return EchoForcingMemory(config)

    @staticmethod
    def _echo_config(options: dict) -> EchoConfig:
        known = {f.name for f in dataclasses.fields(EchoConfig)}
        bad = sorted(set(options) - known)
        if bad:
            raise EchoError(f"echo_forcing has no option(s) {bad}; known: {sorted(known)}")
        return EchoConfig(**options)

    def to_json(self) -> dict:
        return {"preset": self.preset, "options": dict(self.options), "modes": {k: dict(v) for k, v in self.modes.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "MemoryChoice":
        return cls(data.get("preset", "echo_forcing"), dict(data.get("options", {})), dict(data.get("modes", {})))
