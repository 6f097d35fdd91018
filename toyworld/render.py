"""Paint world frames as Wan latents [16, H, W], and the fixed renderer from any latent to RGB.

Channel layout of a latent frame (H, W even; every pattern repeats per 2x2 patch):
  0-2 category colour, 3-5 category texture, 6-9 palette tint, 10-13 instance pattern,
  14-15 the sprite (SPRITE_ON at its latent pixel, SPRITE_OFF elsewhere).
The renderer is one linear map 16 -> RGB plus a bias (the shape ComfyUI's Latent2RGB previews use),
so it applies equally to painted and to generated latents and can be passed to
`runtime.preview.latent_to_rgb(latent, *rgb_factors())`.
"""
from __future__ import annotations

import torch

from ..engine.errors import InputShapeError
from .categories import CATEGORY_CHANNELS, category_patch
from .instances import (PALETTE_AMPLITUDE, PALETTE_CHANNELS, PALETTES, PATTERN_CHANNELS, PATTERNS, SPRITE_CHANNELS,
                        SPRITE_OFF, SPRITE_ON, Instance, Sprite)

CHANNELS = 16
PIXELS_PER_LATENT = 8


def check_frame_size(height: int, width: int) -> None:
    if height < 2 or width < 2 or height % 2 or width % 2:
        raise InputShapeError(f"toy-world frames need an even latent height and width >= 2 (the 2x2 patch); "
                              f"got {height}x{width}: use pixel sizes that are multiples of 16")


def paint_frame(category: int, instance: Instance, sprite: Sprite, height: int = 8, width: int = 8) -> torch.Tensor:
    """One latent frame [16, height, width] of `category` with `instance`'s details and the sprite."""
    check_frame_size(height, width)
    frame = torch.empty(CHANNELS, height, width)
    tile = (1, height // 2, width // 2)
    frame[CATEGORY_CHANNELS] = category_patch(category).repeat(tile)
    frame[PALETTE_CHANNELS] = (PALETTE_AMPLITUDE * PALETTES[instance.palette]).view(4, 1, 1)
    frame[PATTERN_CHANNELS] = PATTERNS[instance.pattern].repeat(tile)
    frame[SPRITE_CHANNELS] = SPRITE_OFF
    frame[SPRITE_CHANNELS, sprite.y % height, sprite.x % width] = SPRITE_ON
    return frame


def rgb_factors() -> tuple[torch.Tensor, torch.Tensor]:
    """(factors [16, 3], bias [3]): RGB in [-1, 1] = latent . factors + bias (then clamped)."""
    f = torch.zeros(CHANNELS, 3)
    f[0:3] = 0.75 * torch.eye(3)  # the category's colour
    f[3:6] = 0.08  # its texture as a light/dark grain
    tint = torch.tensor([[0.10, 0.00, -0.10], [0.00, 0.10, 0.00], [-0.08, 0.00, 0.10], [0.06, 0.06, 0.06]])
    f[6:10] = tint  # palette
    f[10:14] = torch.tensor([0.05, -0.05, 0.05])  # pattern
    f[14:16] = 0.35  # sprite: white
    bias = torch.full((3,), -0.35 * 2 * SPRITE_OFF)
    return f, bias


def render_rgb(latent: torch.Tensor, scale: int = PIXELS_PER_LATENT) -> torch.Tensor:
    """Latent [16, T, H, W] (or one frame [16, H, W]) -> uint8 RGB [T, H*scale, W*scale, 3]."""
    if latent.dim() == 3:
        latent = latent.unsqueeze(1)
    if latent.dim() != 4 or latent.shape[0] != CHANNELS:
        raise InputShapeError(f"expected a latent [16, frames, height, width] or a frame [16, height, width], "
                              f"got {tuple(latent.shape)}")
    factors, bias = rgb_factors()
    rgb = torch.einsum("cthw,ck->thwk", latent.detach().float().cpu(), factors) + bias
    rgb = rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
