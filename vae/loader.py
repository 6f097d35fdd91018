"""Build a `WanVAEDecoder` from `wan_2.1_vae.safetensors` (original key layout; safetensors only)."""
from __future__ import annotations

import os
import pathlib
import re

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .modules import VaeConfig, WanVAEDecoder

_UPSAMPLE_KEY = re.compile(r"^decoder\.upsamples\.(\d+)\.")


class VaeFileError(ValueError):
    """A file is not a Wan 2.1 VAE in the original layout."""


def infer_config(state: dict[str, torch.Tensor]) -> VaeConfig:
    """Read dim, z_dim, dim_mult, res blocks and temporal upsampling from the decoder's weight shapes."""
    if "decoder.conv_in.weight" in state:
        raise VaeFileError("this VAE is in diffusers' layout (decoder.conv_in ...); use the original-layout "
                           "wan_2.1_vae.safetensors (ComfyUI's models/vae file), whose keys start decoder.conv1")
    for key in ("conv2.weight", "decoder.conv1.weight", "decoder.head.2.weight"):
        if key not in state:
            raise VaeFileError(f"no `{key}`: not a Wan 2.1 VAE in the original layout "
                               "(expected ComfyUI's wan_2.1_vae.safetensors)")
    z_dim = state["conv2.weight"].shape[0]
    if z_dim != 16:
        raise VaeFileError(f"the latent has {z_dim} channels; the Wan 2.1 VAE has 16 (Wan 2.2's VAE is not supported)")
    count = 1 + max(int(m.group(1)) for k in state if (m := _UPSAMPLE_KEY.match(k)))
    stages: list[list[int]] = [[]]  # output widths of each stage's residual blocks
    temporal: list[bool] = []
    for n in range(count):
        if f"decoder.upsamples.{n}.resample.1.weight" in state:
            temporal.append(f"decoder.upsamples.{n}.time_conv.weight" in state)
            stages.append([])
        else:
            stages[-1].append(state[f"decoder.upsamples.{n}.residual.2.weight"].shape[0])
    widths = [stage[0] for stage in stages]
    dim = widths[-1]
    return VaeConfig(dim=dim, z_dim=z_dim, dim_mult=tuple(w // dim for w in reversed(widths)),
                     num_res_blocks=len(stages[0]) - 1, temperal_upsample=tuple(temporal))


def load_wan21_vae_decoder(path: str | os.PathLike, dtype: torch.dtype = torch.float32,
                           device: str | torch.device = "cpu") -> WanVAEDecoder:
    path = pathlib.Path(path)
    if path.suffix != ".safetensors":
        raise VaeFileError(f"{path.name}: only .safetensors VAE files are loaded (pickled .pth files can run "
                           "code); use ComfyUI's wan_2.1_vae.safetensors")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise VaeFileError(f"{path}: cannot read it as safetensors ({err}); is the download complete?") from None
    cfg = infer_config(state)
    tree = WanVAEDecoder(cfg)
    wanted = tree.state_dict().keys()
    decoder_state = {k: v for k, v in state.items() if k in wanted}
    missing = sorted(set(wanted) - decoder_state.keys())
    if missing:
        raise VaeFileError(f"{path.name}: {len(missing)} decoder weights missing (first: {missing[0]}); "
                           "the file is not a complete Wan 2.1 VAE")
    try:
        tree.load_state_dict(decoder_state, strict=True)
    except RuntimeError as err:
        raise VaeFileError(f"{path.name}: weight shapes do not fit a Wan 2.1 VAE decoder ({err})") from None
    return tree.to(device=device, dtype=dtype).eval()
