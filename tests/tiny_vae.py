"""A tiny random Wan 2.1 VAE in diffusers' layout and in the original layout, with the same weights."""
import torch

from echo_stream.vae import VaeConfig, WanVAEDecoder
from echo_stream.vae.keymap import decoder_original_to_diffusers

TINY_VAE = VaeConfig(dim=8, z_dim=16, dim_mult=(1, 2, 4, 4), num_res_blocks=1)


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
    names = {k: v for k, v in decoder_original_to_diffusers(cfg).items() if k in ours.state_dict()}
    unmapped = (set(ours.state_dict()) - set(names)) | (set(names.values()) - set(ref_state))
    decoder_ref = {k for k in ref_state if k.startswith(("decoder.", "post_quant_conv."))}
    unmapped |= decoder_ref - set(names.values())
    assert not unmapped, f"the key map does not cover both trees: {sorted(unmapped)[:5]}"
    ours.load_state_dict({k: ref_state[v] for k, v in names.items()}, strict=True)
    return ours
