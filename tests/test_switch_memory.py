"""A scene switch of the Echo memory works one layer at a time: apart from allocating the new scene-pool
entry (one frame of every layer, kept), no tensor it makes holds more than the few frames of one layer, so
the memory a switch takes for a moment does not grow with the model's depth (bench/switch_peak.py
measures it)."""
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from echo_stream.engine import BlockEvent, CacheGeometry
from echo_stream.engine.rope import RotaryEmbedding
from echo_stream.memory import EchoConfig, EchoForcingMemory

LAYERS = 12


def storages(values) -> set[int]:
    return {v.untyped_storage().data_ptr() for v in values if isinstance(v, torch.Tensor)}


class LargestOutput(TorchDispatchMode):
    """The most elements of any new tensor an op computed while active (views of existing storage and
    in-place results allocate nothing; a bare allocation, `empty`, is reported apart)."""

    def __init__(self):
        super().__init__()
        self.largest = 0
        self.allocated = []  # numel of each bare allocation

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.empty.memory_format:
            self.allocated.append(out.numel())
            return out
        inputs = storages(list(args) + list((kwargs or {}).values()))
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:
                self.largest = max(self.largest, t.numel())
        return out


def run_to_steady(memory, g, gen, prompt):
    for j in range(9):
        memory.begin_block(BlockEvent(j, 3 * j, 3, conditioning=prompt))
        for i in range(g.num_layers):
            q, k, v = (torch.randn(g.batch, g.block_tokens, g.num_heads, g.head_dim, generator=gen) for _ in range(3))
            memory.layer(i).context(q, k, v)
            memory.layer(i).commit(q, k, v)
        memory.end_block()


@torch.no_grad()
def test_a_switch_makes_no_tensor_of_several_frames_of_every_layer():
    for config in (EchoConfig(), EchoConfig(kv_storage="fp8_e4m3")):
        g = CacheGeometry(num_layers=LAYERS, num_heads=2, head_dim=16, grid_h=2, grid_w=3, frames_per_block=3,
                          batch=1, dtype=torch.float32, device=torch.device("cpu"), rotary=RotaryEmbedding(16))
        memory = EchoForcingMemory(config)
        memory.setup(g)
        gen = torch.Generator().manual_seed(0)
        run_to_steady(memory, g, gen, torch.randn(1, 4, 8, generator=gen))
        frame = g.frame_tokens * g.num_heads * g.head_dim
        with LargestOutput() as watch:
            layout = memory.begin_block(BlockEvent(9, 27, 3, prompt_changed=True, transition="smooth",
                                                   conditioning=torch.randn(1, 4, 8, generator=gen)))
        assert layout.old_frames == 3  # the recall frame and the old scene's last 2 frames were staged
        # what is computed is at most the 3 recall candidates of one layer (staging every layer's frame at
        # once would make tensors of LAYERS frames); the pool entry's K and V, one frame of every layer
        # each, are allocated once
        assert watch.largest <= 3 * frame, (config.kv_storage, watch.largest / frame)
        assert sorted(watch.allocated)[-2:] == [LAYERS * frame] * 2, (config.kv_storage, watch.allocated)
