"""A typed step list ('1000, 750, 500, 250') as the Streaming Sampler and the demo CLI take it."""
from __future__ import annotations

from ..engine.errors import EchoError


def parse_steps(text: str) -> tuple[float, ...]:
    try:
        steps = tuple(float(s) for s in str(text).replace(";", ",").split(",") if s.strip())
    except ValueError:
        raise EchoError(f"steps must be numbers separated by commas, like '1000, 750, 500, 250'; got {text!r}") from None
    if not steps:
        raise EchoError("the step list is empty; give timesteps like '1000, 750, 500, 250'")
    return steps
