"""Helpers of the live-steering tests: a tiny session, a text encoder standing in for a CLIP, and a
live run whose commands arrive after given blocks (deterministic, no threads)."""
import hashlib

import torch

from echo_stream.memory import BOUNDED  # noqa: F401  (presets, for parametrized tests)
from echo_stream.runtime.live import run_live
from echo_stream.runtime.memory_choice import MemoryChoice
from echo_stream.runtime.rewind import RewindPoints
from echo_stream.runtime.script import SceneScript
from echo_stream.runtime.session import Session, SessionSpec
from echo_stream.runtime.steering import LiveChannel, parse_prompt
from tiny import TINY, tiny_model

MODEL = None


def model():
    global MODEL
    if MODEL is None:
        MODEL = tiny_model(seed=5)
    return MODEL


def encode(text: str) -> torch.Tensor:
    """A deterministic embedding per text (what a CLIP is to these tests)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    return torch.randn(1, 5, TINY.text_dim, generator=torch.Generator().manual_seed(seed))


class FakeClip:
    """The two CLIP calls Scene Script From Text and the live mode make."""

    def tokenize(self, text):
        return text

    def encode_from_tokens_scheduled(self, tokens):
        return [[encode(tokens), {"pooled_output": None}]]


def new_session(name="live", seed=3, preset="echo_forcing") -> Session:
    spec = SessionSpec(48, 32, seed, 1, 3, (1000.0, 750.0, 500.0, 250.0), memory=MemoryChoice(preset))
    return Session(name, model(), spec)


def opening(text="a quiet beach at dawn", seconds=1.5, label=None) -> SceneScript:
    return SceneScript.start(encode(text), seconds, label, text=text)


def steer(session, script, commands: dict, max_blocks=12, points: RewindPoints | None = None, channel=None):
    """A live run where `commands[b]` (bodies or "stop" / ("rewind", K)) arrive after run block b."""
    channel = channel or LiveChannel(session.name)
    commands = dict(commands)

    def send(b):
        for body in commands.pop(b, []):  # once: after a rewind, run blocks count again
            if body == "stop":
                from echo_stream.runtime.steering import Command
                channel.submit(Command("stop"))
            elif isinstance(body, tuple):
                from echo_stream.runtime.steering import parse_rewind
                channel.submit(parse_rewind({"scene": body[1]}))
            else:
                channel.submit(parse_prompt(body))

    send(-1)
    result = run_live(session, script, channel, encode, max_blocks=max_blocks, rewind=points,
                      on_block=lambda report: send(report.run_block))
    return result, channel
