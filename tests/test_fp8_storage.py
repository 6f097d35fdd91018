"""8-bit storage of the Echo memory (EchoConfig(kv_storage="fp8_e4m3")): rounding within e4m3's
bounds, the block being generated never rounded, a run close to model-dtype storage through every
transition, about half the bytes, and a state that saves, loads and continues."""
import pytest
import torch

from echo_helpers import scenes, scripted_run
from echo_stream.engine import BlockStreamer, EchoError
from echo_stream.memory import EchoConfig, EchoForcingMemory, make_memory
from echo_stream.memory.fp8_storage import FP8, dequantize, quantize
from tiny import text, tiny_model

FP8_CONFIG = EchoConfig(kv_storage="fp8_e4m3")
# growth, steady, a smooth switch, a cut, a recall by label
PLAN = scenes((0, 9, None, {"label": "a"}), (1, 4, "smooth", {}), (2, 3, "cut", {}), (3, 3, "recall", {"recall": "a"}))


def test_quantize_rounds_each_vector_within_e4m3_precision():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 4, 128, generator=g) * torch.logspace(-3, 3, 50).view(1, 50, 1, 1)
    x[0, 0, 0] = 0  # an all-zero vector stays zero
    q, scale = quantize(x)
    assert q.dtype == FP8 and scale.shape == x.shape[:-1] and scale.dtype == torch.float32
    back = dequantize(q, scale, torch.float32)
    # 3 mantissa bits: half a unit in the last place is 1/16 of the value; below e4m3's normal range
    # (2^-6 of the scale unit) the spacing is 2^-9 units
    bound = x.abs() / 16 + scale[..., None] * 2 ** -10
    assert ((back - x).abs() <= bound * 1.001 + 1e-30).all()
    assert (back[0, 0, 0] == 0).all()
    torch.testing.assert_close(back.abs().amax(-1), x.abs().amax(-1), rtol=1e-6, atol=0)  # largest entry kept


def test_kv_storage_is_a_named_option_and_bad_values_are_refused():
    assert EchoConfig().kv_storage == "model"
    with pytest.raises(EchoError, match="kv_storage must be one of"):
        EchoConfig(kv_storage="int4")


@torch.no_grad()
def test_fp8_run_stays_close_to_model_storage_and_the_first_block_is_exact():
    model = tiny_model()
    _, want = scripted_run(PLAN, model=model)
    run, got = scripted_run(PLAN, config=FP8_CONFIG, model=model)
    assert run.memory.storage.ring_k.dtype == FP8 and torch.isfinite(got).all()
    assert torch.equal(got[:, :, :3], want[:, :, :3])  # no history yet: nothing was rounded
    assert ((got - want).norm() / want.norm()).item() < 0.01


def test_fp8_storage_holds_about_half_the_bytes():
    def nbytes(config):
        memory = EchoForcingMemory(config)
        BlockStreamer(tiny_model(), memory, width=48, height=32, seed=0)  # sets the memory up
        return memory.nbytes()
    model_bytes, fp8_bytes = nbytes(EchoConfig()), nbytes(FP8_CONFIG)
    assert 0.45 < fp8_bytes / model_bytes < 0.6  # fp32 model here: 1 byte + scales instead of 4 for ring/pool


@torch.no_grad()
def test_fp8_state_saves_loads_and_continues_and_a_model_dtype_state_is_refused():
    model = tiny_model()
    cond = text(5, seed=3)

    def streamer(config):
        return BlockStreamer(model, make_memory("echo_forcing", kv_storage=config.kv_storage), width=48, height=32,
                             seed=1)

    original = streamer(FP8_CONFIG)
    for _ in range(9):
        original.next_block(cond)
    state = original.state_dict()
    copy = streamer(FP8_CONFIG)
    copy.load_state_dict(state)
    assert torch.equal(copy.next_block(cond), original.next_block(cond))
    plain = streamer(EchoConfig())
    plain.next_block(cond)
    with pytest.raises(EchoError, match="8-bit storage"):
        streamer(FP8_CONFIG).load_state_dict(plain.state_dict())
