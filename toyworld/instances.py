"""Per-video details the prompt does not give, each drawn from a small discrete codebook.

An `Instance` is a palette code (channels 6-9: a constant Hadamard-row colour tint), a pattern code
(channels 10-13: a 2x2 per-patch texture) and a motion code (the sprite's step per latent frame).
Codebooks are discrete and far apart, so a frame reads back to exact codes, a model's imperfect
copy snaps to a valid value, and "the same instance" is an exact-match question (chance 1/64).
The sprite (channels 14-15) is one latent pixel on a torus; its position is per-frame state.

`instance_from_noise` draws a new scene's details from the diffusion noise of its first block
(the code nearest to the noise's own average, the sprite where the noise peaks). Training clips use
it, so that what a fresh scene looks like is a function of its noise, as in a distilled few-step
generator: an undistilled model trained on independent draws learns the average over all codes at
high noise, and the engine's few-step sampler (fresh noise at every step) then paints that blurred
average instead of choosing one instance.
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
SPRITE_ON, SPRITE_OFF = 3.0, -0.5
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


def instance_from_noise(noise: torch.Tensor) -> tuple[Instance, Sprite]:
    """A fresh scene's instance and first sprite position, read from the noise [16, F, H, W] of its
    first block (F >= 1): the palette and pattern codes nearest to the noise's averages, the sprite at
    the peak of the first frame's sprite channels, the motion towards the larger noise in later frames."""
    c, f, h, w = noise.shape
    n = noise.float()
    palette = int((PALETTES @ n[PALETTE_CHANNELS].mean(dim=(1, 2, 3))).argmax())
    patches = n[PATTERN_CHANNELS].reshape(4, f, h // 2, 2, w // 2, 2).mean(dim=(1, 2, 4))
    pattern = int((PATTERNS.flatten(1) @ patches.flatten()).argmax())
    sprite_field = n[SPRITE_CHANNELS].sum(0)  # [F, H, W]
    spot = int(sprite_field[0].flatten().argmax())
    y, x = spot // w, spot % w
    score = [sum(float(sprite_field[k, (y + k * dy) % h, (x + k * dx) % w]) for k in range(1, f)) for dy, dx in MOTIONS]
    motion = max(range(len(MOTIONS)), key=score.__getitem__)
    return Instance(palette, pattern, motion), Sprite(y, x)
