"""The KV-cached block stream against the whole-sequence block-causal forward."""
import pytest
import torch

from echo_stream.engine import (BlockEvent, BlockStreamer, EchoError, block_causal_mask, full_cache,
                                rolling_window)
from tiny import latent, text, tiny_model

H, W = 4, 6  # latent size -> a 2x3 token grid per frame
FRAME_TOKENS = (H // 2) * (W // 2)


def stream_blocks(model, memory, x, t_frames, cond, fpb=3, noisy_passes=2):
    """Feed fixed inputs block by block through forward_block (write pass last)."""
    BlockStreamer(model, memory, width=W * 8, height=H * 8)  # sets the memory up for this geometry
    text_ctx = model.prepare_text(cond)
    outs = []
    for b in range(x.shape[2] // fpb):
        sl = slice(b * fpb, (b + 1) * fpb)
        memory.begin_block(BlockEvent(index=b, start_frame=b * fpb, num_frames=fpb))
        for _ in range(noisy_passes):  # noisy passes write scratch K/V into the block's slots
            model.forward_block(torch.randn_like(x[:, :, sl]), torch.full((1, fpb), 999.0), text_ctx, memory, write=False)
        outs.append(model.forward_block(x[:, :, sl], t_frames[:, sl], text_ctx, memory, write=True))
        memory.end_block()
    return torch.cat(outs, dim=2)


@torch.no_grad()
def test_full_cache_stream_equals_block_causal_forward():
    model, x, cond = tiny_model(), latent(12, H, W, seed=7), text(6)
    t = torch.tensor([[0.0] * 3 + [250.0] * 3 + [0.0] * 3 + [625.0] * 3])  # per-frame timesteps
    want = model.forward_full(x, t, cond, mask=block_causal_mask(12, FRAME_TOKENS, 3))
    got = stream_blocks(model, full_cache(12), x, t, cond)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # the reference is not trivially satisfied: without the mask the answer differs
    assert not torch.allclose(got, model.forward_full(x, t, cond), atol=1e-3)


@pytest.mark.parametrize("window,sink", [(6, 0), (9, 3), (7, 1)])
@torch.no_grad()
def test_rolling_window_equals_windowed_block_causal_forward(window, sink):
    model, x, cond = tiny_model(seed=1), latent(18, H, W, seed=8), text(5)
    t = torch.zeros(1, 18)
    mask = block_causal_mask(18, FRAME_TOKENS, 3, window_frames=window, sink_frames=sink)
    want = model.forward_full(x, t, cond, mask=mask)
    got = stream_blocks(model, rolling_window(window, sink), x, t, cond)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_relative_positions_stay_in_the_window_and_match_absolute():
    model, cond = tiny_model(), text(5)
    relative, absolute = rolling_window(6, 0, positions="relative"), rolling_window(6, 0)
    streams = [BlockStreamer(model, m, width=W * 8, height=H * 8, seed=0) for m in (relative, absolute)]
    for _ in range(10):
        for s in streams:
            s.next_block(cond)
    x, ctx = latent(3, H, W, seed=9), model.prepare_text(cond)
    outs, layouts = [], []
    for m in (relative, absolute):
        layouts.append(m.begin_block(BlockEvent(index=10, start_frame=30, num_frames=3)))
        outs.append(model.forward_block(x, 0.0, ctx, m, write=False))
    assert sorted(layouts[0].key_frame_ids) == list(range(6)) and layouts[0].query_frame_ids == (3, 4, 5)
    assert sorted(layouts[1].key_frame_ids) == list(range(27, 33)) and layouts[1].query_frame_ids == (30, 31, 32)
    # RoPE depends only on id differences, so both give the same output on the same K/V
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_rolling_window_memory_is_constant_over_300_blocks():
    model, cond = tiny_model(), text(4)
    memory = rolling_window(9, 3)
    streamer = BlockStreamer(model, memory, width=W * 8, height=H * 8, seed=3)
    sizes, pointers = set(), set()
    for _ in range(300):
        assert torch.isfinite(streamer.next_block(cond)).all()
        sizes.add(memory.nbytes())
        pointers.add(tuple(t.data_ptr() for t in memory.tensors().values()))
    assert len(sizes) == 1 and len(pointers) == 1, "the cache was resized or reallocated"
    cfg = model.config  # K and V: layers x batch x 9 frames x tokens x heads x head_dim x fp32
    assert sizes.pop() == 2 * cfg.num_layers * 9 * FRAME_TOKENS * cfg.dim * 4
    assert streamer.frames_done == 900 and sorted(streamer.layout.key_frame_ids)[:3] == [0, 1, 2]


def test_full_cache_refuses_to_run_past_its_size():
    model, cond = tiny_model(), text(4)
    streamer = BlockStreamer(model, full_cache(6), width=W * 8, height=H * 8)
    streamer.next_block(cond)
    streamer.next_block(cond)
    with pytest.raises(EchoError, match="rolling-window"):
        streamer.next_block(cond)


def test_window_too_small_for_a_block_is_rejected():
    with pytest.raises(EchoError, match="no room"):
        BlockStreamer(tiny_model(), rolling_window(4, 2), width=W * 8, height=H * 8)


@torch.no_grad()
def test_frame_cache_slot_map_changes_only_when_a_block_is_committed():
    model, cond = tiny_model(), text(4)
    whole, cut = rolling_window(9, 3), rolling_window(9, 3)
    a = BlockStreamer(model, whole, width=W * 8, height=H * 8, seed=3)
    b = BlockStreamer(model, cut, width=W * 8, height=H * 8, seed=3)
    for _ in range(4):
        a.next_block(cond)
        b.next_block(cond)
    held = cut.held_frames()
    # an interrupted block: staged on a noisy pass (into the slots of frames it would evict), never committed
    cut.begin_block(BlockEvent(index=4, start_frame=12, num_frames=3))
    model.forward_block(latent(3, H, W, seed=5), 500.0, model.prepare_text(cond), cut, write=False)
    assert cut.held_frames() == held
    with pytest.raises(EchoError, match="before every layer committed"):
        cut.end_block()
    assert torch.equal(b.next_block(cond), a.next_block(cond))  # the block run again is the same block
    assert cut.held_frames() == whole.held_frames()
