"""A session's state as a value: JSON-able metadata plus CPU tensors, and a session rebuilt from it.

The state is `Session.state_dict()` (timeline, current prompt, and the stream's explicit state:
RNG, block index, prompt, re-cache frames, the memory policy's state dict), split by
runtime/state_io.py into a JSON tree and named tensors. The same snapshot is written to a state file
(runtime/state_file.py) and kept in memory when a session is parked off its device
(runtime/registry.py), so one path serves both and a parked session continues exactly as one that
never moved.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan
from .session import Session, SessionSpec
from .state_io import join, split, tensors_nbytes

MODEL_FIELDS = ("dim", "ffn_dim", "num_layers", "num_heads", "in_dim", "out_dim", "text_dim", "patch_size")


def model_signature(model: CausalWan) -> dict:
    config = dataclasses.asdict(model.config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k in MODEL_FIELDS}


@dataclass
class SessionSnapshot:
    meta: dict  # JSON-able: name, spec, model sizes, and "session": the state dict's JSON tree
    tensors: dict[str, torch.Tensor]  # the state dict's tensors by path, on the CPU, sharing no storage

    def nbytes(self) -> int:
        return tensors_nbytes(self.tensors)


def snapshot(session: Session) -> SessionSnapshot:
    tensors: dict[str, torch.Tensor] = {}
    meta = {
        "name": session.name, "spec": session.spec.to_json(), "model": model_signature(session.model),
        "model_dtype": str(session.model.dtype).removeprefix("torch."),
        "blocks": session.blocks_done,
        "session": split(session.state_dict(), tensors, "session"),
    }
    return SessionSnapshot(meta, tensors)


def check_model(meta: dict, model: CausalWan, where: str, frames_per_block: int | None = None) -> None:
    """Refuse a state made with a model of other sizes or another block size, naming each difference."""
    saved_fpb = meta["spec"]["frames_per_block"]
    if frames_per_block is not None and saved_fpb != frames_per_block:
        raise EchoError(f"{where} was made with {saved_fpb} frames per block; the model is set to {frames_per_block}")
    saved, ours = meta["model"], model_signature(model)
    diffs = [f"{k}: file {saved.get(k)} vs model {ours[k]}" for k in ours if saved.get(k) != ours[k]]
    if diffs:
        raise EchoError(f"{where} was saved with another model ({'; '.join(diffs)}); "
                        f"load it with the model it was made with")


def restore(state: SessionSnapshot, model: CausalWan, name: str | None = None, where: str = "the saved state",
            session_id: str | None = None, model_name: str = "") -> Session:
    """A session rebuilt on `model` from `state` (the caller has checked that the model fits)."""
    meta = state.meta
    spec = SessionSpec.from_json(meta["spec"])
    session = Session(name or meta["name"], model, spec, model_name)
    if session_id is not None:  # the same session brought back; a loaded file is a new session
        session.id = session_id
    try:
        session.load_state_dict(join(meta["session"], state.tensors, where))
    except (KeyError, TypeError, ValueError, RuntimeError, EchoError) as err:
        raise EchoError(f"{where} does not fit the {spec.memory.preset} memory of this model ({err})") from None
    return session
