"""The overhead-floor bench: its shared-buffer window is the rolling window, bit for bit, plus a copy."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import overhead_floor  # noqa: E402
from echo_stream.engine import BlockStreamer  # noqa: E402
from echo_stream.memory import make_memory  # noqa: E402
from tiny_stream import tiny_config, tiny_model  # noqa: E402


@pytest.mark.parametrize("dim", [64, 32])  # head_dim 32: RoPE's complex path; 16: the real formula
@torch.no_grad()
def test_the_shared_buffer_window_gives_the_windows_latents(dim):
    cfg = tiny_config(dim=dim)
    model = tiny_model(cfg)
    cond = torch.randn(1, cfg.text_len, cfg.text_dim, generator=torch.Generator().manual_seed(0))
    plain = BlockStreamer(model, make_memory("self_forcing_window"), width=32, height=32, seed=0)
    shared_policy = overhead_floor.SharedBufferWindow(make_memory("self_forcing_window"))
    shared = BlockStreamer(model, shared_policy, width=32, height=32, seed=0)
    for _ in range(9):  # past the 21-frame window: rolling
        assert torch.equal(plain.next_block(cond), shared.next_block(cond))
    assert shared_policy.work_k.abs().sum() > 0  # the context really went through the shared buffer
    assert shared_policy.nbytes() == plain.memory.nbytes() + 2 * shared_policy.work_k.nbytes


def test_measure_pairs_the_three_streams():
    out = overhead_floor.measure(width=16, height=16, rounds=1, wide=False, say=lambda stage, msg: None)
    streams = out["streams"]
    assert set(streams) == {"self_forcing_window", "window_shared_buffer", "echo_forcing"}
    assert streams["self_forcing_window"]["ratio_to_rolling_window"] == 1.0
    for name in ("window_shared_buffer", "echo_forcing"):
        assert streams[name]["finite"] and streams[name]["ratio_spread"]["n"] == 2
        assert streams[name]["ratio_to_rolling_window"] > 0
    assert streams["window_shared_buffer"]["cache_bytes"] > streams["self_forcing_window"]["cache_bytes"]
