"""Difference-aware decay and Scene Recall Frames (notes §5.2, §6)."""
import pytest
import torch

from echo_stream.engine import BlockStreamer
from echo_stream.memory.config import EchoConfig
from echo_stream.memory.decay import difference_rates
from echo_stream.memory.echo_forcing import EchoForcingMemory
from echo_stream.memory.scene_pool import recall_frame, recall_jump
from echo_helpers import SIZE
from tiny import text, tiny_model


def test_rates_order_positions_by_difference():
    g = torch.Generator().manual_seed(0)
    old = torch.randn(1, 5, 2, 4, generator=g)
    new = old.clone()
    noise = torch.randn(1, 5, 2, 4, generator=g)
    for p, amount in enumerate([0.0, 0.2, 0.5, 1.0, 4.0]):  # position p changes more and more
        new[0, p] += amount * noise[0, p]
    rates = difference_rates(new, old, 0.55, 0.90)
    assert rates[0] == pytest.approx(0.90) and rates[-1] == pytest.approx(0.55)  # min-max normalised
    assert all(a > b for a, b in zip(rates.tolist(), rates.tolist()[1:]))
    assert difference_rates(old, old, 0.8, 0.95).tolist() == pytest.approx([0.95] * 5)  # no spread: r_max


@torch.no_grad()
@pytest.mark.parametrize("mode,blocks", [("smooth", 5), ("recall", 5), ("cut", 1)])
def test_weights_follow_powers_of_the_rate_then_evict(mode, blocks):
    cfg = EchoConfig()
    memory = EchoForcingMemory(cfg)
    streamer = BlockStreamer(tiny_model(), memory, **SIZE)
    a, b = text(5, seed=1), text(5, seed=2)
    for _ in range(3):
        streamer.next_block(a)
    streamer.next_block(b, transition=mode)
    settings = cfg.modes[mode]
    layouts = [streamer.layout]
    for _ in range(1, 8):
        streamer.next_block(b)
        layouts.append(streamer.layout)
    seen = [layout.old_weight() for layout in layouts]
    assert seen[0] == pytest.approx(settings.first_block_weight)
    rates = layouts[1].old_rates if blocks > 1 else memory.planner.old.rates  # diff rates: measured on block 1
    for k, layout in enumerate(layouts[:blocks]):
        torch.testing.assert_close(layout.old_weights, settings.first_block_weight * rates ** k)
    assert [w is not None for w in seen] == [True] * blocks + [False] * (8 - blocks)
    if settings.decay == "diff":
        assert float(rates.min()) >= settings.rate_min - 1e-6 and float(rates.max()) <= settings.rate_max + 1e-6
        assert float(rates.max() - rates.min()) > 0.1  # per-position rates, not one number


def test_recall_frame_is_ninety_percent_first_frame_plus_softmax_fusion():
    g = torch.Generator().manual_seed(3)
    k = torch.randn(3, 1, 4, 2, 6, generator=g)  # candidates {0, 4, 8}, batch 1, 4 positions
    v = torch.randn(3, 1, 4, 2, 6, generator=g)
    q = torch.randn(2, 6, generator=g)
    rk, rv = recall_frame(k, v, q, 0.9)
    for p in range(4):
        s = torch.stack([(k[c, 0, p] * q).sum(-1).mean() for c in range(3)])
        w = torch.exp(s) / torch.exp(s).sum()
        want_k = 0.9 * k[0, 0, p] + 0.1 * sum(w[c] * k[c, 0, p] for c in range(3))
        want_v = 0.9 * v[0, 0, p] + 0.1 * sum(w[c] * v[c, 0, p] for c in range(3))
        torch.testing.assert_close(rk[0, p], want_k)
        torch.testing.assert_close(rv[0, p], want_v)


def test_recall_jump_from_similarity():
    assert recall_jump(0.9, torch.tensor([0.9]), 6) == 6  # a single candidate: full jump
    sims = torch.tensor([0.95, 0.5, 0.55])
    assert recall_jump(0.95, sims, 6) == round(6 * 0.05 / 1.0)  # the most similar scene: small jump
    assert recall_jump(0.5, sims, 6) == round(6 * 0.5 / 1.0)
