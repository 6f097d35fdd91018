"""Every preset's latents on a fixed multi-scene script are bit-identical to the recorded ones
(tests/golden/record_presets.py wrote them before the memory-policy refactor).

Bit-identity holds for the torch build and CPU kernels that recorded them (the file's metadata); on
another (say AVX-512 instead of AVX2) float32 rounding differs and the comparison is to 1e-4."""
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from golden.record_presets import FILE, VARIANTS, machine, run_variant
from tiny import tiny_model

GOLDEN = load_file(str(FILE))
with safe_open(str(FILE), framework="pt") as f:
    RECORDED_ON = f.metadata()
SAME_MACHINE = RECORDED_ON == machine()
MODEL = tiny_model()


def test_every_variant_is_recorded():
    from echo_stream.memory import PRESETS

    assert sorted(GOLDEN) == sorted(VARIANTS)
    assert {preset for (preset, _), _ in VARIANTS.values()} == set(PRESETS)  # a new preset needs a recording


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_preset_latents_equal_the_recorded_ones(name):
    latents = run_variant(name, MODEL)
    assert latents.shape == GOLDEN[name].shape
    if SAME_MACHINE:
        assert torch.equal(latents, GOLDEN[name]), f"{name}: max diff {(latents - GOLDEN[name]).abs().max()}"
    else:  # recorded with other kernels: rounding differs, behaviour must not
        warnings.warn(f"golden latents were recorded on {RECORDED_ON}, this is {machine()}: compared to 1e-4, "
                      f"not bit for bit")
        torch.testing.assert_close(latents, GOLDEN[name], atol=1e-4, rtol=1e-4)
