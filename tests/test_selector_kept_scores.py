"""The selector keeps each stored frame's score parts (magnitude term; phase part at every distance the
frame will have) instead of scoring the whole ring each block. Its scores must stay those of the full
scorer on the live ring, block after block, across scene switches, with one selection per sample too."""
import pytest
import torch

from echo_stream.engine import BlockStreamer
from echo_stream.memory.compression import (mean_phase_rows, mean_phase_scores, mean_phase_weight, phase_rotations,
                                            phase_scores)
from echo_stream.memory.config import EchoConfig
from echo_stream.memory.echo_forcing import EchoForcingMemory
from echo_helpers import SIZE
from tiny import text, tiny_model

GATE = torch.tensor(0.7, dtype=torch.float64)


def test_phase_rows_are_the_dot_products_at_each_distance():
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(2, 5, 2, 24, generator=g)
    q_mean = torch.randn(2, 12, dtype=torch.complex64, generator=g)
    offsets = (1, 2, 4, 8, 16)
    rows = torch.tensor([[1, 4, 7], [2, 5, 8]])  # per frame, the distances it is scored at
    weights = mean_phase_weight(q_mean, phase_rotations(torch.arange(1, 9), offsets, 24, "cpu").mean(dim=1))
    got = mean_phase_rows(keys, weights[rows - 1])  # [frames, distances, tokens]
    for k in range(rows.shape[1]):
        distances = rows[:, k]
        weight = mean_phase_weight(q_mean, phase_rotations(distances, offsets, 24, "cpu").mean(dim=1))
        torch.testing.assert_close(got[:, k], mean_phase_scores(keys, weight, None, GATE), atol=1e-6, rtol=1e-6)


def full_scores(memory: EchoForcingMemory, i: int) -> torch.Tensor:
    """Every ring token of layer i scored from scratch at the current scene frame n, [samples, W, T]: slot s
    holds the scene's frame f with f = s mod W among the last W frames, at distance n - f."""
    cfg, g, W = memory.config, memory.geometry, memory.window
    n, cal = memory.scenes.scene.frames, memory.scenes.calibration
    distances = torch.tensor([W - (s - n) % W for s in range(W)])
    samples = g.batch if cfg.per_sample_selection else 1
    ring = memory.storage.ring_keys(i)[:samples].view(samples, W, g.frame_tokens, g.num_heads, g.head_dim)
    return torch.stack([phase_scores(keys, distances, cal.mean[i], cal.abs_mean[i], GATE, cfg.future_offsets,
                                     "sum", cfg.use_magnitude_compensation) for keys in ring])


def steady_stream(blocks=9, **options):
    memory = EchoForcingMemory(EchoConfig(**options))
    streamer = BlockStreamer(tiny_model(), memory, seed=0, **SIZE)
    with torch.no_grad():
        for _ in range(blocks):
            streamer.next_block(text(5, seed=100))
    return memory


@torch.no_grad()
@pytest.mark.parametrize("slots", [[3, 4, 5], [0, 5, 9]], ids=["one run", "scattered"])
def test_slots_overwritten_and_forgotten_are_scored_again(slots):
    """A write pass cut short leaves new keys in ring slots under the old frame numbers; `forget` makes the
    selector score them again (one run of slots, or scattered ones)."""
    memory = steady_stream()
    g, t = memory.geometry, memory.geometry.frame_tokens
    memory.selector.scores(1, memory.storage, memory.scenes, GATE)  # every slot's parts kept
    new = torch.randn(1, len(slots) * t, g.num_heads, g.head_dim, generator=torch.Generator().manual_seed(3))
    for j, slot in enumerate(slots):
        memory.storage.commit_ring(1, [slot], new[:, j * t:(j + 1) * t], new[:, j * t:(j + 1) * t])
    memory.selector.forget(1, slots)
    kept = memory.selector.scores(1, memory.storage, memory.scenes, GATE)
    torch.testing.assert_close(kept, full_scores(memory, 1), atol=2e-5, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("options,batch", [({}, 1), ({"per_sample_selection": True}, 2),
                                           ({"use_magnitude_compensation": False}, 1),
                                           ({"kv_storage": "fp8_e4m3"}, 1)])
def test_kept_scores_follow_the_ring_block_after_block(options, batch):
    memory = EchoForcingMemory(EchoConfig(**options))
    streamer = BlockStreamer(tiny_model(), memory, seed=0, batch=batch, **SIZE)
    prompts = [text(5, seed=100 + p, batch=batch) for p in range(2)]
    plan = [(0, None)] * 12 + [(1, "smooth")] + [(1, None)] * 11 + [(0, "recall")] + [(0, None)] * 11
    compared = 0
    for prompt, transition in plan:
        streamer.next_block(prompts[prompt], transition=transition)
        scenes = memory.scenes
        if not scenes.calibration.ready or scenes.scene.frames + memory.block <= memory.window:
            continue  # the next block is not a steady one: nothing is scored
        for i in range(memory.geometry.num_layers):
            kept = memory.selector.scores(i, memory.storage, scenes, GATE)
            torch.testing.assert_close(kept, full_scores(memory, i), atol=2e-5, rtol=1e-5)
        compared += 1
    assert compared == 18  # the six steady blocks of each of the three scenes
