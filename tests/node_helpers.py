"""Calling the pack's nodes the way ComfyUI would, with a tiny model and synthetic prompts."""
import pytest
import torch

from echo_stream.nodes import NODE_CLASS_MAPPINGS as NODES
from echo_stream.nodes import comfy
from echo_stream.nodes.types import EchoModel
from echo_stream.runtime.registry import SESSIONS
from tiny import text, tiny_model

SIZE = dict(width=48, height=32)


def cond(seed: int):
    """A CONDITIONING as CLIP Text Encode makes it: [[embedding, {extras}]]."""
    return [[text(5, seed=seed), {"pooled_output": None}]]


def call(node_id: str, **inputs):
    node = NODES[node_id]()
    return getattr(node, node.FUNCTION)(**inputs)


def sample(model, script, mode="new", session="s", seed=3, **extra):
    out = call("EchoStreamingSampler", model=model, script=script, seed=seed, steps="1000, 750, 500, 250",
               session=session, mode=mode, unique_id="7", **SIZE, **extra)
    return out["result"][0]["samples"], out["result"][1], out["ui"]


@pytest.fixture
def comfy_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(comfy, "output_directory", lambda: str(tmp_path / "output"))
    monkeypatch.setattr(comfy, "temp_directory", lambda: str(tmp_path / "temp"))
    yield tmp_path
    for name in SESSIONS.names():
        SESSIONS.free(name)


@pytest.fixture
def sent(monkeypatch):
    """The live-preview events the sampler sends, as (name, payload)."""
    events = []
    monkeypatch.setattr(comfy, "send_event",
                        lambda name, data: events.append((name, data() if callable(data) else data)) or True)
    return events


@pytest.fixture(scope="module")
def model():
    return EchoModel("tiny", tiny_model(seed=5), 3)


def script_of(*scenes):
    """scenes: (kind, prompt seed, seconds, extra inputs) -> a SCENE_SCRIPT built with the nodes."""
    (kind, seed, seconds, extra), rest = scenes[0], scenes[1:]
    script = call("EchoSceneStart", conditioning=cond(seed), seconds=seconds, **extra)[0]
    for kind, seed, seconds, extra in rest:
        script = call(kind, script=script, conditioning=cond(seed), seconds=seconds, **extra)[0]
    return script


__all__ = ["call", "comfy_dirs", "cond", "model", "sample", "script_of", "torch"]
