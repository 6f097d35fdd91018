"""Per-video details the prompt does not give, each drawn from a small discrete codebook.

An `Instance` is a palette code (channels 6-9: a constant Hadamard-row colour tint), a pattern code
(channels 10-13: a 2x2 per-patch texture) and a motion code (the sprite's step per latent frame).
Codebooks are discrete and far apart, so a frame reads back to exact codes, a model's imperfect
copy snaps to a valid value, and "the same instance" is an exact-match question (chance 1/64).
The sprite (channels 14-15) is one latent pixel on a torus; its position is per-frame state.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

PALETTE_CHANNELS = slice(6, 10)
PATTERN_CHANNELS = slice(10, 14)
SPRITE_CHANNELS = slice(14, 16)
PALETTE_AMPLITUDE = 1.0
PALETTES = torch.tensor([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=torch.float32)
PATTERNS = torch.tensor([  # [code, channel, row, column] signs: 2x2 textures per patch on channels 10-13
    [[1, -1, -1, 1], [1, 1, -1, -1], [-1, 1, -1, 1], [1, 1, 1, -1]],
    [[-1, 1, 1, -1], [1, -1, 1, -1], [1, 1, -1, -1], [-1, 1, 1, 1]],
    [[1, 1, -1, -1], [-1, -1, 1, 1], [1, -1, 1, -1], [1, -1, 1, 1]],
    [[-1, -1, 1, 1], [-1, 1, -1, 1], [-1, -1, 1, 1], [1, 1, -1, 1]],
], dtype=torch.float32).view(4, 4, 2, 2)
MOTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # (dy, dx) latent pixels per latent frame
SPRITE_ON, SPRITE_OFF = 2.0, -0.5
NUM_CODES = (len(PALETTES), len(PATTERNS), len(MOTIONS))


@dataclass(frozen=True)
class Instance:
    """One video's details: codes into PALETTES, PATTERNS and MOTIONS."""

    palette: int
    pattern: int
    motion: int

    @property
    def codes(self) -> tuple[int, int, int]:
        return self.palette, self.pattern, self.motion

    @property
    def velocity(self) -> tuple[int, int]:
        return MOTIONS[self.motion]


@dataclass(frozen=True)
class Sprite:
    """The moving element's position (row, column) in latent pixels."""

    y: int
    x: int

    def step(self, instance: Instance, height: int, width: int, frames: int = 1) -> "Sprite":
        dy, dx = instance.velocity
        return Sprite((self.y + frames * dy) % height, (self.x + frames * dx) % width)


def sample_instance(generator: torch.Generator) -> Instance:
    codes = [int(torch.randint(n, (1,), generator=generator)) for n in NUM_CODES]
    return Instance(*codes)


def sample_sprite(generator: torch.Generator, height: int, width: int) -> Sprite:
    return Sprite(int(torch.randint(height, (1,), generator=generator)), int(torch.randint(width, (1,), generator=generator)))
