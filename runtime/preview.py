"""Latent -> small RGB previews, without the VAE.

A linear map from the 16 latent channels to RGB, as ComfyUI's Latent2RGB previewer does. The
node layer passes ComfyUI's Wan2.1 `latent_rgb_factors` when ComfyUI is there; without it (tests,
the demo) `FALLBACK` is a fixed map of our own that only shows structure and motion, not colour.
"""
from __future__ import annotations

import base64
import io

import torch

FALLBACK_SEED = 20261121


def fallback_factors(channels: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded channels x 3 projection scaled so unit-variance latents span the colours."""
    g = torch.Generator().manual_seed(FALLBACK_SEED)
    factors = torch.randn(channels, 3, generator=g) / (channels ** 0.5) * 0.5
    return factors, torch.zeros(3)


def latent_to_rgb(latent: torch.Tensor, factors=None, bias=None) -> torch.Tensor:
    """latent [C, T, H, W] -> uint8 [T, H, W, 3] (no upscaling)."""
    if latent.dim() != 4:
        raise ValueError(f"expected one sample's latent [C, T, H, W], got {tuple(latent.shape)}")
    if factors is None:
        factors, bias = fallback_factors(latent.shape[0])
    factors = torch.as_tensor(factors, dtype=torch.float32)
    bias = torch.zeros(3) if bias is None else torch.as_tensor(bias, dtype=torch.float32)
    rgb = torch.einsum("cthw,ck->thwk", latent.detach().float().cpu(), factors) + bias
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_images(frames: torch.Tensor, max_width: int = 256):
    """uint8 [T, H, W, 3] -> PIL images, upscaled (nearest) or downscaled to at most max_width."""
    from PIL import Image

    images = []
    for frame in frames:
        image = Image.fromarray(frame.numpy())
        scale = max_width / image.width
        if scale != 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.NEAREST if scale > 1 else Image.BILINEAR)
        images.append(image)
    return images


def data_url(image, quality: int = 70) -> str:
    """A PIL image as a JPEG data URL (what the live preview events carry)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def save_animation(images, path, fps: float = 4.0) -> None:
    """An animated WEBP of the preview frames (written whole; callers write to a temp name and rename)."""
    if not images:
        raise ValueError("no frames to animate")
    first, rest = images[0], images[1:]
    first.save(path, format="WEBP", save_all=True, append_images=rest, duration=int(1000 / fps), loop=0,
               quality=80)
