"""CUDA checks, run by bench/gpu_check.py on a GPU machine (`pytest -m cuda`); skipped without CUDA.

- a bf16 forward on the GPU against the fp32 CPU reference at a small size;
- every memory preset streaming on the GPU in bf16 through a scene switch: finite, its cache on the
  GPU with the bytes the meta-device estimate gives, its first block close to the fp32 CPU stream.

ECHO_CUDA_TEST_DEVICE=cpu runs the same checks on the CPU in bf16 (a check of the tests themselves
on a machine without a GPU).
"""
import os

import pytest
import torch

from echo_stream.engine import BlockStreamer, CacheGeometry, CausalWan, WanConfig
from echo_stream.memory import PRESETS, make_memory
from tiny import tiny_dit

DEVICE = torch.device(os.environ.get("ECHO_CUDA_TEST_DEVICE", "cuda"))
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")]

# small, but with Wan's head size (128) so the GPU kernels see real head shapes
SMALL = WanConfig(dim=256, ffn_dim=512, num_heads=2, num_layers=3, text_dim=64, freq_dim=64, text_len=32)
SIZE = dict(width=64, height=48)  # 4 x 3 tokens per latent frame


def models():
    reference = CausalWan(tiny_dit(0, SMALL), SMALL)
    gpu = CausalWan(tiny_dit(0, SMALL).to(DEVICE, torch.bfloat16), SMALL)
    return reference, gpu


def rel_error(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.float().cpu(), ref.float().cpu()
    return ((got - ref).norm() / ref.norm()).item()


@torch.no_grad()
def test_bf16_forward_on_the_gpu_matches_the_fp32_cpu_reference():
    reference, gpu = models()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, 6, 6, 8, generator=g)
    cond = torch.randn(1, 20, SMALL.text_dim, generator=g)
    t = torch.tensor([700.0])
    want = reference.forward_full(x, t, cond)
    got = gpu.forward_full(x.to(DEVICE), t.to(DEVICE), cond.to(DEVICE))
    assert got.device.type == DEVICE.type and got.dtype == torch.bfloat16
    assert rel_error(got, want) < 0.02


def stream(model, preset, device):
    memory = make_memory(preset, max_frames=60) if preset == "full_cache" else make_memory(preset)
    streamer = BlockStreamer(model, memory, seed=0, **SIZE)
    g = torch.Generator().manual_seed(5)
    a, b = (torch.randn(1, 12, SMALL.text_dim, generator=g).to(device) for _ in range(2))
    blocks = []
    for i in range(12):  # past the steady layout (block 7), then a smooth switch
        fields = {"transition": "smooth"} if i == 9 else {}
        blocks.append(streamer.next_block(a if i < 9 else b, **fields))
    return memory, blocks


@pytest.mark.parametrize("preset", sorted(PRESETS))
@torch.no_grad()
def test_every_preset_streams_on_the_gpu(preset):
    reference, gpu = models()
    memory, blocks = stream(gpu, preset, DEVICE)
    _, want = stream(reference, preset, torch.device("cpu"))
    assert all(torch.isfinite(b).all() for b in blocks)
    cache = memory.tensors()
    on_device = [t for t in cache.values() if t.device.type == DEVICE.type]
    assert on_device, "the cache is not on the GPU"
    geometry = CacheGeometry(SMALL.num_layers, SMALL.num_heads, SMALL.head_dim, 3, 4, 3, 1, torch.bfloat16,
                             torch.device("meta"), gpu.rotary)
    estimate = make_memory(preset, max_frames=60) if preset == "full_cache" else make_memory(preset)
    estimate.setup(geometry)
    assert memory.nbytes() == estimate.nbytes()
    assert rel_error(blocks[0], want[0]) < 0.05  # before bf16 rounding compounds over the blocks
