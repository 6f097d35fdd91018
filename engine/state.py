"""Helpers for explicit state dicts: what defines a stream, as tensors plus JSON-able values.

A state dict is a nested dict whose leaves are tensors, numbers, strings, booleans, None, or lists of
those; no scratch, work buffers or history. `load_state_dict` goes into a freshly set-up object of the
same configuration and geometry; anything that does not fit is named in the error.
"""
from __future__ import annotations

import torch

from .errors import EchoError


def require(state: dict, keys, owner: str) -> None:
    """Refuse a state that lacks any of `keys`, naming them."""
    if not isinstance(state, dict):
        raise EchoError(f"{owner} state must be a dict, got {type(state).__name__}")
    missing = [k for k in keys if k not in state]
    if missing:
        raise EchoError(f"{owner} state lacks {missing}; it was saved by another version or another memory policy")


def copy_into(buffer: torch.Tensor, value, name: str, owner: str) -> None:
    """Copy a saved tensor into a preallocated buffer (keeping the buffer's device and dtype)."""
    if not isinstance(value, torch.Tensor):
        raise EchoError(f"{owner} state: {name} must be a tensor, got {type(value).__name__}")
    if tuple(value.shape) != tuple(buffer.shape):
        raise EchoError(f"{owner} state: {name} has shape {tuple(value.shape)} but this memory holds "
                        f"{tuple(buffer.shape)}; load it with the model, size and memory settings it was saved with")
    buffer.copy_(value)


def tensor_or_none(value, device=None, dtype=None) -> torch.Tensor | None:
    """A private copy of a saved tensor (or None), on `device`."""
    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        raise EchoError(f"expected a tensor in the saved state, got {type(value).__name__}")
    return value.detach().to(device=device, dtype=dtype, copy=True)
