"""Self-attention over a policy's context through scaled_dot_product_attention."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .memory_api import AttentionContext
from .rope import Rotary, apply_rotary


def _per_token(weights: torch.Tensor, batch: int) -> torch.Tensor:
    """[N] or [B, N] -> [B|1, N]."""
    return weights.view(1, -1) if weights.dim() == 1 else weights.view(batch, -1)


def attend_context(q: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
    """q [B, Nq, H, D] pre-RoPE; returns [B, Nq, H*D]."""
    b, nq, h, d = q.shape
    q = apply_rotary(q, ctx.query_rotary)
    k = apply_rotary(ctx.keys, ctx.key_rotary)
    v = ctx.values
    if ctx.key_scale is not None:
        scale = _per_token(ctx.key_scale, b).to(k.dtype)[:, :, None, None]
        k, v = k * scale, v * scale
    mask = None
    if ctx.logit_bias is not None:
        mask = _per_token(ctx.logit_bias, b).to(q.dtype)[:, None, None, :]
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2).reshape(b, nq, h * d)


def attend_full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rot: Rotary, mask=None) -> torch.Tensor:
    """Whole-sequence attention with one set of positions for queries and keys (the reference path)."""
    b, n, h, d = q.shape
    q, k = apply_rotary(q, rot), apply_rotary(k, rot)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2).reshape(b, n, h * d)
