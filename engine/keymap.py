"""Rename between original Wan / ComfyUI tensor names and diffusers' WanTransformer3DModel names."""
from __future__ import annotations

import re

# module stems inside blocks.N. (the parameter suffix .weight/.bias is kept as is)
_BLOCK = {
    "self_attn.q": "attn1.to_q",
    "self_attn.k": "attn1.to_k",
    "self_attn.v": "attn1.to_v",
    "self_attn.o": "attn1.to_out.0",
    "self_attn.norm_q": "attn1.norm_q",
    "self_attn.norm_k": "attn1.norm_k",
    "cross_attn.q": "attn2.to_q",
    "cross_attn.k": "attn2.to_k",
    "cross_attn.v": "attn2.to_v",
    "cross_attn.o": "attn2.to_out.0",
    "cross_attn.norm_q": "attn2.norm_q",
    "cross_attn.norm_k": "attn2.norm_k",
    "norm3": "norm2",  # the affine LayerNorm before cross-attention
    "ffn.0": "ffn.net.0.proj",
    "ffn.2": "ffn.net.2",
}
_GLOBAL = {
    "patch_embedding": "patch_embedding",
    "text_embedding.0": "condition_embedder.text_embedder.linear_1",
    "text_embedding.2": "condition_embedder.text_embedder.linear_2",
    "time_embedding.0": "condition_embedder.time_embedder.linear_1",
    "time_embedding.2": "condition_embedder.time_embedder.linear_2",
    "time_projection.1": "condition_embedder.time_proj",
    "head.head": "proj_out",
}
# bare parameters (no .weight/.bias suffix)
_BLOCK_PARAMS = {"modulation": "scale_shift_table"}
_GLOBAL_PARAMS = {"head.modulation": "scale_shift_table"}

DIFFUSERS_MARKERS = ("condition_embedder.", ".attn1.", ".attn2.", "proj_out.", "scale_shift_table")


def _rename(key: str, block: dict, glob: dict, block_params: dict, glob_params: dict) -> str | None:
    if key in glob_params:
        return glob_params[key]
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", key)
    table, prefix, rest = (block, f"blocks.{m.group(1)}.", m.group(2)) if m else (glob, "", key)
    params = block_params if m else {}
    if rest in params:
        return prefix + params[rest]
    stem, _, suffix = rest.rpartition(".")
    if stem in table and suffix in ("weight", "bias"):
        return f"{prefix}{table[stem]}.{suffix}"
    return None


def _invert(d: dict) -> dict:
    return {v: k for k, v in d.items()}


def original_to_diffusers(key: str) -> str | None:
    """Original Wan name -> diffusers name, or None if the key is not part of a Wan T2V DiT."""
    return _rename(key, _BLOCK, _GLOBAL, _BLOCK_PARAMS, _GLOBAL_PARAMS)


def diffusers_to_original(key: str) -> str | None:
    """diffusers name -> original Wan name, or None if unknown."""
    return _rename(key, _invert(_BLOCK), _invert(_GLOBAL), _invert(_BLOCK_PARAMS), _invert(_GLOBAL_PARAMS))


def looks_like_diffusers(keys) -> bool:
    return any(marker in k for k in keys for marker in DIFFUSERS_MARKERS)
