"""The animated preview: latents mapped to RGB (no VAE), with a caption naming each frame's scene.

`factors` is the linear latent-to-RGB map: the toy world's renderer for the toy model (so frames are
its pictures), else runtime.preview's fixed fallback map (structure and motion only)."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from ..runtime.preview import latent_to_rgb, save_animation, to_images

CAPTION_H = 20
TRANSITION_COLOURS = {"start": (200, 200, 200), "smooth": (96, 214, 196), "cut": (255, 110, 120),
                      "recall": (190, 140, 255), "auto": (244, 162, 97)}


def _font():
    try:
        return ImageFont.load_default(size=12)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def preview_frames(latent: torch.Tensor, factors=None) -> torch.Tensor:
    """latent [C, T, H, W] of one sample -> uint8 RGB [T, H, W, 3], what the preview shows (unscaled)."""
    return latent_to_rgb(latent, *(factors or (None, None)))


def captioned_frames(latent: torch.Tensor, captions: list[tuple[str, str]], max_width: int = 320,
                     factors=None) -> list[Image.Image]:
    """latent [C, T, H, W] of one sample; captions: (text, transition) per latent frame."""
    frames = to_images(preview_frames(latent, factors), max_width=max_width)
    font = _font()
    out = []
    for image, (text, transition) in zip(frames, captions):
        canvas = Image.new("RGB", (image.width, image.height + CAPTION_H), (24, 24, 28))
        canvas.paste(image, (0, 0))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle([0, image.height, 5, image.height + CAPTION_H - 1], fill=TRANSITION_COLOURS.get(transition))
        draw.text((10, image.height + 4), text, font=font, fill=(235, 235, 235))
        out.append(canvas)
    return out


def write_preview(latent: torch.Tensor, captions, path: Path, fps: float, max_width: int = 320,
                  factors=None) -> Path:
    images = captioned_frames(latent, captions, max_width, factors)
    tmp = path.with_name(path.name + ".tmp")
    save_animation(images, tmp, fps=fps)
    tmp.replace(path)
    return path
