"""An explicit state dict as safetensors tensors plus JSON, and back: nothing else is accepted.

A state dict (engine/state.py) is nested dicts with string keys and lists whose leaves are tensors,
None, booleans, numbers or strings. `split` puts each tensor under its path in a flat dict (a CPU
copy that shares no storage, complex tensors as real pairs, which safetensors can hold) and leaves
{"__tensor__": path} in the JSON; `join` reverses it. Anything else is refused by path, so a state
that would need pickling never reaches a file.
"""
from __future__ import annotations

import torch

from ..engine.errors import EchoError

TENSOR = "__tensor__"


def split(state, tensors: dict[str, torch.Tensor], path: str):
    """The JSON of `state`; its tensors are added to `tensors` under their paths."""
    if isinstance(state, torch.Tensor):
        data = state.detach()
        complex_ = data.is_complex()
        tensors[path] = (torch.view_as_real(data) if complex_ else data).to("cpu", copy=True).contiguous()
        return {TENSOR: path, "complex": True} if complex_ else {TENSOR: path}
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    if isinstance(state, dict):
        bad = [k for k in state if not isinstance(k, str) or k.startswith("__")]
        if bad:
            raise EchoError(f"cannot save {path}: its keys {bad} are not plain strings")
        return {k: split(v, tensors, f"{path}.{k}") for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [split(v, tensors, f"{path}.{i}") for i, v in enumerate(state)]
    raise EchoError(f"cannot save {path} of type {type(state).__name__}: a state dict holds tensors and plain "
                    f"values only")


def join(node, tensors: dict[str, torch.Tensor], where: str = "the state"):
    """The state dict back from its JSON and tensors (tensors on the CPU; `load_state_dict` places them)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [join(v, tensors, where) for v in node]
    if isinstance(node, dict):
        if TENSOR in node:
            key = node[TENSOR]
            if key not in tensors:
                raise EchoError(f"{where} names a tensor {key!r} it does not hold; the file is damaged")
            data = tensors[key]
            return torch.view_as_complex(data.contiguous()) if node.get("complex") else data
        return {k: join(v, tensors, where) for k, v in node.items()}
    raise EchoError(f"{where} holds an entry of type {type(node).__name__} that no state dict has")


def tensors_nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())
