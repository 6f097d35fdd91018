"""Generate toy-world scripts with a model and a memory policy, and read the result back.

`generate` turns a script of `Step`s into stream events the way the pack's sessions do: a smooth
switch is transition "smooth", a cut "cut", a return "recall" of the earlier scene by its label
(scenes are labelled s0, s1, ... in script order, a return re-uses its target's label), and each
category's prompt is one tensor object, so the stream sees a prompt change only at a switch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..engine import BlockStreamer, CausalWan, MemoryPolicy, StreamSettings
from ..engine.errors import EchoError
from .categories import category_index, prompt_embedding
from .clips import FRAMES_PER_BLOCK, Clip, Step, play
from .readback import BlockReading, read_block

TRANSITION_EVENT = {"smooth": "smooth", "cut": "cut", "return": "recall"}


@dataclass
class ScriptBlock:
    """What the script asks of one block."""

    category: int
    scene: int  # index of the scene in the script (a return has its target's index)
    transition: str  # "start", "smooth", "cut", "return" on a step's first block, else "continue"


def script_blocks(steps) -> list[ScriptBlock]:
    """Per block of a script: the prompted category, the scene it belongs to, its transition."""
    out, scene_cats = [], []
    for i, step in enumerate(steps):
        if step.transition == "return":
            if step.scene is None or not 0 <= step.scene < len(scene_cats):
                raise EchoError(f"step {i}: 'return' needs the index of an earlier scene (0..{len(scene_cats) - 1})")
            scene, cat = step.scene, scene_cats[step.scene]
        elif (step.transition == "start") == (i == 0):
            scene_cats.append(category_index(step.category))
            scene, cat = len(scene_cats) - 1, scene_cats[-1]
        else:
            raise EchoError("a script begins with one 'start' step, and only there")
        out += [ScriptBlock(cat, scene, step.transition if b == 0 else "continue") for b in range(step.blocks)]
    return out


def block_events(steps) -> list[dict]:
    """The `BlockStreamer.next_block` event fields of every block of a script."""
    fields, step_index = [], 0
    for block in script_blocks(steps):
        if block.transition == "continue":
            fields.append({})
            continue
        extras = {"label": f"s{block.scene}"}
        if block.transition == "start":
            fields.append({"scene_index": 0, "extras": extras})
        else:
            step_index += 1
            if block.transition == "return":
                extras["recall"] = f"s{block.scene}"
            fields.append({"transition": TRANSITION_EVENT[block.transition], "scene_index": step_index, "extras": extras})
    return fields


@dataclass
class Generated:
    latent: torch.Tensor  # [B, 16, T, H, W]
    blocks: list[ScriptBlock]
    readings: list[list[BlockReading]] = field(default_factory=list)  # [sample][block]


@torch.no_grad()
def generate(model: CausalWan, steps, memory: MemoryPolicy, *, seed: int = 0, height: int = 8, width: int = 8,
             batch: int = 1, settings: StreamSettings | None = None,
             on_block: Callable[[int, torch.Tensor], None] | None = None) -> Generated:
    """Run a script through the stream; returns the latents and each block read back."""
    blocks = script_blocks(steps)
    streamer = BlockStreamer(model, memory, width=width * 8, height=height * 8, seed=seed, batch=batch,
                             settings=settings or StreamSettings(frames_per_block=FRAMES_PER_BLOCK))
    prompts: dict[int, torch.Tensor] = {}
    out = []
    for i, (block, fields) in enumerate(zip(blocks, block_events(steps))):
        cond = prompts.setdefault(block.category, prompt_embedding(block.category))
        x0 = streamer.next_block(cond, **fields).float().cpu()
        out.append(x0)
        if on_block is not None:
            on_block(i, x0)
    latent = torch.cat(out, dim=2)
    return Generated(latent, blocks, [read_blocks(latent[b]) for b in range(batch)])


@torch.no_grad()
def teacher_forced(model: CausalWan, steps, memory: MemoryPolicy, *, seed: int = 0, height: int = 8, width: int = 8,
                   settings: StreamSettings | None = None) -> tuple[Clip, Generated]:
    """The teacher-forced lens: play the script's true clip (instances drawn from `seed`) and stream it
    with the memory seeing only true blocks: each block is denoised from the memory of the true blocks
    before it, then the TRUE block is written (`next_block(commit=...)`). Returns the true clip and the
    model's denoised predictions, read back (so generation noise and memory quality can be told apart)."""
    clip = play(steps, torch.Generator().manual_seed(seed), height=height, width=width)
    blocks = script_blocks(steps)
    streamer = BlockStreamer(model, memory, width=width * 8, height=height * 8, seed=seed,
                             settings=settings or StreamSettings(frames_per_block=FRAMES_PER_BLOCK))
    prompts: dict[int, torch.Tensor] = {}
    out = []
    for i, (block, fields) in enumerate(zip(blocks, block_events(steps))):
        cond = prompts.setdefault(block.category, prompt_embedding(block.category))
        true_block = clip.latent[:, i * FRAMES_PER_BLOCK:(i + 1) * FRAMES_PER_BLOCK].unsqueeze(0)
        out.append(streamer.next_block(cond, commit=true_block, **fields).float().cpu())
    latent = torch.cat(out, dim=2)
    return clip, Generated(latent, blocks, [read_blocks(latent[0])])


def read_blocks(latent: torch.Tensor, frames_per_block: int = FRAMES_PER_BLOCK) -> list[BlockReading]:
    """Read a latent [16, T, H, W] back block by block (each block's motion includes the step into it)."""
    readings = []
    for start in range(0, latent.shape[1], frames_per_block):
        prev = latent[:, start - 1] if start else None
        readings.append(read_block(latent[:, start:start + frames_per_block], prev))
    return readings
