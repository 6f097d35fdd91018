"""Save a session (scene memory, RNG, timeline) to one safetensors file and load it back.

Format version 2 holds exactly `Session.state_dict()` (the stream's and the memory policy's explicit
state dicts): its tensors as safetensors tensors, everything else as JSON in the metadata, so loading
never unpickles anything. Version-1 files (every policy attribute) are converted on load
(runtime/state_v1.py). Writes go to a temporary name first and are renamed into place (atomic).
"""
from __future__ import annotations

import json
import os
import pathlib

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan
from .session import Session
from .session_state import SessionSnapshot, check_model, restore, snapshot
from .state_v1 import upgrade

FORMAT = "echo_stream.scene_memory"
VERSION = 2
READS = (1, 2)


def save_session(session: Session, path: str | os.PathLike) -> pathlib.Path:
    return save_state(snapshot(session), path)


def save_state(state: SessionSnapshot, path: str | os.PathLike) -> pathlib.Path:
    """Write a session snapshot (a live session's, or a parked one's as it waits on the CPU)."""
    path = pathlib.Path(path)
    meta = {"format": FORMAT, "version": VERSION, **state.meta}
    tensors = state.tensors
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata={"echo_stream": json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_state(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata and tensors of a state file, with a clear error for anything else."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise EchoError(f"scene memory file {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get("echo_stream")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises several types for truncated or foreign files
        raise EchoError(f"{path.name} is not a readable safetensors file ({err}); it may be truncated or "
                        f"not a saved scene memory") from None
    try:
        meta = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EchoError(f"{path.name} is a safetensors file but not a saved scene memory "
                        f"(save one with the Save Scene Memory node)")
    if meta.get("version") not in READS:
        raise EchoError(f"{path.name} has scene memory format version {meta.get('version')}; this pack reads "
                        f"versions {', '.join(map(str, READS))} (a newer pack saved it: update the pack)")
    return meta, tensors


def load_session(path: str | os.PathLike, model: CausalWan, name: str | None = None,
                 frames_per_block: int | None = None, model_name: str = "") -> Session:
    """A session rebuilt on `model`; refuses a state made with a model of other sizes."""
    meta, tensors = read_state(path)
    where = pathlib.Path(path).name
    check_model(meta, model, where, frames_per_block)
    state = upgrade(meta, tensors, where) if meta["version"] == 1 else SessionSnapshot(meta, tensors)
    return restore(state, model, name, where, model_name=model_name)
