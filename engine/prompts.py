"""The one rule for "the prompt changed": a conditioning that differs in shape or value."""
from __future__ import annotations

import torch


def same_prompt(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    """True when both are the same conditioning (the same object, or equal shape and values)."""
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and torch.equal(a, b.to(a.device, a.dtype)))
