"""The demo's models: the bundled toy-world model (default), a small random Wan, or a real checkpoint."""
from __future__ import annotations

import torch

from ..engine import CausalWan, CheckpointError, WanConfig, WanDiT, load_causal_wan

SEED = 20261121
TEXT_DIM = 64  # synthetic prompt embeddings of the random models (a real Wan2.1 takes 4096)
DEMO = WanConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=4, text_dim=TEXT_DIM, freq_dim=64, text_len=32)
SHORT = WanConfig(dim=48, ffn_dim=96, num_heads=2, num_layers=2, text_dim=TEXT_DIM, freq_dim=32, text_len=32)


def random_model(short: bool, device: torch.device, dtype: torch.dtype) -> CausalWan:
    """Same weights on every machine: parameters drawn on the CPU from SEED, then moved."""
    cfg = SHORT if short else DEMO
    torch.manual_seed(SEED)
    dit = WanDiT(cfg).eval()
    return CausalWan(dit.to(device=device, dtype=dtype), cfg)


def toy_model(device: torch.device, dtype: torch.dtype) -> CausalWan:
    from ..toyworld.model import load_toy_model

    return load_toy_model(device=device, dtype=dtype)


def checkpoint_model(path: str, device: torch.device, dtype: torch.dtype, num_heads: int | None = None,
                     prefer_ema: bool = True) -> CausalWan:
    try:
        return load_causal_wan(path, dtype=dtype, device=device, num_heads=num_heads, prefer_ema=prefer_ema)
    except CheckpointError as err:
        if num_heads is None and "num_heads" in str(err):  # a hidden size Wan's 128-wide heads do not divide
            raise CheckpointError(f"{err} (on the command line: --num-heads N)") from None
        raise


def describe(model: CausalWan) -> dict:
    c = model.config
    return {"dim": c.dim, "layers": c.num_layers, "heads": c.num_heads, "text_dim": c.text_dim,
            "dtype": str(model.dtype).replace("torch.", ""),
            "parameters": sum(p.numel() for p in model.dit.parameters())}
