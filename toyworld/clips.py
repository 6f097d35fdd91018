"""Clips of the toy world: scenes joined by the transitions the product offers.

A script is a list of `Step`s, each `blocks` blocks long:
  start / cut  a new scene: the given category with a freshly drawn instance and sprite;
  smooth       the category changes; the instance (palette, pattern, motion) and the sprite carry on;
  return       back to an earlier scene (by index): its category and instance come back, and its
               sprite resumes one step after where that scene's last frame left it.
`play` renders a script into a `Clip` with the ground truth of every frame and block, and with the
block visibility a training clip uses: a cut sees nothing before it (a new shot), a smooth switch and
a continuing block see what the block before them saw plus that block, and a return sees every
earlier block (so the model learns to take the instance of the most recent frames whose category
matches the prompt, else of the most recent frames). `sample_clip` draws random scripts for training.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.errors import EchoError
from .categories import CATEGORIES, category_index
from .instances import Instance, Sprite, instance_from_noise, sample_instance, sample_sprite
from .render import check_frame_size, paint_frame

TRANSITIONS = ("start", "smooth", "cut", "return")
FRAMES_PER_BLOCK = 3


@dataclass(frozen=True)
class Step:
    transition: str  # one of TRANSITIONS
    category: int | str | None = None  # start / cut / smooth
    blocks: int = 1
    scene: int | None = None  # return: the index of the scene to go back to


@dataclass(frozen=True)
class SceneTruth:
    category: int
    instance: Instance


@dataclass
class Clip:
    """A rendered script. Per block: scene index, category, instance, transition (of its first block,
    "continue" after); per frame: the sprite; `visible[j, k]`: block j may attend block k."""

    latent: torch.Tensor  # [16, T, H, W]
    scenes: list[SceneTruth]
    block_scene: list[int]
    block_transition: list[str]
    sprites: list[Sprite]
    visible: torch.Tensor  # [blocks, blocks] bool, lower triangular with a true diagonal
    frames_per_block: int = FRAMES_PER_BLOCK

    @property
    def num_blocks(self) -> int:
        return len(self.block_scene)

    @property
    def block_category(self) -> list[int]:
        return [self.scenes[s].category for s in self.block_scene]

    @property
    def block_instance(self) -> list[Instance]:
        return [self.scenes[s].instance for s in self.block_scene]

    def token_mask(self, frame_tokens: int) -> torch.Tensor:
        """[N, N] bool attention mask over the clip's tokens (True = may attend) from `visible`."""
        block = torch.arange(self.latent.shape[1] * frame_tokens) // (self.frames_per_block * frame_tokens)
        return self.visible[block[:, None], block[None, :]]


def _check_step(step: Step, scenes: list[SceneTruth], current: int | None) -> None:
    if step.transition not in TRANSITIONS:
        raise EchoError(f"unknown transition {step.transition!r}; use one of {', '.join(TRANSITIONS)}")
    if step.blocks < 1:
        raise EchoError(f"a step lasts at least one block, got {step.blocks}")
    if (step.transition == "start") != (current is None):
        raise EchoError("a script begins with one 'start' step, and only there")
    if step.transition == "return" and not (step.scene is not None and 0 <= step.scene < len(scenes)):
        raise EchoError(f"'return' needs the index of an earlier scene (0..{len(scenes) - 1}), got {step.scene}")


def play(steps, generator: torch.Generator | None = None, *, height: int = 8, width: int = 8,
         frames_per_block: int = FRAMES_PER_BLOCK, noise: torch.Tensor | None = None) -> Clip:
    """Render a script (a list of Steps) into a Clip. New instances and sprites come from `generator`,
    or, with `noise` [16, T, H, W] (the clip's diffusion noise), from the noise of each new scene's
    first block (`instance_from_noise`)."""
    check_frame_size(height, width)
    generator = generator or torch.Generator().manual_seed(0)
    scenes: list[SceneTruth] = []
    last_sprite: dict[int, Sprite] = {}
    frames, sprites, block_scene, block_transition, seen = [], [], [], [], []
    current, sprite, sees = None, None, set()
    for step in steps:
        _check_step(step, scenes, current)
        if step.transition in ("start", "cut"):
            if noise is None:
                instance, sprite = sample_instance(generator), sample_sprite(generator, height, width)
            else:
                first = len(block_scene) * frames_per_block
                instance, sprite = instance_from_noise(noise[:, first:first + frames_per_block])
            scenes.append(SceneTruth(category_index(step.category), instance))
            current, sees = len(scenes) - 1, set()
        elif step.transition == "smooth":
            scenes.append(SceneTruth(category_index(step.category), scenes[current].instance))
            current, sprite = len(scenes) - 1, sprite.step(scenes[current].instance, height, width)
            sees = sees | {len(block_scene) - 1}
        else:  # return
            current = step.scene
            sprite = last_sprite[current].step(scenes[current].instance, height, width)
            sees = set(range(len(block_scene)))
        truth = scenes[current]
        for b in range(step.blocks):
            if b:
                sees = sees | {len(block_scene) - 1}
            block_scene.append(current)
            block_transition.append(step.transition if b == 0 else "continue")
            seen.append(sees | {len(block_scene) - 1})
            for f in range(frames_per_block):
                if f or b:
                    sprite = sprite.step(truth.instance, height, width)
                frames.append(paint_frame(truth.category, truth.instance, sprite, height, width))
                sprites.append(sprite)
        last_sprite[current] = sprite
    n = len(block_scene)
    visible = torch.zeros(n, n, dtype=torch.bool)
    for j, ks in enumerate(seen):
        visible[j, sorted(ks)] = True
    return Clip(torch.stack(frames, dim=1), scenes, block_scene, block_transition, sprites, visible, frames_per_block)


def random_script(generator: torch.Generator, num_blocks: int, p_switch: float = 0.5) -> list[Step]:
    """A random script of `num_blocks` blocks: at each block boundary, with probability `p_switch`, a
    smooth switch, a cut or a return (equally likely where allowed), else the scene continues.
    A smooth switch goes to a category not seen in its context, a cut to another category than the
    current one, a return to the most recent scene of an earlier category other than the current."""
    def draw(n):
        return int(torch.randint(n, (1,), generator=generator))

    def pick(options):
        return options[draw(len(options))]

    n_cat = len(CATEGORIES)
    steps = [Step("start", draw(n_cat))]
    scene_cats = [steps[0].category]  # category per scene, as play() will number them
    current, context_cats = 0, {steps[0].category}
    for _ in range(num_blocks - 1):
        if float(torch.rand(1, generator=generator)) >= p_switch:
            steps[-1] = Step(steps[-1].transition, steps[-1].category, steps[-1].blocks + 1, steps[-1].scene)
            continue
        cur_cat = scene_cats[current]
        returnable = {c: i for i, c in enumerate(scene_cats) if c != cur_cat}  # the latest scene per category
        fresh = [c for c in range(n_cat) if c not in context_cats]
        kinds = ["cut"] + (["smooth"] if fresh else []) + (["return"] if returnable else [])
        kind = pick(kinds)
        if kind == "return":
            target = returnable[pick(sorted(returnable))]
            steps.append(Step("return", scene=target))
            current, context_cats = target, set(scene_cats)
            continue
        cat = pick(fresh) if kind == "smooth" else pick([c for c in range(n_cat) if c != cur_cat])
        steps.append(Step(kind, cat))
        scene_cats.append(cat)
        current = len(scene_cats) - 1
        context_cats = (context_cats | {cat}) if kind == "smooth" else {cat}
    return steps


def sample_clip(generator: torch.Generator, num_blocks: int = 7, *, height: int = 8, width: int = 8,
                frames_per_block: int = FRAMES_PER_BLOCK, p_switch: float = 0.5,
                noise: torch.Tensor | None = None) -> Clip:
    """A random training clip (script from `random_script`, rendered by `play`; see `play` for `noise`)."""
    return play(random_script(generator, num_blocks, p_switch), generator, height=height, width=width,
                frames_per_block=frames_per_block, noise=noise)
