"""Read latent frames back into world terms: category, instance codes, sprite position.

Every code is the nearest codebook entry of a spatial average over the frame's 2x2 patches, so a
painted frame reads back exactly and a generated frame snaps to the closest valid value. `residual`
says how far a frame is from the clean frame its reading describes (0 for a painted frame), and the
motion code comes from the sprite's step between consecutive frames (on the torus).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.errors import InputShapeError
from .categories import CATEGORY_CHANNELS, category_patches
from .instances import (MOTIONS, PALETTE_CHANNELS, PALETTES, PATTERN_CHANNELS, PATTERNS, SPRITE_CHANNELS, Instance,
                        Sprite)
from .render import CHANNELS, check_frame_size, paint_frame


@dataclass(frozen=True)
class Reading:
    """Per frame of a latent [16, T, H, W]: codes as long tensors [T], residual as float [T]."""

    category: torch.Tensor
    palette: torch.Tensor
    pattern: torch.Tensor
    sprite_y: torch.Tensor
    sprite_x: torch.Tensor
    residual: torch.Tensor  # RMS(frame - repainted frame) / RMS(repainted frame)

    def __len__(self) -> int:
        return self.category.numel()

    def sprite(self, t: int) -> Sprite:
        return Sprite(int(self.sprite_y[t]), int(self.sprite_x[t]))


def _patch_mean(x: torch.Tensor) -> torch.Tensor:
    """[C, T, H, W] -> [T, C, 2, 2]: the average 2x2 patch of every frame."""
    c, t, h, w = x.shape
    return x.view(c, t, h // 2, 2, w // 2, 2).mean(dim=(2, 4)).permute(1, 0, 2, 3)


def _nearest(values: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """values [T, ...], codebook [K, ...] -> index of the nearest entry (L2) per row [T]."""
    return torch.cdist(values.flatten(1), codebook.flatten(1).to(values)).argmin(dim=1)


def read_frames(latent: torch.Tensor) -> Reading:
    """Read every frame of a latent [16, T, H, W] (or [16, H, W] for one frame)."""
    if latent.dim() == 3:
        latent = latent.unsqueeze(1)
    if latent.dim() != 4 or latent.shape[0] != CHANNELS:
        raise InputShapeError(f"expected one sample's latent [16, frames, height, width], got {tuple(latent.shape)}")
    check_frame_size(latent.shape[2], latent.shape[3])
    x = latent.detach().float().cpu()
    patches = _patch_mean(x)
    category = _nearest(patches[:, CATEGORY_CHANNELS], category_patches())
    palette = _nearest(patches[:, PALETTE_CHANNELS].mean(dim=(2, 3)), PALETTES)
    pattern = _nearest(patches[:, PATTERN_CHANNELS], PATTERNS)
    spot = x[SPRITE_CHANNELS].sum(0).flatten(1).argmax(dim=1)  # [T]
    w = x.shape[3]
    reading = Reading(category, palette, pattern, spot // w, spot % w, torch.zeros(x.shape[1]))
    clean = torch.stack([paint_frame(int(category[t]), Instance(int(palette[t]), int(pattern[t]), 0), reading.sprite(t),
                                     x.shape[2], x.shape[3]) for t in range(x.shape[1])], dim=1)
    rms = lambda y: y.pow(2).mean(dim=(0, 2, 3)).sqrt()  # noqa: E731
    return Reading(category, palette, pattern, spot // w, spot % w, rms(x - clean) / rms(clean))


def read_motion(reading: Reading, height: int, width: int) -> torch.Tensor:
    """Motion code of each step between consecutive frames [T-1]; -1 where the step is no codebook motion."""
    dy = (reading.sprite_y[1:] - reading.sprite_y[:-1]) % height
    dx = (reading.sprite_x[1:] - reading.sprite_x[:-1]) % width
    codes = torch.full_like(dy, -1)
    for code, (my, mx) in enumerate(MOTIONS):
        codes[(dy == my % height) & (dx == mx % width)] = code
    return codes


def _mode(values: torch.Tensor) -> int:
    return int(torch.mode(values).values) if values.numel() else -1


@dataclass(frozen=True)
class BlockReading:
    """One block (a few frames) summarised: the most common category and codes over its frames."""

    category: int
    instance: Instance  # motion -1 when the sprite's steps match no motion code
    sprite: Sprite  # in the block's last frame
    residual: float  # the largest over its frames

    @property
    def codes(self) -> tuple[int, int, int]:
        return self.instance.codes

    @property
    def look(self) -> tuple[int, int]:
        """(palette, pattern): the instance as one frame shows it, without the sprite's motion."""
        return self.instance.palette, self.instance.pattern


def read_block(latent: torch.Tensor, previous_frame: torch.Tensor | None = None) -> BlockReading:
    """Summarise a block [16, F, H, W]; `previous_frame` [16, H, W] (the frame before it) adds a motion step."""
    frames = latent if previous_frame is None else torch.cat([previous_frame.unsqueeze(1), latent], dim=1)
    r = read_frames(frames)
    own = slice(0 if previous_frame is None else 1, None)
    motion = read_motion(r, latent.shape[2], latent.shape[3])
    motion = motion[motion >= 0]
    return BlockReading(
        category=_mode(r.category[own]),
        instance=Instance(_mode(r.palette[own]), _mode(r.pattern[own]), _mode(motion)),
        sprite=r.sprite(len(r) - 1),
        residual=float(r.residual[own].max()),
    )
