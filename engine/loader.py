"""Load a causal Wan2.1 DiT from any supported checkpoint layout into a `CausalWan`."""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import check_wan_state_dict, read_tensors, to_original_names
from .config import WanConfig
from .lora import merge_lora
from .modules import WanDiT
from .attention import AttentionBackend
from .transformer import CausalWan


def load_state_dict(path, *, prefer_ema: bool = True) -> dict:
    """Original-name state dict of the DiT in `path` (format detected from the file)."""
    return to_original_names(read_tensors(path, prefer_ema=prefer_ema))


def build_model(sd: dict, *, source="state dict", dtype: torch.dtype | None = None, device="cpu",
                num_heads: int | None = None, attention: AttentionBackend | None = None) -> CausalWan:
    """Validate `sd` and wrap it as a CausalWan without copying more than the dtype cast needs."""
    return _assemble(sd, check_wan_state_dict(sd, source, num_heads=num_heads), dtype, device, attention)


def _assemble(sd: dict, cfg: WanConfig, dtype, device, attention=None) -> CausalWan:
    with torch.device("meta"):
        dit = WanDiT(cfg)
    cast = {k: v.to(device=device, dtype=dtype or v.dtype) for k, v in sd.items()}
    dit.load_state_dict(cast, strict=True, assign=True)
    return CausalWan(dit.eval(), cfg, attention=attention)


def load_causal_wan(
    path,
    *,
    dtype: torch.dtype | None = None,
    device="cpu",
    lora=None,
    lora_strength: float = 1.0,
    lora_alpha: float | None = None,
    num_heads: int | None = None,
    prefer_ema: bool = True,
    attention: AttentionBackend | None = None,
) -> CausalWan:
    """Load Self-Forcing/CausVid/LongLive .pt, original/ComfyUI or diffusers safetensors.

    dtype None keeps the stored dtype. `lora` (LongLive's lora.pt or a safetensors LoRA) is merged
    into the weights with `lora_strength` before the cast. `attention`: the streamed path's attention
    backend (default torch SDPA).
    """
    sd = load_state_dict(path, prefer_ema=prefer_ema)
    cfg = check_wan_state_dict(sd, path, num_heads=num_heads)
    if lora is not None:  # merging keeps every shape (merge_lora checks each delta)
        merge_lora(sd, Path(lora), strength=lora_strength, alpha=lora_alpha)
    return _assemble(sd, cfg, dtype, device, attention)
