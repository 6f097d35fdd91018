"""The Wan 2.1 latent normalisation: the diffusion model works on (mu - mean) / std per channel."""
from __future__ import annotations

import torch

WAN21_LATENT_MEAN = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)
WAN21_LATENT_STD = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)


def model_to_vae_space(latents: torch.Tensor) -> torch.Tensor:
    """[B, 16, T, h, w] model-space latents -> the VAE's own latents (z * std + mean).

    ComfyUI's LATENT outputs are already in VAE space (core's `Wan21.process_out`); use this only for
    latents taken straight from the diffusion model.
    """
    shape = (1, -1, 1, 1, 1)
    mean = torch.tensor(WAN21_LATENT_MEAN, dtype=latents.dtype, device=latents.device).view(shape)
    std = torch.tensor(WAN21_LATENT_STD, dtype=latents.dtype, device=latents.device).view(shape)
    return latents * std + mean
