"""Sizes, in one place: pixels to latents and tokens, frames to seconds, and the cache geometry.

Wan2.1's VAE compresses space by 8 and time by 4 with a causal first frame: T latent frames decode
to 4T - 3 pixel frames (1 + 4 (T - 1)). A stream adds 4 pixel frames per latent frame, so rates use
the stride and counts use `pixel_frames`.
"""
from __future__ import annotations

import torch

from .config import WanConfig
from .errors import InputShapeError
from .memory_api import CacheGeometry
from .rope import RotaryEmbedding

FPS = 16  # Wan2.1 pixel frames per second
PIXELS_PER_LATENT = 8  # spatial compression of the VAE
VAE_TEMPORAL_STRIDE = 4  # pixel frames per latent frame after the first
SIZE_MULTIPLE = 16  # latents are patched in 2 x 2


def pixel_frames(latent_frames: int) -> int:
    """Pixel frames a Wan VAE decodes from `latent_frames` latent frames: 4T - 3 (0 for none)."""
    return 0 if latent_frames <= 0 else VAE_TEMPORAL_STRIDE * (latent_frames - 1) + 1


def latent_size(width: int, height: int) -> tuple[int, int]:
    """Pixel width/height -> latent (height, width); both must be positive multiples of 16."""
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % SIZE_MULTIPLE:
            lower = max(SIZE_MULTIPLE, value // SIZE_MULTIPLE * SIZE_MULTIPLE)
            raise InputShapeError(
                f"{name} {value} is not a positive multiple of {SIZE_MULTIPLE}; "
                f"use {lower} or {lower + SIZE_MULTIPLE} (Wan latents are 1/8 of the pixels, patched in 2x2)"
            )
    return height // PIXELS_PER_LATENT, width // PIXELS_PER_LATENT


def cache_geometry(model, *, width: int, height: int, frames_per_block: int = 3, batch: int = 1,
                   dtype: torch.dtype | None = None, device=None) -> CacheGeometry:
    """The geometry a memory policy is set up with, for a CausalWan (or a bare WanConfig, then with
    dtype and device given) at a pixel size. device="meta" sizes caches without allocating them."""
    config: WanConfig = getattr(model, "config", model)
    rotary = getattr(model, "rotary", None) or RotaryEmbedding(config.head_dim)
    dtype = dtype if dtype is not None else model.dtype
    device = torch.device(device) if device is not None else model.device
    latent_h, latent_w = latent_size(width, height)
    _, ph, pw = config.patch_size
    return CacheGeometry(num_layers=config.num_layers, num_heads=config.num_heads, head_dim=config.head_dim,
                         grid_h=latent_h // ph, grid_w=latent_w // pw, frames_per_block=frames_per_block,
                         batch=batch, dtype=dtype, device=device, rotary=rotary)
