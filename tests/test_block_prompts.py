"""Per-block prompts in the whole-sequence forward, against the block stream and the one-prompt path."""
import pytest
import torch

from echo_stream.engine import BlockEvent, BlockStreamer, InputShapeError, block_causal_mask, full_cache
from tiny import latent, text, tiny_model

H, W = 4, 6
FRAME_TOKENS = (H // 2) * (W // 2)


@torch.no_grad()
def test_the_same_prompt_per_block_equals_one_prompt():
    model, x, cond = tiny_model(), latent(9, H, W, seed=3), text(5)
    mask = block_causal_mask(9, FRAME_TOKENS, 3)
    t = torch.tensor([[0.0] * 3 + [500.0] * 3 + [900.0] * 3])
    want = model.forward_full(x, t, cond, mask=mask)
    got = model.forward_full(x, t, [cond, model.prepare_text(cond), cond], mask=mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_per_block_prompts_equal_a_stream_that_switches_prompts():
    """Block j run by forward_block under prompt j after the earlier blocks were committed under theirs."""
    model, x = tiny_model(seed=2), latent(9, H, W, seed=4)
    prompts = [text(5, seed=10), text(3, seed=11), text(7, seed=12)]
    t = torch.tensor([[0.0] * 3 + [250.0] * 3 + [750.0] * 3])
    want = model.forward_full(x, t, prompts, mask=block_causal_mask(9, FRAME_TOKENS, 3))
    memory = full_cache(9)
    BlockStreamer(model, memory, width=W * 8, height=H * 8)  # sets the memory up for this geometry
    outs = []
    for b, cond in enumerate(prompts):
        sl = slice(3 * b, 3 * b + 3)
        memory.begin_block(BlockEvent(index=b, start_frame=3 * b, num_frames=3))
        outs.append(model.forward_block(x[:, :, sl], t[:, sl], model.prepare_text(cond), memory, write=True))
        memory.end_block()
    torch.testing.assert_close(torch.cat(outs, dim=2), want, atol=1e-5, rtol=1e-4)
    # the prompts matter: one prompt for the whole sequence gives another answer after block 0
    single = model.forward_full(x, t, prompts[0], mask=block_causal_mask(9, FRAME_TOKENS, 3))
    assert not torch.allclose(single[:, :, 3:], want[:, :, 3:], atol=1e-3)


@torch.no_grad()
def test_per_sample_prompts_picked_from_a_table():
    model = tiny_model(seed=1)
    table = model.prepare_text(torch.cat([text(4, seed=s) for s in (20, 21, 22)]))
    x, t = latent(6, H, W, seed=5, batch=2), torch.tensor([[0.0] * 3 + [600.0] * 3] * 2)
    mask = block_causal_mask(6, FRAME_TOKENS, 3)
    picks = [torch.tensor([0, 2]), torch.tensor([1, 1])]  # block 0: samples use prompts 0 and 2, block 1: 1
    got = model.forward_full(x, t, [table.select(p) for p in picks], mask=mask)
    for s in range(2):
        one = model.forward_full(x[s:s + 1], t[s:s + 1], [table.select(p[s:s + 1]) for p in picks], mask=mask)
        torch.testing.assert_close(got[s:s + 1], one, atol=1e-5, rtol=1e-4)
    # a mask per sample [B, 1, N, N] is honoured too
    masks = torch.stack([mask, torch.ones_like(mask)])[:, None]
    both = model.forward_full(x, t, [table.select(p) for p in picks], mask=masks)
    torch.testing.assert_close(both[:1], got[:1], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(both[1:, :, :3], got[1:, :, :3], atol=1e-3)


def test_wrong_number_of_block_prompts_is_refused_with_a_message():
    model, x = tiny_model(), latent(6, H, W)
    with pytest.raises(InputShapeError, match="one prompt per block"):
        model.forward_full(x, 0.0, [text(3)] * 3)


@torch.no_grad()
def test_prepared_text_equals_embedding_the_zero_padded_prompt():
    model, cond = tiny_model(seed=3), text(5, seed=30, batch=2)
    padded = torch.nn.functional.pad(cond, (0, 0, 0, model.config.text_len - 5))
    emb = model.dit.text_embedding(padded)
    blk = model.dit.blocks[1].cross_attn
    want_k = blk.norm_k(blk.k(emb)).view(2, -1, model.config.num_heads, model.config.head_dim)
    torch.testing.assert_close(model.prepare_text(cond).kv[1][0], want_k, atol=1e-6, rtol=1e-5)
