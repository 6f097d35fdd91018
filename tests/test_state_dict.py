"""Explicit state dicts: for every preset, state_dict -> fresh objects -> load_state_dict -> continue
gives the latents of continuing the original; the state is tensors plus JSON-able values only."""
import json

import pytest
import torch

from echo_stream.engine import BlockStreamer, EchoError
from echo_stream.memory import make_memory
from golden.record_presets import SIZE, VARIANTS, block_plan, prompts
from tiny import tiny_model

MODEL = tiny_model()
PLAN = block_plan()
# in the steady phase, with smooth-switch memory staged, in a recall's staging, in an auto scene
SPLITS = (8, 12, 16, 24)


def streamer_for(name: str, seed: int = 11) -> BlockStreamer:
    (preset, options), batch = VARIANTS[name]
    return BlockStreamer(MODEL, make_memory(preset, **options), seed=seed, batch=batch, **SIZE)


def run(streamer, plan, table):
    out = []
    for prompt, transition, extras, scene_index in plan:
        out.append(streamer.next_block(table[prompt], transition=transition, scene_index=scene_index, extras=extras))
    return torch.cat(out, dim=2) if out else None


def split_json(state, tensors, path="state"):
    """The JSON part of a state (tensors replaced by their names): fails on anything not JSON-able."""
    if isinstance(state, torch.Tensor):
        tensors[path] = state
        return {"tensor": path}
    if isinstance(state, dict):
        assert all(isinstance(k, str) for k in state), path
        return {k: split_json(v, tensors, f"{path}.{k}") for k, v in state.items()}
    if isinstance(state, list):
        return [split_json(v, tensors, f"{path}.{i}") for i, v in enumerate(state)]
    assert state is None or isinstance(state, (bool, int, float, str)), (path, type(state))
    return state


def cloned(state):
    if isinstance(state, torch.Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: cloned(v) for k, v in state.items()}
    if isinstance(state, list):
        return [cloned(v) for v in state]
    return state


@torch.no_grad()
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_load_state_dict_then_continue_equals_continuing(name):
    table = prompts(VARIANTS[name][1])
    original = streamer_for(name)
    done = 0
    for split in SPLITS:
        run(original, PLAN[done:split], table)
        done = split
        state = cloned(original.state_dict())  # a copy, as a file would hold
        json.dumps(split_json(state, {}))
        restored = streamer_for(name, seed=999)  # another seed: the RNG state must come from the state
        restored.load_state_dict(state)
        rest = PLAN[split:split + 4]
        assert torch.equal(run(restored, rest, table), run(original, rest, table)), split
        done = split + 4


def test_state_holds_no_scratch_or_history():
    streamer = streamer_for("echo_forcing")
    with torch.no_grad():
        run(streamer, PLAN[:13], prompts())
    state = streamer.state_dict()
    memory = state["memory"]
    assert not {"work_k", "work_v", "history"} & set(memory)
    assert memory["scene"]["index"] == 2 and [e["label"] for e in memory["pool"]] == ["A", "B"]
    tensors = {}
    split_json(state, tensors)
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())


def test_a_state_of_another_policy_or_size_is_refused_by_name():
    a = streamer_for("echo_forcing")
    with torch.no_grad():
        run(a, PLAN[:2], prompts())
    with pytest.raises(EchoError, match="lacks"):
        streamer_for("self_forcing_window").memory.load_state_dict(a.memory.state_dict())
    other = BlockStreamer(MODEL, make_memory("echo_forcing"), width=48, height=32)
    with pytest.raises(EchoError, match="ring_k has shape"):
        other.memory.load_state_dict(a.memory.state_dict())


@torch.no_grad()
@pytest.mark.parametrize("name", ["echo_forcing", "echo_forcing+per_sample_selection"])
def test_loading_a_state_into_a_used_stream_forgets_what_it_kept(name):
    """Loading a state into a streamer that has run (another session's state, a rewind): the memory's
    kept per-token scratch (the compression's magnitude terms, keyed by scene and frame number) must not
    survive, though the loaded ring holds frames with the same numbers: continuing must equal continuing
    a fresh streamer from the state."""
    table = prompts(VARIANTS[name][1])
    steady = [(0, None, {}, 0)] * 10
    used, other = streamer_for(name), streamer_for(name, seed=5)
    run(used, steady, table)
    run(other, steady, table)
    state = cloned(other.state_dict())
    used.load_state_dict(state)
    fresh = streamer_for(name, seed=999)
    fresh.load_state_dict(state)
    assert torch.equal(run(used, steady, table), run(fresh, steady, table))
