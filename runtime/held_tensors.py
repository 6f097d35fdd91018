"""Bytes of tensor storage an object holds, by device: what freeing or moving a session gives back.

It follows the object's own attributes, containers and dataclasses, and stops at the model (its
weights belong to ComfyUI's model management, not to the session). Views and tensors held twice
count once: storage is what memory is made of.
"""
from __future__ import annotations

import dataclasses
from collections import deque

import torch
from torch import nn

from ..engine.rope import RotaryEmbedding
from ..engine.transformer import CausalWan

NOT_THE_SESSIONS = (CausalWan, nn.Module, RotaryEmbedding, torch.Generator, torch.device, torch.dtype, type)


def device_key(device: torch.device) -> str:
    return str(device)


def held_storage(obj) -> dict[tuple[str, int], int]:
    """{(device, storage address): bytes} of every tensor reachable from `obj`."""
    found: dict[tuple[str, int], int] = {}
    seen: set[int] = set()
    stack = [obj]
    while stack:
        value = stack.pop()
        if id(value) in seen or value is None or isinstance(value, (bool, int, float, str, bytes)):
            continue
        seen.add(id(value))
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            found[(device_key(value.device), storage.data_ptr())] = storage.nbytes()
        elif isinstance(value, NOT_THE_SESSIONS) or callable(value) and not hasattr(value, "__dict__"):
            continue
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset, deque)):
            stack.extend(value)
        elif dataclasses.is_dataclass(value) and not hasattr(value, "__dict__"):
            stack.extend(getattr(value, f.name) for f in dataclasses.fields(value))
        elif hasattr(value, "__dict__"):
            stack.extend(vars(value).values())
        else:
            stack.extend(getattr(value, name) for name in getattr(type(value), "__slots__", ()) if hasattr(value, name))
    return found


def held_bytes(obj) -> dict[str, int]:
    """Bytes of tensor storage reachable from `obj`, by device ("cuda:0", "cpu", ...)."""
    totals: dict[str, int] = {}
    for (device, _), nbytes in held_storage(obj).items():
        totals[device] = totals.get(device, 0) + nbytes
    return totals
