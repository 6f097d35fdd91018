"""LongLive re-cache, infinity-RoPE flush and cut, Echo-Infinity unified ids."""
import torch

from echo_stream.engine import BlockStreamer, block_causal_mask
from echo_stream.memory.baselines import EchoInfinityRope, InfinityRope, LongLiveRecache
from tiny import text, tiny_model

SIZE = dict(width=48, height=32)
T = 6  # tokens per frame


@torch.no_grad()
def test_longlive_recache_rewrites_the_window_under_the_new_prompt():
    model = tiny_model()
    memory = LongLiveRecache()
    streamer = BlockStreamer(model, memory, seed=0, **SIZE)
    a, b = text(5, seed=1), text(5, seed=2)
    for _ in range(5):
        streamer.next_block(a)  # frames 0..14; held: sink 0-2 and 6-14
    assert sorted(memory.held_frames()) == [0, 1, 2] + list(range(6, 15))
    before = {f: memory.k[:, :, s * T:(s + 1) * T].clone() for s, f in enumerate(memory.slot_frames)}
    requested = []
    original = memory.begin_recache
    memory.begin_recache = lambda start, n: requested.append((start, n)) or original(start, n)
    streamer.next_block(b)
    assert requested == [(6, 9)]  # every non-sink frame, re-encoded in one forward
    after = {f: memory.k[:, :, s * T:(s + 1) * T] for s, f in enumerate(memory.slot_frames)}
    for f in range(3):  # the sink is protected
        torch.testing.assert_close(after[f], before[f])
    for f in range(9, 15):  # still held after block 15-17 evicted 6-8
        # layer 0 keys depend only on the (same) clean latents at t = 0: unchanged
        torch.testing.assert_close(after[f][0], before[f][0], atol=1e-5, rtol=1e-5)
        # deeper keys saw the new prompt (cross-attention) and the whole window: changed
        assert not torch.allclose(after[f][1], before[f][1], atol=1e-4)


@torch.no_grad()
def test_infinity_rope_flush_keeps_sink_and_two_frames_and_cut_jumps_to_45():
    memory = InfinityRope()
    streamer = BlockStreamer(tiny_model(), memory, **SIZE)
    a, b = text(5, seed=1), text(5, seed=2)
    for _ in range(4):
        streamer.next_block(a)
    assert sorted(memory.held_frames()) == [0, 7, 8, 9, 10, 11]
    streamer.next_block(b, transition="cut")
    assert sorted(memory.held_frames()) == [0, 10, 11, 12, 13, 14]
    layout = streamer.layout
    assert layout.query_frame_ids == (45, 46, 47) and sorted(layout.key_frame_ids) == [0, 1, 2, 45, 46, 47]
    assert [s.kind for s in layout.sources] == ["cache"] * 3 + ["current"] * 3 and layout.jump == 42
    streamer.next_block(b)
    assert streamer.layout.query_frame_ids == (3, 4, 5) and sorted(streamer.layout.key_frame_ids) == list(range(6))


@torch.no_grad()
def test_echo_infinity_ids_cap_the_newest_frame_at_20():
    memory = EchoInfinityRope()
    streamer = BlockStreamer(tiny_model(), memory, **SIZE)
    cond = text(5)
    for block in range(12):
        streamer.next_block(cond)
        layout = streamer.layout
        ids = {s.frame: i for s, i in zip(layout.sources, layout.key_frame_ids)}
        assert [ids[f] for f in range(3)] == [0, 1, 2]  # sink ids 0..2
        newest = 3 * block + 2
        assert layout.query_frame_ids[-1] == min(newest, 20)
        assert max(layout.key_frame_ids) <= 20


@torch.no_grad()
def test_longlive_stream_without_switch_equals_windowed_reference():
    model, cond = tiny_model(seed=3), text(5)
    memory = LongLiveRecache()
    BlockStreamer(model, memory, **SIZE)
    x = torch.randn(1, 16, 18, 4, 6, generator=torch.Generator().manual_seed(4))
    from echo_stream.engine import BlockEvent
    ctx = model.prepare_text(cond)
    outs = []
    for b in range(6):
        memory.begin_block(BlockEvent(index=b, start_frame=3 * b, num_frames=3))
        outs.append(model.forward_block(x[:, :, 3 * b:3 * b + 3], 0.0, ctx, memory, write=True))
        memory.end_block()
    want = model.forward_full(x, 0.0, cond, mask=block_causal_mask(18, T, 3, window_frames=12, sink_frames=3))
    torch.testing.assert_close(torch.cat(outs, dim=2), want, atol=1e-5, rtol=1e-4)


def test_presets_build_every_policy_and_name_bad_options():
    import pytest

    from echo_stream.engine import EchoError
    from echo_stream.memory import PRESETS, make_memory

    for name in PRESETS:
        memory = make_memory(name)
        BlockStreamer(tiny_model(), memory, **SIZE).next_block(text(3))
    assert make_memory("echo_forcing", drift_lambda=2.0).config.drift_lambda == 2.0
    with pytest.raises(EchoError, match="unknown memory preset 'nope'"):
        make_memory("nope")
    with pytest.raises(EchoError, match=r"does not take \['anchor_frame'\]"):
        make_memory("echo_forcing", anchor_frame=3)
