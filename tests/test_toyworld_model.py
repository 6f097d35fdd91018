"""The bundled toy model: it loads like any checkpoint, and what it generates reads back as prompted."""
import json

import torch

from echo_stream.engine import load_causal_wan
from echo_stream.memory import make_memory
from echo_stream.toyworld import Step
from echo_stream.toyworld.evaluate import block_measures, transition_outcomes
from echo_stream.toyworld.model import DEFAULT_MODEL, DEFAULT_RECORD, TOY_CONFIG, load_toy_model
from echo_stream.toyworld.rollout import generate


def test_bundled_model_and_record():
    assert DEFAULT_MODEL.stat().st_size <= 4 * 2**20
    record = json.loads(DEFAULT_RECORD.read_text())
    assert record["steps"] == record["config"]["max_steps"] and record["loss_curve"][-1]["step"] == record["steps"]
    assert record["loss_curve"][-1]["loss"] < 0.5 * record["loss_curve"][0]["loss"]
    model = load_causal_wan(DEFAULT_MODEL, num_heads=2)  # our own loader, original Wan names
    assert model.config == TOY_CONFIG


def test_generation_reads_back_as_the_prompts():
    """A scene, a smooth switch, a cut: every block's category reads as prompted, the scene keeps one
    look (palette, pattern) and the smooth switch carries it (the measured values of the bundled model
    are in its README section; the cut keeps the old look under a rolling window, which is the point
    of measuring memory policies on this world)."""
    torch.set_num_threads(1)
    model = load_toy_model()
    steps = [Step("start", "ocean", 4), Step("smooth", "lava", 3), Step("cut", "snow", 3)]
    gen = generate(model, steps, make_memory("self_forcing_window"), seed=2)
    readings = gen.readings[0]
    measures = block_measures(gen.blocks, readings)
    assert measures["category_match"] == 1.0, [r.category for r in readings]
    assert measures["consistency"] >= 0.8, [r.look for r in readings]
    outcomes = {o["transition"]: o for o in transition_outcomes(gen.blocks, readings)}
    assert outcomes["smooth"]["carried"], [r.look for r in readings]
    # without memory every block picks its look afresh: the scene's look is not kept
    alone = generate(model, steps[:1], make_memory("self_forcing_window", window_frames=3), seed=2)
    assert block_measures(alone.blocks, alone.readings[0])["consistency"] < measures["consistency"]
