"""A tiny random Wan 2.1 VAE in diffusers' layout and in the original layout, with the same weights."""
import torch

from echo_stream.vae import VaeConfig, WanVAEDecoder

TINY_VAE = VaeConfig(dim=8, z_dim=16, dim_mult=(1, 2, 4, 4), num_res_blocks=1)


def _residual_to_diffusers(prefix_ours: str, prefix_ref: str) -> dict[str, str]:
    parts = {"residual.0.gamma": "norm1.gamma", "residual.2.weight": "conv1.weight", "residual.2.bias": "conv1.bias",
             "residual.3.gamma": "norm2.gamma", "residual.6.weight": "conv2.weight", "residual.6.bias": "conv2.bias",
             "shortcut.weight": "conv_shortcut.weight", "shortcut.bias": "conv_shortcut.bias"}
    return {f"{prefix_ours}.{a}": f"{prefix_ref}.{b}" for a, b in parts.items()}


def original_to_diffusers_names(cfg: VaeConfig) -> dict[str, str]:
    """Original Wan decoder key -> diffusers AutoencoderKLWan key (the layout of convert_wan_to_diffusers.py)."""
    names = {"conv2.weight": "post_quant_conv.weight", "conv2.bias": "post_quant_conv.bias",
             "decoder.conv1.weight": "decoder.conv_in.weight", "decoder.conv1.bias": "decoder.conv_in.bias",
             "decoder.head.0.gamma": "decoder.norm_out.gamma",
             "decoder.head.2.weight": "decoder.conv_out.weight", "decoder.head.2.bias": "decoder.conv_out.bias"}
    names.update(_residual_to_diffusers("decoder.middle.0", "decoder.mid_block.resnets.0"))
    names.update(_residual_to_diffusers("decoder.middle.2", "decoder.mid_block.resnets.1"))
    for p in ("norm.gamma", "to_qkv.weight", "to_qkv.bias", "proj.weight", "proj.bias"):
        names[f"decoder.middle.1.{p}"] = f"decoder.mid_block.attentions.0.{p}"
    flat = 0
    for stage in range(len(cfg.dim_mult)):
        for j in range(cfg.num_res_blocks + 1):
            names.update(_residual_to_diffusers(f"decoder.upsamples.{flat}", f"decoder.up_blocks.{stage}.resnets.{j}"))
            flat += 1
        if stage != len(cfg.dim_mult) - 1:
            for p in ("resample.1.weight", "resample.1.bias", "time_conv.weight", "time_conv.bias"):
                names[f"decoder.upsamples.{flat}.{p}"] = f"decoder.up_blocks.{stage}.upsamplers.0.{p}"
            flat += 1
    return names


def tiny_reference_vae(cfg: VaeConfig = TINY_VAE, seed: int = 0):
    """diffusers' AutoencoderKLWan with random weights, norms and biases perturbed so nothing is trivial."""
    import diffusers
    torch.manual_seed(seed)
    ref = diffusers.AutoencoderKLWan(base_dim=cfg.dim, z_dim=cfg.z_dim, dim_mult=list(cfg.dim_mult),
                                     num_res_blocks=cfg.num_res_blocks,
                                     temperal_downsample=list(cfg.temperal_upsample[::-1])).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    return ref


def ours_from_reference(ref, cfg: VaeConfig = TINY_VAE) -> WanVAEDecoder:
    ours = WanVAEDecoder(cfg).eval()
    ref_state = ref.state_dict()
    names = {k: v for k, v in original_to_diffusers_names(cfg).items() if k in ours.state_dict()}
    unmapped = (set(ours.state_dict()) - set(names)) | (set(names.values()) - set(ref_state))
    decoder_ref = {k for k in ref_state if k.startswith(("decoder.", "post_quant_conv."))}
    unmapped |= decoder_ref - set(names.values())
    assert not unmapped, f"the key map does not cover both trees: {sorted(unmapped)[:5]}"
    ours.load_state_dict({k: ref_state[v] for k, v in names.items()}, strict=True)
    return ours
