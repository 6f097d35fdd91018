"""State files written by earlier versions of the pack still load and continue exactly."""
import pathlib
import sys

import pytest
import torch
from safetensors import safe_open

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import make_v1_state as v1  # noqa: E402

from echo_stream.runtime.state_file import load_session  # noqa: E402
from tiny import tiny_model  # noqa: E402


def recorded():
    with safe_open(str(v1.CONTINUED_FILE), framework="pt") as f:
        return f.get_tensor("latents"), f.metadata()


def test_v1_file_loads_and_continues_to_the_recorded_latents():
    expected, meta = recorded()
    model = tiny_model(seed=v1.MODEL_SEED)
    if v1.weight_digest(model) != meta["model_digest"]:
        pytest.fail("tests/tiny.py builds other weights than when the v1 fixture was written; the fixture "
                    "needs the old tiny model (this is not a state-loading fault)")
    session = load_session(v1.STATE_FILE, model)
    assert session.blocks_done == 6 and [r.label for r in session.scenes] == ["a", "b"]
    continued = session.run(v1.continuation()).latents
    assert continued.shape == expected.shape
    assert torch.equal(continued, expected)
