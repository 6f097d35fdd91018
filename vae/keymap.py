"""Original Wan VAE decoder names -> diffusers `AutoencoderKLWan` names (the layout of diffusers'
scripts/convert_wan_to_diffusers.py), for checking against diffusers and for diffusers-layout files."""
from __future__ import annotations

from .modules import VaeConfig

_RESIDUAL = {"residual.0.gamma": "norm1.gamma", "residual.2.weight": "conv1.weight", "residual.2.bias": "conv1.bias",
             "residual.3.gamma": "norm2.gamma", "residual.6.weight": "conv2.weight", "residual.6.bias": "conv2.bias",
             "shortcut.weight": "conv_shortcut.weight", "shortcut.bias": "conv_shortcut.bias"}


def _residual(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.{a}": f"{theirs}.{b}" for a, b in _RESIDUAL.items()}


def decoder_original_to_diffusers(cfg: VaeConfig) -> dict[str, str]:
    """Every name a decoder of this config may have (shortcuts exist only where widths change)."""
    names = {"conv2.weight": "post_quant_conv.weight", "conv2.bias": "post_quant_conv.bias",
             "decoder.conv1.weight": "decoder.conv_in.weight", "decoder.conv1.bias": "decoder.conv_in.bias",
             "decoder.head.0.gamma": "decoder.norm_out.gamma",
             "decoder.head.2.weight": "decoder.conv_out.weight", "decoder.head.2.bias": "decoder.conv_out.bias"}
    names.update(_residual("decoder.middle.0", "decoder.mid_block.resnets.0"))
    names.update(_residual("decoder.middle.2", "decoder.mid_block.resnets.1"))
    for p in ("norm.gamma", "to_qkv.weight", "to_qkv.bias", "proj.weight", "proj.bias"):
        names[f"decoder.middle.1.{p}"] = f"decoder.mid_block.attentions.0.{p}"
    flat = 0  # the original keeps one flat list of residual blocks and resamples
    for stage in range(len(cfg.dim_mult)):
        for j in range(cfg.num_res_blocks + 1):
            names.update(_residual(f"decoder.upsamples.{flat}", f"decoder.up_blocks.{stage}.resnets.{j}"))
            flat += 1
        if stage != len(cfg.dim_mult) - 1:
            for p in ("resample.1.weight", "resample.1.bias", "time_conv.weight", "time_conv.bias"):
                names[f"decoder.upsamples.{flat}.{p}"] = f"decoder.up_blocks.{stage}.upsamplers.0.{p}"
            flat += 1
    return names
