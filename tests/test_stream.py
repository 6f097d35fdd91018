"""The few-step block stream: schedule, determinism, prompt switches, bad input."""
import pytest
import torch

from echo_stream.engine import (BlockStreamer, EchoError, FlowSchedule, InputShapeError, StreamSettings,
                                rolling_window, stream)
from tiny import TINY, latent, text, tiny_model

SIZE = dict(width=48, height=32)  # latent 4x6


def test_warped_schedule_matches_self_forcing_table():
    assert FlowSchedule().timesteps() == pytest.approx([1000.0, 937.5, 833.3333, 625.0], abs=1e-3)
    assert FlowSchedule(shift=8.0).timesteps() == pytest.approx([1000.0, 960.0, 888.889, 727.273], abs=1e-3)
    assert FlowSchedule(steps=(1000, 500), warp=False).timesteps() == [1000.0, 500.0]
    with pytest.raises(EchoError, match="empty"):
        FlowSchedule(steps=())
    with pytest.raises(EchoError, match=r"\(0, 1000\]"):
        FlowSchedule(steps=(1200,))


def run(seed, blocks=4, prompts=None, settings=None, model=None):
    model = model or tiny_model()
    cond = text(5)
    gen = stream(model, cond, memory=rolling_window(6), num_blocks=blocks, seed=seed, settings=settings, **SIZE)
    out = [next(gen)]
    for i in range(1, blocks):
        out.append(gen.send(prompts[i] if prompts and i in prompts else None))
    with pytest.raises(StopIteration):
        next(gen)
    return torch.cat(out, dim=2)


@torch.no_grad()
def test_same_seed_same_latents_and_other_seed_differs():
    a, b, c = run(seed=5), run(seed=5), run(seed=6)
    assert a.shape == (1, 16, 12, 4, 6)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


@torch.no_grad()
def test_prompt_switch_between_blocks_changes_only_later_blocks():
    base = run(seed=1)
    switched = run(seed=1, prompts={2: text(6, seed=99)})
    torch.testing.assert_close(switched[:, :, :6], base[:, :, :6])
    assert not torch.allclose(switched[:, :, 6:], base[:, :, 6:], atol=1e-4)


@torch.no_grad()
def test_text_is_encoded_once_per_prompt():
    model = tiny_model()
    calls = []
    original = model.prepare_text
    model.prepare_text = lambda c: calls.append(c) or original(c)
    streamer = BlockStreamer(model, rolling_window(6), seed=0, **SIZE)
    a, b = text(5), text(5, seed=7)
    for cond in (a, a, a, b, b):
        streamer.next_block(cond)
    assert len(calls) == 2 and calls[1] is b


@torch.no_grad()
def test_frame_wise_blocks_and_context_noise():
    settings = StreamSettings(frames_per_block=1, context_noise=100.0, schedule=FlowSchedule(steps=(1000, 500)))
    out = run(seed=2, blocks=5, settings=settings)
    assert out.shape[2] == 5 and torch.isfinite(out).all()
    assert not torch.equal(out, run(seed=2, blocks=5, settings=StreamSettings(frames_per_block=1,
                                     schedule=FlowSchedule(steps=(1000, 500)))))


@torch.no_grad()
def test_bfloat16_model_streams():
    model = tiny_model()
    model.dit.to(torch.bfloat16)
    out = run(seed=0, blocks=2, model=model)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


@pytest.mark.parametrize("width,height,bad", [(50, 32, "width 50"), (48, 0, "height 0"), (48, 40, "height 40")])
def test_resolution_must_be_multiple_of_16(width, height, bad):
    with pytest.raises(InputShapeError, match=f"{bad} is not a positive multiple of 16"):
        BlockStreamer(tiny_model(), rolling_window(6), width=width, height=height)


def test_wrong_latent_channels():
    x = torch.randn(1, 12, 3, 4, 6)
    with pytest.raises(InputShapeError, match="latent has 12 channels but this model takes 16"):
        tiny_model().forward_full(x, 0.0, text(3))


def test_wrong_text_conditioning():
    model = tiny_model()
    with pytest.raises(InputShapeError, match=f"must be \\[batch, tokens, {TINY.text_dim}\\]"):
        model.forward_full(latent(3), 0.0, torch.randn(1, 4, TINY.text_dim + 1))
    with pytest.raises(InputShapeError, match="at most 16"):
        model.prepare_text(torch.randn(1, 17, TINY.text_dim))


def test_pixel_frames_count_the_causal_first_frame_once():
    from echo_stream.engine.geometry import pixel_frames

    assert [pixel_frames(t) for t in (0, 1, 2, 21)] == [0, 1, 5, 81]  # Wan2.1: 81 pixel frames <-> 21 latent


@torch.no_grad()
@pytest.mark.parametrize("context_noise", [0.0, 50.0])
def test_committing_the_generated_block_equals_the_normal_path_and_another_block_changes_memory(context_noise):
    """Teacher forcing (`next_block(commit=...)`): writing the block the normal path generated gives
    exactly its latents; writing another block changes what the memory makes of later blocks."""
    model, cond = tiny_model(), text(5)
    settings = StreamSettings(context_noise=context_noise)

    def streamer():
        return BlockStreamer(model, rolling_window(6), seed=3, settings=settings, **SIZE)

    normal = streamer()
    made = [normal.next_block(cond) for _ in range(4)]
    forced = streamer()
    again = [forced.next_block(cond, commit=made[i].clone()) for i in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(made, again))
    other = streamer()
    shown = [other.next_block(cond, commit=torch.zeros_like(made[0])) for _ in range(4)]
    assert torch.equal(shown[0], made[0]) and not torch.allclose(shown[1], made[1])
    with pytest.raises(EchoError, match="shape"):
        streamer().next_block(cond, commit=torch.zeros(1, 16, 2, 4, 6))
