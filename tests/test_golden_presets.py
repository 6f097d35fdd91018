"""Every preset's latents on a fixed multi-scene script are bit-identical to the recorded ones
(tests/golden/record_presets.py wrote them before the memory-policy refactor)."""
import pytest
import torch
from safetensors.torch import load_file

from golden.record_presets import FILE, VARIANTS, run_variant
from tiny import tiny_model

GOLDEN = load_file(str(FILE))
MODEL = tiny_model()


def test_every_variant_is_recorded():
    from echo_stream.memory import PRESETS

    assert sorted(GOLDEN) == sorted(VARIANTS)
    assert {preset for (preset, _), _ in VARIANTS.values()} == set(PRESETS)  # a new preset needs a recording


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_preset_latents_equal_the_recorded_ones(name):
    latents = run_variant(name, MODEL)
    assert latents.shape == GOLDEN[name].shape
    assert torch.equal(latents, GOLDEN[name]), f"{name}: max diff {(latents - GOLDEN[name]).abs().max()}"
