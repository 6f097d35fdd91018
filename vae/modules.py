"""The decoder half of the Wan 2.1 VAE as a module tree under the original names.

Names and shapes follow Wan's `wan/modules/vae.py` (and ComfyUI's `comfy/ldm/wan/vae.py`, which keeps
them), so `wan_2.1_vae.safetensors` loads into it key for key: `conv2` (the 1x1x1 post-quant conv),
`decoder.conv1`, `decoder.middle.{0,1,2}`, `decoder.upsamples.N` (ResidualBlocks and Resamples in one
flat list), `decoder.head.{0,2}`. The modules hold weights only; `streaming.py` runs them, one latent
frame at a time, with a feature cache of its own, and runs a core VAE's modules the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VaeConfig:
    """Wan 2.1: dim 96, z_dim 16, dim_mult [1, 2, 4, 4], 2 res blocks, temporal upsample in stages 0, 1."""
    dim: int = 96
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temperal_upsample: tuple[bool, ...] = field(default=(True, True, False))

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(self.temperal_upsample)

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.dim_mult) - 1)


class CausalConv3d(nn.Conv3d):
    """A Conv3d whose time axis is padded on the past side only (the streaming driver pads it)."""


class RMS_norm(nn.Module):  # noqa: N801 - the original name, so checkpoints load key for key
    def __init__(self, dim: int, channel_first: bool = True, images: bool = True, bias: bool = False):
        super().__init__()
        broadcastable_dims = (1, 1, 1) if not images else (1, 1)
        shape = (dim, *broadcastable_dims) if channel_first else (dim,)
        self.channel_first = channel_first
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.normalize(x, dim=1 if self.channel_first else -1) * self.scale * self.gamma.to(x)
        return out + self.bias.to(x) if self.bias is not None else out


class ResidualBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.residual = nn.Sequential(
            RMS_norm(in_dim, images=False), nn.SiLU(), CausalConv3d(in_dim, out_dim, 3, padding=1),
            RMS_norm(out_dim, images=False), nn.SiLU(), nn.Dropout(0.0), CausalConv3d(out_dim, out_dim, 3, padding=1))
        self.shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()


class AttentionBlock(nn.Module):
    """Single-head self-attention within each frame (nothing mixes frames here)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = RMS_norm(dim)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)


class Resample(nn.Module):
    """2x spatial upsample (halving channels); 'upsample3d' also doubles time through `time_conv`."""

    def __init__(self, dim: int, mode: str):
        super().__init__()
        if mode not in ("upsample2d", "upsample3d"):
            raise ValueError(f"the decoder only upsamples; got mode {mode!r}")
        self.mode = mode
        self.resample = nn.Sequential(nn.Upsample(scale_factor=(2.0, 2.0), mode="nearest-exact"),
                                      nn.Conv2d(dim, dim // 2, 3, padding=1))
        if mode == "upsample3d":
            self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))


class Decoder3d(nn.Module):
    def __init__(self, cfg: VaeConfig, output_channels: int = 3):
        super().__init__()
        dims = [cfg.dim * u for u in [cfg.dim_mult[-1], *cfg.dim_mult[::-1]]]
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), AttentionBlock(dims[0]),
                                    ResidualBlock(dims[0], dims[0]))
        upsamples: list[nn.Module] = []
        for i, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            if i > 0:
                in_dim //= 2  # the previous Resample halved the channels
            for _ in range(cfg.num_res_blocks + 1):
                upsamples.append(ResidualBlock(in_dim, out_dim))
                in_dim = out_dim
            if i != len(cfg.dim_mult) - 1:
                upsamples.append(Resample(out_dim, "upsample3d" if cfg.temperal_upsample[i] else "upsample2d"))
        self.upsamples = nn.Sequential(*upsamples)
        self.head = nn.Sequential(RMS_norm(dims[-1], images=False), nn.SiLU(),
                                  CausalConv3d(dims[-1], output_channels, 3, padding=1))


class WanVAEDecoder(nn.Module):
    """`conv2` + `decoder`: the part of a Wan 2.1 VAE (or of core's `WanVAE`) that decoding uses."""

    def __init__(self, cfg: VaeConfig = VaeConfig()):
        super().__init__()
        self.config = cfg
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder3d(cfg)
