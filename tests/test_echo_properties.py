"""Random scene scripts never exceed the budget, never leave the RoPE range, never produce NaN;
a six-scene script streams 100+ blocks deterministically."""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echo_stream.memory.config import EchoConfig
from echo_helpers import scenes, scripted_run
from tiny import tiny_model

MODEL = tiny_model()
TRANSITIONS = st.sampled_from(["smooth", "cut", "recall", "auto", None])
SCENE = st.tuples(st.integers(0, 3), st.integers(1, 12), TRANSITIONS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SCENE, min_size=1, max_size=5), st.booleans())
def test_random_scripts_stay_in_budget_and_range(spec, improvements):
    config = EchoConfig(pool_size=2, true_spatial_ids=improvements, decay_as_log_weight=improvements)
    plan = scenes(*[(prompt, blocks, transition, {}) for prompt, blocks, transition in spec])
    run, latents = scripted_run(plan, config, model=MODEL)
    memory = run.memory
    assert torch.isfinite(latents).all()
    budget = memory.nbytes()
    window = memory.window
    for rec in run.records:
        ids = rec["key_frame_ids"]
        assert len(ids) <= window and sum(rec["tokens"].values()) <= window * 6
        limit = window - 1 + (rec["jump"] or 0)
        assert 0 <= min(ids) and max(ids) <= limit and max(rec["query_frame_ids"]) <= limit
        if rec["jump"] == 0:
            assert max(ids) <= window - 1  # relative RoPE: never outside the trained range
    assert memory.nbytes() == budget and len(memory.pool.entries) <= 2


SIX_SCENES = scenes(
    (0, 20, None, {"label": "A"}),
    (1, 18, "smooth", {"label": "B"}),
    (2, 18, "cut", {"label": "C"}),
    (0, 18, "recall", {"recall": "A"}),
    (1, 18, "auto", {}),
    (3, 18, "recall", {}),
)


def test_six_scene_script_is_deterministic_for_a_seed():
    assert len(SIX_SCENES) >= 100
    first, a = scripted_run(SIX_SCENES, seed=7, model=MODEL)
    _, b = scripted_run(SIX_SCENES, seed=7, model=MODEL)
    _, c = scripted_run(SIX_SCENES, seed=8, model=MODEL)
    assert a.shape[2] == 3 * len(SIX_SCENES) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert [rec["scene"] for rec in first.records][-1] == 5
    assert {rec["transition"] for rec in first.records} >= {"smooth", "cut", "recall"}
    assert len(first.memory.pool.entries) == 5 and first.memory.pool.find("A").scene_index == 0


def test_batch_above_one_with_shared_or_per_sample_selection():
    from echo_stream.engine import BlockStreamer
    from echo_stream.memory import EchoForcingMemory
    from tiny import text

    plan = [None] * 9 + ["cut"] + [None] * 3
    first, second = text(4, seed=1), text(4, seed=2)
    outs = {}
    for per_sample in (False, True):
        memory = EchoForcingMemory(EchoConfig(per_sample_selection=per_sample))
        streamer = BlockStreamer(MODEL, memory, batch=2, seed=3, width=48, height=32)
        blocks, selections = [], []
        with torch.no_grad():
            for i, tr in enumerate(plan):
                blocks.append(streamer.next_block(first if i < 9 else second, transition=tr))
                if streamer.layout.steady:
                    selections.append(streamer.layout.layers[0].selected)
        outs[per_sample] = torch.cat(blocks, dim=2)
        assert outs[per_sample].shape[0] == 2 and torch.isfinite(outs[per_sample]).all()
        assert selections and all(sel.dim() == (2 if per_sample else 1) for sel in selections)
    assert not torch.equal(outs[False][0], outs[False][1])  # the two samples have their own noise
