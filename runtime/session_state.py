"""A session's state as a value: JSON-able metadata plus CPU tensors, and a session rebuilt from it.

The same snapshot is written to a state file (runtime/state_file.py) and kept in memory when a
session is moved off its device (runtime/registry.py), so one path is exercised by both and a
session parked on the CPU continues exactly as one that never moved.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan
from .session import SceneRecord, Session, SessionSpec
from .state_tree import restore_into, state_of

MODEL_FIELDS = ("dim", "ffn_dim", "num_layers", "num_heads", "in_dim", "out_dim", "text_dim", "patch_size")


def model_signature(model: CausalWan) -> dict:
    config = dataclasses.asdict(model.config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k in MODEL_FIELDS}


@dataclass
class SessionSnapshot:
    meta: dict  # JSON-able: spec, model sizes, timeline, block index, memory state tree
    tensors: dict[str, torch.Tensor]  # on the CPU, sharing no storage with the session

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to("cpu", copy=True).contiguous()


def snapshot(session: Session) -> SessionSnapshot:
    tensors: dict[str, torch.Tensor] = {}
    streamer = session.streamer
    meta = {
        "name": session.name, "spec": session.spec.to_json(), "model": model_signature(session.model),
        "model_dtype": str(session.model.dtype).removeprefix("torch."),
        "timeline": session.timeline(), "block_index": streamer.block_index,
        "memory": state_of(session.memory, tensors, "memory"),
        "recent_latents": len(streamer.recent_latents),
    }
    tensors["streamer.rng"] = streamer.generator.get_state()
    for i, frame in enumerate(streamer.recent_latents):
        tensors[f"streamer.recent.{i}"] = _cpu_copy(frame)
    if session.conditioning is not None:
        tensors["session.conditioning"] = _cpu_copy(session.conditioning)
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
    meta, tensors = state.meta, state.tensors
    spec = SessionSpec.from_json(meta["spec"])
    session = Session(name or meta["name"], model, spec, model_name)
    if session_id is not None:  # the same session brought back; a loaded file is a new session
        session.id = session_id
    try:
        restore_into(session.memory, meta["memory"], tensors, model.device)
    except (KeyError, RuntimeError) as err:
        raise EchoError(f"{where} does not fit the {spec.memory.preset} memory of this model ({err})") from None
    streamer = session.streamer
    streamer.generator.set_state(tensors["streamer.rng"])
    streamer.block_index = int(meta["block_index"])
    streamer.recent_latents.extend(tensors[f"streamer.recent.{i}"].to(model.device, model.dtype)
                                   for i in range(meta["recent_latents"]))
    session.scenes = [SceneRecord(**record) for record in meta["timeline"]]
    conditioning = tensors.get("session.conditioning")
    session.conditioning = None if conditioning is None else conditioning.to(model.device)
    return session
