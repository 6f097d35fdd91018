"""ComfyUI's optimized attention as the engine's attention backend (imported lazily, like comfy.py).

ComfyUI picks one attention function at start-up from its flags and what is installed (sage, flash,
xformers, torch SDPA, sub-quadratic, split) and exposes it as `optimized_attention`, with
`optimized_attention_masked` for calls with a mask. Both take q, k, v as [B, N, heads*dim] with
`heads=` and return [B, N_q, heads*dim]. We read them at call time, so what the user set up (or a
node that patches them) is what runs. Flash attention refuses masks (it warns and falls back on every
call) and SageAttention does not apply an additive mask, so with those the engine routes only the
biased calls (Echo-Forcing's decay) through torch SDPA, and says so once in the log.
"""
from __future__ import annotations

import logging

from ..engine.attention import AttentionBackend
from .comfy import _module

# ComfyUI 0.27's attention functions that add a float mask [B|1, 1|H, 1|N_q, N_k] to the logits
TAKES_ADDITIVE_MASK = {"attention_basic", "attention_sub_quad", "attention_split", "attention_pytorch",
                       "attention_xformers"}


class ComfyAttention(AttentionBackend):
    def __init__(self, module):
        self.module = module  # comfy.ldm.modules.attention

    @property
    def name(self) -> str:
        return f"comfy:{getattr(self.module.optimized_attention, '__name__', 'custom')}"

    @property
    def takes_bias(self) -> bool:
        return getattr(self.module.optimized_attention_masked, "__name__", None) in TAKES_ADDITIVE_MASK

    def attend(self, q, k, v, bias):
        b, nq, h, d = q.shape
        q, k, v = (t.reshape(t.shape[0], t.shape[1], h * d) for t in (q, k, v))
        if bias is None:
            return self.module.optimized_attention(q, k, v, heads=h)
        return self.module.optimized_attention_masked(q, k, v, heads=h, mask=bias)


def attention_backend() -> AttentionBackend | None:
    """ComfyUI's attention when running inside ComfyUI; None outside it (the engine's SDPA)."""
    module = _module("comfy.ldm.modules.attention")
    if module is None:
        return None
    backend = ComfyAttention(module)
    logging.getLogger("echo_stream").info("echo_stream: attention through ComfyUI's %s (masked calls: %s)",
                                          backend.name, "same" if backend.takes_bias else "torch SDPA")
    return backend
