"""Reading scene-memory files of format version 1 (the pack before explicit state dicts).

Version 1 saved every attribute of the memory policy (`vars(policy)`, scratch and history included)
as a tagged JSON tree plus tensors. This module reads that tree into plain values without building
any class, and picks out what today's state dicts hold; every field it needs is named when missing.
"""
from __future__ import annotations

import dataclasses

import torch

from ..engine.errors import EchoError
from ..memory.scene_pool import prompt_feature
from .memory_choice import MemoryChoice
from .session_state import SessionSnapshot
from .state_io import split

FRAME_CACHE_PRESETS = ("self_forcing_window", "longlive_recache", "infinity_rope", "echo_infinity_rope",
                       "full_cache")


def plain(node, tensors: dict, where: str):
    """A version-1 JSON node as plain values: objects become dicts of their fields, tuples lists."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [plain(v, tensors, where) for v in node]
    if "__tensor__" in node:
        data = tensors.get(node["__tensor__"])
        if data is None:
            raise EchoError(f"{where} names a tensor {node['__tensor__']!r} it does not hold; the file is damaged")
        return torch.view_as_complex(data.contiguous()) if node.get("complex") else data
    if "__keep__" in node:
        return None  # rebuilt by setup(); never part of the state
    if "__tuple__" in node:
        return [plain(v, tensors, where) for v in node["__tuple__"]]
    if "__deque__" in node:
        return [plain(v, tensors, where) for v in node["__deque__"]]
    if "__dict__" in node:
        return {_key(plain(k, tensors, where)): plain(v, tensors, where) for k, v in node["__dict__"]}
    if "__object__" in node:
        return {"__class__": node["__object__"], **{k: plain(v, tensors, where) for k, v in node["fields"].items()}}
    raise EchoError(f"{where} holds a version-1 entry this pack cannot read: {sorted(node)}")


def _key(key):
    return tuple(key) if isinstance(key, list) else key


def need(tree: dict, names, where: str, what: str) -> None:
    missing = [n for n in names if n not in tree]
    if missing:
        raise EchoError(f"{where} is a version-1 file whose {what} lacks {missing}; it cannot be read by this "
                        f"version of the pack (continue it with the pack version that saved it)")


def frame_cache_state(tree: dict, where: str) -> dict:
    need(tree, ("slot_frames", "frames_done", "k", "v"), where, "frame cache")
    slots = tree["slot_frames"]
    tokens = tree["k"].shape[2] // len(slots)
    held = sum(1 for f in slots if f is not None) * tokens
    return {"slot_frames": slots, "frames_done": tree["frames_done"],
            "k": tree["k"][:, :, :held], "v": tree["v"][:, :, :held]}


def _entry(entry: dict) -> dict:
    return {k: entry[k] for k in ("scene_index", "label", "feature", "k", "v")}


def _same_entry(a: dict, b: dict) -> bool:
    return a["scene_index"] == b["scene_index"] and a["label"] == b["label"] and torch.equal(a["k"], b["k"]) \
        and torch.equal(a["v"], b["v"])


def echo_forcing_state(tree: dict, choice: MemoryChoice, where: str) -> dict:
    need(tree, ("ring_k", "ring_v", "pool_k", "pool_v", "reuse", "calibration", "q_scene_sum", "q_scene_count",
                "scene", "scenes_started", "pool", "chain_anchor", "anchor_ids", "_anchors_before", "_rolled_for",
                "old_frames", "old_blocks", "old_weights", "old_rates", "mode", "jump"), where, "echo_forcing memory")
    cal = tree["calibration"]
    need(cal, ("sum", "abs_sum", "count", "mean", "abs_mean"), where, "query calibration")
    scene = tree["scene"]
    if scene is not None:
        need(scene, ("index", "label", "conditioning", "transition", "frames"), where, "current scene")
        conditioning = scene["conditioning"]
        # the feature today's memory computes from a scene's conditioning when it starts
        scene = {"index": scene["index"], "label": scene["label"], "transition": scene["transition"],
                 "frames": scene["frames"], "feature": None if conditioning is None else prompt_feature(conditioning)}
    pool = [_entry(e) for e in tree["pool"]["entries"]]
    chain = tree["chain_anchor"]
    if chain is not None:
        position = next((i for i, e in enumerate(pool) if _same_entry(e, chain)), None)
        chain = {"entry": _entry(chain)} if position is None else {"pool_position": position}
    return {
        **{k: tree[k] for k in ("ring_k", "ring_v", "pool_k", "pool_v", "reuse", "q_scene_sum", "q_scene_count",
                                "scenes_started", "anchor_ids", "jump")},
        "calibration": {k: cal[k] for k in ("sum", "abs_sum", "count", "mean", "abs_mean")},
        "scene": scene, "pool": pool, "chain_anchor": chain,
        "anchors_before": tree["_anchors_before"], "rolled_for": tree["_rolled_for"],
        "old": {"frames": tree["old_frames"], "blocks": tree["old_blocks"], "weights": tree["old_weights"],
                "rates": tree["old_rates"], "mode": _mode_name(tree["mode"], choice, where)},
    }


def _mode_name(mode: dict | None, choice: MemoryChoice, where: str) -> str | None:
    """Version 1 saved the transition mode's settings; today's state names the mode."""
    if mode is None:
        return None
    fields = {k: v for k, v in mode.items() if k != "__class__"}
    modes = choice.build().config.modes
    for name, settings in modes.items():
        if dataclasses.asdict(settings) == fields:
            return name
    raise EchoError(f"{where}: its old-scene memory uses transition settings {fields} that none of this memory's "
                    f"modes ({sorted(modes)}) has")


def upgrade(meta: dict, tensors: dict, where: str) -> SessionSnapshot:
    """A version-1 file's contents as a snapshot of today's session state."""
    need(meta, ("name", "spec", "model", "timeline", "block_index", "memory", "recent_latents"), where, "metadata")
    need(tensors, ("streamer.rng",), where, "tensors")
    choice = MemoryChoice.from_json(meta["spec"]["memory"])
    tree = {name: plain(node, tensors, where) for name, node in meta["memory"].items()}  # one entry per attribute
    if choice.preset == "echo_forcing":
        memory = echo_forcing_state(tree, choice, where)
    elif choice.preset in FRAME_CACHE_PRESETS:
        memory = frame_cache_state(tree, where)
    else:
        raise EchoError(f"{where} is a version-1 file of memory preset {choice.preset!r}, which this pack cannot "
                        f"convert; continue it with the pack version that saved it")
    recent = [tensors[f"streamer.recent.{i}"] for i in range(int(meta["recent_latents"]))]
    conditioning = tensors.get("session.conditioning")
    # version 1 passed the session's conditioning to every block, so the stream's last prompt is it
    stream = {"rng": tensors["streamer.rng"], "block_index": int(meta["block_index"]), "prompt": conditioning,
              "recent_latents": recent, "memory": memory}
    state = {"scenes": meta["timeline"], "conditioning": None, "conditioning_is_prompt": conditioning is not None,
             "stream": stream}
    new_tensors: dict = {}
    session = split(state, new_tensors, "session")
    new_meta = {k: meta[k] for k in ("name", "spec", "model", "model_dtype") if k in meta}
    return SessionSnapshot({**new_meta, "blocks": int(meta["block_index"]), "session": session}, new_tensors)
