"""Tiny random Wan models and conditioning for tests (nothing is downloaded)."""
import torch

from echo_stream.engine import CausalWan, WanConfig, WanDiT

TINY = WanConfig(dim=48, ffn_dim=96, num_heads=2, num_layers=2, text_dim=32, freq_dim=16, text_len=16)


def tiny_dit(seed: int = 0, cfg: WanConfig = TINY) -> WanDiT:
    torch.manual_seed(seed)
    dit = WanDiT(cfg)
    with torch.no_grad():  # non-trivial norms and biases so a wrong mapping cannot hide
        for name, p in dit.named_parameters():
            if name.endswith("norm_q.weight") or name.endswith("norm_k.weight") or "norm3" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn_like(p))
    return dit.eval()


def tiny_model(seed: int = 0, cfg: WanConfig = TINY) -> CausalWan:
    return CausalWan(tiny_dit(seed, cfg))


def text(tokens: int = 7, seed: int = 1, cfg: WanConfig = TINY, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, tokens, cfg.text_dim, generator=g)


def latent(frames: int, h: int = 4, w: int = 6, seed: int = 2, batch: int = 1, cfg: WanConfig = TINY) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, cfg.in_dim, frames, h, w, generator=g)
