"""The attention backend hook: self- and cross-attention go through one backend call; outputs with
another backend match SDPA's; a backend without masks gets no biased call (SDPA takes those, logged)."""
import logging
import math
import types

import pytest
import torch

from echo_helpers import scenes, scripted_run
from echo_stream.memory.config import EchoConfig
from echo_stream.engine import CausalWan
from echo_stream.engine.attention import SDPA, AttentionBackend, attend
from echo_stream.nodes.comfy_attention import ComfyAttention, attention_backend
from tiny import tiny_dit

# a scene switch stages the old scene with decayed weights: the decay scales keys and values, or, as a
# log weight, is a logit bias (the one thing a backend may be unable to take)
PLAN = scenes((0, 9, None, {}), (1, 4, "smooth", {}))
AS_BIAS = EchoConfig(decay_as_log_weight=True)


def explicit_attention(q, k, v, bias):
    """softmax(q k^T / sqrt(d) + bias) v written out, independent of torch's SDPA kernels."""
    b, nq, h, d = q.shape
    logits = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d)
    if bias is not None:
        logits = logits + bias
    return torch.einsum("bhqk,bkhd->bqhd", logits.softmax(-1), v).reshape(b, nq, h * d)


class Explicit(AttentionBackend):
    def __init__(self, name="explicit", takes_bias=True):
        self.name, self.takes_bias, self.calls = name, takes_bias, {"plain": 0, "biased": 0}

    def attend(self, q, k, v, bias):
        self.calls["biased" if bias is not None else "plain"] += 1
        return explicit_attention(q, k, v, bias)


def run(backend=None, config=AS_BIAS):
    model = CausalWan(tiny_dit(), attention=backend)
    return scripted_run(PLAN, config=config, model=model)[1]


@pytest.fixture(scope="module")
def sdpa_video():
    return run()


def test_key_scaled_decay_matches_sdpa_through_another_backend():
    backend = Explicit()
    torch.testing.assert_close(run(backend, EchoConfig()), run(None, EchoConfig()), rtol=1e-4, atol=1e-4)
    assert backend.calls["biased"] == 0 and backend.calls["plain"] > 0


def test_default_backend_is_sdpa():
    assert CausalWan(tiny_dit()).attention is SDPA


def test_another_backend_matches_sdpa_through_a_scene_switch(sdpa_video):
    backend = Explicit()
    video = run(backend)
    assert backend.calls["biased"] > 0 and backend.calls["plain"] > 0  # self (with bias) and cross
    torch.testing.assert_close(video, sdpa_video, rtol=1e-4, atol=1e-4)


def test_backend_without_masks_gets_no_biased_call_and_the_fallback_is_logged_once(sdpa_video, caplog):
    backend = Explicit(name="no-mask-test", takes_bias=False)
    with caplog.at_level(logging.WARNING, logger="echo_stream"):
        video = run(backend)
    assert backend.calls["biased"] == 0 and backend.calls["plain"] > 0
    told = [r for r in caplog.records if "cannot take an additive mask" in r.getMessage()]
    assert len(told) == 1 and "no-mask-test" in told[0].getMessage()
    torch.testing.assert_close(video, sdpa_video, rtol=1e-4, atol=1e-4)


def _comfy_layout(name):
    """A stand-in for one of ComfyUI's attention functions: [B, N, heads*dim] in and out, `heads=`."""
    calls = []

    def fn(q, k, v, heads, mask=None, **kwargs):
        calls.append(mask is not None)
        b, nq, hd = q.shape
        split = lambda t: t.view(t.shape[0], t.shape[1], heads, hd // heads)  # noqa: E731
        return explicit_attention(split(q), split(k), split(v), mask)

    fn.__name__ = name
    return fn, calls


def test_comfy_adapter_passes_comfy_layout_and_masks_only_where_taken(sdpa_video):
    pytorch_fn, pytorch_calls = _comfy_layout("attention_pytorch")
    module = types.SimpleNamespace(optimized_attention=pytorch_fn, optimized_attention_masked=pytorch_fn)
    backend = ComfyAttention(module)
    assert backend.name == "comfy:attention_pytorch" and backend.takes_bias
    torch.testing.assert_close(run(backend), sdpa_video, rtol=1e-4, atol=1e-4)
    assert any(pytorch_calls) and not all(pytorch_calls)

    flash_fn, flash_calls = _comfy_layout("attention_flash")  # ComfyUI's flash refuses masks
    backend = ComfyAttention(types.SimpleNamespace(optimized_attention=flash_fn, optimized_attention_masked=flash_fn))
    assert not backend.takes_bias
    torch.testing.assert_close(run(backend), sdpa_video, rtol=1e-4, atol=1e-4)
    assert flash_calls and not any(flash_calls)


def test_no_comfyui_means_no_backend():
    assert attention_backend() is None  # the tests run without ComfyUI: the engine keeps SDPA


def test_attend_rejects_nothing_silently_for_sdpa():
    q, k, v = (torch.randn(1, 5, 2, 8) for _ in range(3))
    bias = torch.randn(1, 1, 1, 5)
    torch.testing.assert_close(attend(q, k, v, bias), explicit_attention(q, k, v, bias), rtol=1e-5, atol=1e-5)
