"""The toy world's scene categories: what a prompt names.

A category is a colour (latent channels 0-2, constant) and a 2x2 texture (channels 3-5) repeated in
every 2x2 latent patch. The texture is tied to the patch grid, not to absolute places: the DiT has
RoPE and no absolute position embedding, so it can paint a per-patch pattern from noise but not a
picture at a fixed spot. Each category has a deterministic prompt embedding [1, PROMPT_TOKENS, 4096]
(what umT5-XXL would give a real Wan), so any machine builds the same prompts.
"""
from __future__ import annotations

import zlib

import torch

from ..engine.errors import EchoError

TEXT_DIM = 4096
PROMPT_TOKENS = 4
CATEGORY_CHANNELS = slice(0, 6)
COLOUR = {  # RGB in [0, 1]
    "ocean": (0.10, 0.35, 0.80),
    "forest": (0.10, 0.55, 0.20),
    "desert": (0.90, 0.75, 0.40),
    "lava": (0.85, 0.20, 0.05),
    "snow": (0.92, 0.95, 1.00),
    "night": (0.15, 0.10, 0.35),
    "meadow": (0.60, 0.85, 0.25),
    "city": (0.50, 0.50, 0.55),
}
# 2x2 textures on channels 3-5, as +-1 signs per (channel, row, column); pairwise far apart
TEXTURE = {
    "ocean": ((1, 1, -1, -1), (1, -1, 1, -1), (1, 1, 1, 1)),
    "forest": ((1, -1, -1, 1), (1, 1, -1, -1), (-1, -1, 1, 1)),
    "desert": ((-1, -1, 1, 1), (1, 1, 1, 1), (1, -1, -1, 1)),
    "lava": ((1, -1, 1, -1), (-1, 1, 1, -1), (-1, -1, -1, -1)),
    "snow": ((-1, -1, -1, -1), (-1, 1, -1, 1), (1, -1, 1, -1)),
    "night": ((1, 1, 1, 1), (-1, -1, 1, 1), (-1, 1, 1, -1)),
    "meadow": ((-1, 1, 1, -1), (-1, -1, -1, -1), (-1, 1, -1, 1)),
    "city": ((-1, 1, -1, 1), (1, -1, -1, 1), (1, 1, -1, -1)),
}
CATEGORIES: tuple[str, ...] = tuple(COLOUR)


def category_index(name_or_index) -> int:
    """A category's index from its name or index; unknown names get a message listing the known ones."""
    if isinstance(name_or_index, int) and 0 <= name_or_index < len(CATEGORIES):
        return name_or_index
    if isinstance(name_or_index, str) and name_or_index.strip().lower() in COLOUR:
        return CATEGORIES.index(name_or_index.strip().lower())
    raise EchoError(f"unknown toy-world category {name_or_index!r}; choose one of {', '.join(CATEGORIES)}")


def category_patch(index: int) -> torch.Tensor:
    """The category's 2x2 patch on channels 0-5: [6, 2, 2] (colour mapped to [-1, 1], texture +-1)."""
    name = CATEGORIES[index]
    colour = (torch.tensor(COLOUR[name]) * 2 - 1).view(3, 1, 1).expand(3, 2, 2)
    texture = torch.tensor(TEXTURE[name], dtype=torch.float32).view(3, 2, 2)
    return torch.cat([colour, texture])


def category_patches() -> torch.Tensor:
    """All categories' patches [N, 6, 2, 2] (the read-back's templates)."""
    return torch.stack([category_patch(i) for i in range(len(CATEGORIES))])


def prompt_embedding(category, tokens: int = PROMPT_TOKENS) -> torch.Tensor:
    """Deterministic prompt embedding [1, tokens, 4096] of a category (seeded by a hash of its name)."""
    name = CATEGORIES[category_index(category)]
    g = torch.Generator().manual_seed(zlib.crc32(f"toyworld/{name}".encode()))
    return torch.randn(1, tokens, TEXT_DIM, generator=g)


def prompt_table() -> torch.Tensor:
    """Every category's prompt [N, PROMPT_TOKENS, 4096], in CATEGORIES order."""
    return torch.cat([prompt_embedding(i) for i in range(len(CATEGORIES))])
