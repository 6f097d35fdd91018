"""The smallest sensible stream for long runs: one token per latent frame.

16 x 16 pixels -> a 2 x 2 latent -> one 2 x 2 patch, so attention, compression and RoPE ids run on
exactly the code paths of a real model while a block costs milliseconds. Used by the soak and by the
cache-bytes-against-length run.
"""
from __future__ import annotations

import torch

import loadpack  # noqa: F401
from echo_stream.engine import CausalWan, FlowSchedule, StreamSettings, WanConfig, WanDiT

WIDTH = HEIGHT = 16
ONE_STEP = StreamSettings(FlowSchedule((1000,)))  # cheapest schedule; cache bytes do not depend on it
FOUR_STEPS = StreamSettings()  # Self-Forcing's 1000, 750, 500, 250


def tiny_config(layers: int = 2, dim: int = 32, heads: int = 2) -> WanConfig:
    return WanConfig(dim=dim, ffn_dim=2 * dim, num_heads=heads, num_layers=layers, text_dim=16, freq_dim=16,
                     text_len=8)


def tiny_model(cfg: WanConfig | None = None, seed: int = 0, device="cpu") -> CausalWan:
    cfg = cfg or tiny_config()
    torch.manual_seed(seed)
    with torch.device(device):
        dit = WanDiT(cfg)
    return CausalWan(dit.eval(), cfg)


def prompt_bank(count: int, cfg: WanConfig, seed: int = 7, tokens: int = 4) -> list[torch.Tensor]:
    """Unrelated synthetic prompts (independent Gaussian embeddings: pairwise similarity near 0)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, tokens, cfg.text_dim, generator=g) for _ in range(count)]


def near(prompt: torch.Tensor, seed: int, noise: float = 0.3) -> torch.Tensor:
    """A prompt close to `prompt` (what recall by similarity should find)."""
    g = torch.Generator().manual_seed(seed)
    return prompt + noise * torch.randn(prompt.shape, generator=g)
