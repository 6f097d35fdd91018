"""Latents as `.latent` files that ComfyUI's core Load Latent node reads (safetensors, atomic write)."""
from __future__ import annotations

import json
import os
import pathlib

import torch
from safetensors.torch import save_file


def save_latent(latents: torch.Tensor, path: str | os.PathLike, metadata: dict | None = None) -> pathlib.Path:
    """Write [B, 16, T, H/8, W/8] latents; the marker tensor tells Load Latent not to rescale them."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"latent_tensor": latents.detach().float().cpu().contiguous(), "latent_format_version_0": torch.tensor([])}
    meta = {"echo_stream": json.dumps(metadata or {})}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path
