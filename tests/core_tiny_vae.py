"""Run under ComfyUI's interpreter: a tiny random core `WanVAE` (all weights set: core's ops leave them
uninitialised), and a writer of it as a wan_2.1-layout safetensors file core's Load VAE detects.

Usage: python core_tiny_vae.py <ComfyUI path> <out.safetensors>
"""
import sys

import torch


def random_core_wan_vae(num_res_blocks: int = 1, dim: int = 8, seed: int = 0):
    from comfy.ldm.wan.vae import WanVAE

    torch.manual_seed(seed)
    core = WanVAE(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=num_res_blocks,
                  temperal_downsample=[False, True, True])
    state = {}
    for name, tensor in core.state_dict().items():
        fill = 1 + 0.3 * torch.randn(tensor.shape) if name.endswith("gamma") else 0.1 * torch.randn(tensor.shape)
        if name.endswith("weight") and tensor.ndim > 1:
            fill = torch.randn(tensor.shape) / (tensor[0].numel() ** 0.5)
        state[name] = fill.contiguous()
    core.load_state_dict(state)
    return core.eval(), state


def setup_comfy(path: str) -> None:
    sys.path.insert(0, path)
    import comfy.options

    comfy.options.enable_args_parsing()
    sys.argv = [sys.argv[0], "--cpu"]


if __name__ == "__main__":
    out = sys.argv[2]
    setup_comfy(sys.argv[1])  # replaces sys.argv for ComfyUI's argument parser
    from safetensors.torch import save_file

    _, weights = random_core_wan_vae(num_res_blocks=2)  # core's Load VAE assumes 2 res blocks per stage
    save_file(weights, out)
