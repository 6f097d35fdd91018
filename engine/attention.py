"""Attention for the transformer: one backend call for self- and cross-attention, SDPA by default.

`AttentionBackend` is the hook: the engine hands it q, k, v as [B, N, H, D] with RoPE already applied
and, where a memory policy weights its keys (Echo-Forcing's decay as a logit bias), an additive bias
[B|1, 1, 1, N_k]; it returns [B, N_q, H*D]. The default is torch's scaled_dot_product_attention. Inside
ComfyUI, nodes/ injects ComfyUI's own attention (flash / sage / xformers / pytorch, as the user set it
up) through this hook, so engine/ imports nothing of ComfyUI. A backend that cannot take a bias says
so (`takes_bias = False`); the biased calls then go through SDPA, which is logged once per backend.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from .memory_api import AttentionContext
from .rope import Rotary, apply_rotary

log = logging.getLogger("echo_stream")


class AttentionBackend:
    """q, k, v [B, N, H, D] (+ optional additive bias [B|1, 1, 1, N_k]) -> [B, N_q, H*D]."""

    name = "sdpa"
    takes_bias = True

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        b, nq, h, d = q.shape
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=bias)
        return out.transpose(1, 2).reshape(b, nq, h * d)

    def __repr__(self) -> str:
        return f"AttentionBackend({self.name})"


SDPA = AttentionBackend()
_told_fallback: set[str] = set()  # backends whose bias fallback was logged (once each)


def attend(q, k, v, bias=None, backend: AttentionBackend | None = None) -> torch.Tensor:
    """The one attention call of the transformer; routes biased calls around a backend without bias."""
    backend = backend or SDPA
    if bias is not None and not backend.takes_bias:
        if backend.name not in _told_fallback:
            _told_fallback.add(backend.name)
            log.warning("echo_stream: attention backend %r cannot take an additive mask; the memory's "
                        "weighted attention (Echo-Forcing's decay bias) runs through torch SDPA instead, "
                        "the other attention calls stay on %r", backend.name, backend.name)
        backend = SDPA
    return backend.attend(q, k, v, bias)


def _per_token(weights: torch.Tensor, batch: int) -> torch.Tensor:
    """[N] or [B, N] -> [B|1, N]."""
    return weights.view(1, -1) if weights.dim() == 1 else weights.view(batch, -1)


def attend_context(q: torch.Tensor, ctx: AttentionContext, backend: AttentionBackend | None = None) -> torch.Tensor:
    """q [B, Nq, H, D] pre-RoPE; returns [B, Nq, H*D]."""
    b = q.shape[0]
    q = apply_rotary(q, ctx.query_rotary)
    k = ctx.keys if ctx.keys_rotated else apply_rotary(ctx.keys, ctx.key_rotary)
    v = ctx.values
    if ctx.key_scale is not None:
        scale = _per_token(ctx.key_scale, b).to(k.dtype)[:, :, None, None]
        k, v = k * scale, v * scale
    bias = None
    if ctx.logit_bias is not None:
        bias = _per_token(ctx.logit_bias, b).to(q.dtype)[:, None, None, :]
    return attend(q, k, v, bias, backend)


def attend_full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rot: Rotary, mask=None) -> torch.Tensor:
    """Whole-sequence attention with one set of positions for queries and keys (the reference path:
    always torch SDPA, so it stays an independent check of the streamed path)."""
    b, n, h, d = q.shape
    q, k = apply_rotary(q, rot), apply_rotary(k, rot)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2).reshape(b, n, h * d)
