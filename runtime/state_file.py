"""Save a session (scene memory, RNG, timeline) to one safetensors file and load it back.

The file holds tensors only; everything else is JSON in the safetensors metadata, so loading never
unpickles anything. Writes go to a temporary name first and are renamed into place (atomic).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan
from .session import SceneRecord, Session, SessionSpec
from .state_tree import restore_into, state_of
from .stream_decode import SessionDecode

FORMAT = "echo_stream.scene_memory"
VERSION = 1
MODEL_FIELDS = ("dim", "ffn_dim", "num_layers", "num_heads", "in_dim", "out_dim", "text_dim", "patch_size")


def model_signature(model: CausalWan) -> dict:
    config = dataclasses.asdict(model.config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k in MODEL_FIELDS}


def save_session(session: Session, path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    tensors: dict[str, torch.Tensor] = {}
    streamer = session.streamer
    meta = {
        "format": FORMAT, "version": VERSION, "name": session.name,
        "spec": session.spec.to_json(), "model": model_signature(session.model),
        "model_dtype": str(session.model.dtype).removeprefix("torch."),
        "timeline": session.timeline(), "block_index": streamer.block_index,
        "memory": state_of(session.memory, tensors, "memory"),
    }
    tensors["streamer.rng"] = streamer.generator.get_state()
    for i, frame in enumerate(streamer.recent_latents):
        tensors[f"streamer.recent.{i}"] = frame.detach().to("cpu", copy=True).contiguous()
    meta["recent_latents"] = len(streamer.recent_latents)
    if session.conditioning is not None:
        tensors["session.conditioning"] = session.conditioning.detach().to("cpu", copy=True).contiguous()
    if session.video_decode is not None:  # the VAE decoder's causal cache: the video continues seamlessly
        meta["video_decode"] = session.video_decode.meta()
        tensors.update({f"video_decode.{k}": v for k, v in session.video_decode.state_dict().items()})
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
    if meta.get("version") != VERSION:
        raise EchoError(f"{path.name} has scene memory format version {meta.get('version')}; "
                        f"this pack reads version {VERSION}")
    return meta, tensors


def load_session(path: str | os.PathLike, model: CausalWan, name: str | None = None,
                 frames_per_block: int | None = None) -> Session:
    """A session rebuilt on `model`; refuses a state made with a model of other sizes."""
    meta, tensors = read_state(path)
    saved_fpb = meta["spec"]["frames_per_block"]
    if frames_per_block is not None and saved_fpb != frames_per_block:
        raise EchoError(f"{pathlib.Path(path).name} was made with {saved_fpb} frames per block; the model is set "
                        f"to {frames_per_block}")
    saved, ours = meta["model"], model_signature(model)
    diffs = [f"{k}: file {saved.get(k)} vs model {ours[k]}" for k in ours if saved.get(k) != ours[k]]
    if diffs:
        raise EchoError(f"{pathlib.Path(path).name} was saved with another model ({'; '.join(diffs)}); "
                        f"load it with the model it was made with")
    spec = SessionSpec.from_json(meta["spec"])
    session = Session(name or meta["name"], model, spec)
    try:
        restore_into(session.memory, meta["memory"], tensors, model.device)
    except (KeyError, RuntimeError) as err:
        raise EchoError(f"{pathlib.Path(path).name} does not fit the {spec.memory.preset} memory of this "
                        f"model ({err})") from None
    streamer = session.streamer
    streamer.generator.set_state(tensors["streamer.rng"])
    streamer.block_index = int(meta["block_index"])
    streamer.recent_latents.extend(tensors[f"streamer.recent.{i}"].to(model.device, model.dtype)
                                   for i in range(meta["recent_latents"]))
    session.scenes = [SceneRecord(**record) for record in meta["timeline"]]
    conditioning = tensors.get("session.conditioning")
    session.conditioning = None if conditioning is None else conditioning.to(model.device)
    if meta.get("video_decode"):
        decode_state = {k.removeprefix("video_decode."): v for k, v in tensors.items() if k.startswith("video_decode.")}
        try:
            session.video_decode = SessionDecode.from_state(meta["video_decode"], decode_state)
        except (KeyError, ValueError) as err:
            raise EchoError(f"{pathlib.Path(path).name}: its video decoder state is incomplete ({err})") from None
    return session
