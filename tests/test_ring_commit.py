"""A block's frames go into the ring as runs of consecutive slots (one copy per run). A window of whole
blocks (the only kind the memory accepts) never splits a block at the ring's end, but the storage does not
rely on that: a block that wraps is written in two runs."""
import pytest
import torch

from echo_stream.engine import BlockStreamer, CacheGeometry
from echo_stream.engine.rope import RotaryEmbedding
from echo_stream.memory.echo_storage import EchoStorage, slot_runs
from echo_stream.memory.echo_forcing import EchoForcingMemory
from echo_stream.memory.fp8_storage import Fp8EchoStorage
from echo_helpers import SIZE
from tiny import text, tiny_model


def test_slot_runs():
    assert slot_runs([3, 4, 5]) == [(3, 0, 3)]
    assert slot_runs([19, 0, 1]) == [(19, 0, 1), (0, 1, 2)]
    assert slot_runs([18, 19, 0]) == [(18, 0, 2), (0, 2, 1)]
    assert slot_runs([7]) == [(7, 0, 1)]


@pytest.mark.parametrize("storage", [EchoStorage, Fp8EchoStorage])
def test_a_wrapping_block_lands_in_its_slots(storage):
    g = CacheGeometry(num_layers=2, num_heads=2, head_dim=8, grid_h=2, grid_w=3, frames_per_block=3, batch=1,
                      dtype=torch.float32, device=torch.device("cpu"), rotary=RotaryEmbedding(8))
    ring = storage(g, window=20, anchor_frames=3)
    t = g.frame_tokens
    k = torch.arange(1, 3 * t * 16 + 1, dtype=torch.float32).view(1, 3 * t, 2, 8)  # frame j: its own values
    ring.commit_ring(1, [19, 0, 1], k, -k)
    for j, slot in enumerate([19, 0, 1]):
        frame = k[:, j * t:(j + 1) * t]
        tol = dict(rtol=1 / 16, atol=0) if storage is Fp8EchoStorage else dict(rtol=0, atol=0)
        torch.testing.assert_close(ring.read_frames("ring_k", 1, slot), frame, **tol)
        torch.testing.assert_close(ring.read_frames("ring_v", 1, slot), -frame, **tol)
    assert ring.read_frames("ring_k", 0, 19).abs().sum() == 0  # the other layer untouched
    for slot in (2, 18):  # and this layer's neighbouring slots
        for name in ("ring_k", "ring_v"):
            assert ring.read_frames(name, 1, slot).abs().sum() == 0


@torch.no_grad()
def test_a_steady_commit_starts_the_reuse_count_of_its_frames_afresh():
    """The block's frames replace the oldest ring frames: every token of them starts with no uses, while the
    compressed tokens picked from older frames keep theirs."""
    memory = EchoForcingMemory()
    streamer = BlockStreamer(tiny_model(), memory, seed=0, **SIZE)
    t, steady = memory.geometry.frame_tokens, 0
    for _ in range(14):
        streamer.next_block(text(5, seed=100))
        n = memory.scenes.scene.frames
        if streamer.layout.steady:
            steady += 1
            new = [memory.storage.slot(f) for f in range(n - memory.block, n)]
            for i in range(memory.geometry.num_layers):
                reuse = memory.scenes.reuse[i].view(memory.window, t)
                assert reuse[new].eq(0).all() and reuse.sum() > 0
    assert steady >= 5
