"""Turn a memory policy's attributes into JSON plus named tensors, and back, without pickle.

Only plain data (numbers, strings, lists, dicts, tensors) and an allow-list of the pack's own small
classes are encoded; anything else is a bug to fix here, never a silent loss. Objects that `setup()`
rebuilds from the geometry (the geometry itself, RoPE tables, per-layer views, the config) are left
as the fresh policy has them.
"""
from __future__ import annotations

import dataclasses
from collections import deque

import torch

from ..engine.errors import EchoError
from ..engine.memory_api import CacheGeometry, LayerMemory
from ..engine.rope import Rotary
from ..memory.compression import QueryCalibration
from ..memory.config import EchoConfig, ModeSettings
from ..memory.echo_forcing import Scene
from ..memory.scene_pool import PoolEntry, ScenePool

REBUILT_BY_SETUP = (CacheGeometry, Rotary, LayerMemory, EchoConfig)
ALLOWED = {cls.__name__: cls for cls in (ModeSettings, Scene, PoolEntry, QueryCalibration, ScenePool)}
KEEP = {"__keep__": True}


def encode(value, tensors: dict, path: str):
    """JSON for `value`; its tensors go into `tensors` under keys derived from `path`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        key = path
        data = value.detach()
        complex_ = data.is_complex()
        # a copy: views and shared tensors (a prompt held twice) must not share storage in the file
        tensors[key] = (torch.view_as_real(data) if complex_ else data).to("cpu", copy=True).contiguous()
        return {"__tensor__": key, "device": data.device.type, "complex": complex_}
    if isinstance(value, REBUILT_BY_SETUP) or callable(value) and not isinstance(value, type):
        return KEEP
    if isinstance(value, deque):
        return {"__deque__": [encode(v, tensors, f"{path}.{i}") for i, v in enumerate(value)], "maxlen": value.maxlen}
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, LayerMemory) for v in value):
            return KEEP
        items = [encode(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, tensors, f"{path}.k{i}"), encode(v, tensors, f"{path}.{i}")]
                             for i, (k, v) in enumerate(value.items())]}
    name = type(value).__name__
    if ALLOWED.get(name) is type(value):
        fields = (f.name for f in dataclasses.fields(value)) if dataclasses.is_dataclass(value) else vars(value)
        return {"__object__": name, "fields": {f: encode(getattr(value, f), tensors, f"{path}.{f}") for f in fields}}
    raise EchoError(f"cannot save {path} of type {type(value).__name__}; the state format does not know it")


def decode(node, tensors: dict, device: torch.device):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode(v, tensors, device) for v in node]
    if "__tensor__" in node:
        data = tensors[node["__tensor__"]]
        if node.get("complex"):
            data = torch.view_as_complex(data.contiguous())
        return data.to(device) if node.get("device") != "cpu" else data.clone()
    if "__tuple__" in node:
        return tuple(decode(v, tensors, device) for v in node["__tuple__"])
    if "__deque__" in node:
        return deque((decode(v, tensors, device) for v in node["__deque__"]), maxlen=node["maxlen"])
    if "__dict__" in node:
        return {_hashable(decode(k, tensors, device)): decode(v, tensors, device) for k, v in node["__dict__"]}
    if "__object__" in node:
        cls = ALLOWED.get(node["__object__"])
        if cls is None:
            raise EchoError(f"the state file names an unknown object type {node['__object__']!r}")
        fields = {k: decode(v, tensors, device) for k, v in node["fields"].items()}
        if dataclasses.is_dataclass(cls):
            return cls(**fields)
        obj = cls.__new__(cls)
        vars(obj).update(fields)
        return obj
    raise EchoError(f"the state file holds an entry this version cannot read: {sorted(node)}")


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def state_of(obj, tensors: dict, prefix: str) -> dict:
    """Encode every attribute of `obj` (a policy, a streamer)."""
    return {name: encode(value, tensors, f"{prefix}.{name}") for name, value in vars(obj).items()}


def restore_into(obj, state: dict, tensors: dict, device: torch.device) -> None:
    """Set the attributes of a freshly set-up `obj`; tensors of equal shape are copied in place."""
    for name, node in state.items():
        if node == KEEP:
            continue
        value = decode(node, tensors, device)
        current = getattr(obj, name, None)
        if isinstance(current, torch.Tensor) and isinstance(value, torch.Tensor) and current.shape == value.shape \
                and current.dtype == value.dtype:
            current.copy_(value)  # keep the preallocated buffer (and its device)
        else:
            setattr(obj, name, value)
