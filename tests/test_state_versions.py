"""The scene-memory file format: version 2 holds exactly the session's state dict; files written by
earlier versions of the pack still load and continue exactly, or are refused with a precise message."""
import json
import pathlib
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import make_v1_state as v1  # noqa: E402

from echo_stream.engine.errors import EchoError  # noqa: E402
from echo_stream.runtime.memory_choice import MemoryChoice  # noqa: E402
from echo_stream.runtime.session import Session, SessionSpec  # noqa: E402
from echo_stream.runtime.state_file import load_session, save_session  # noqa: E402
from echo_stream.runtime.state_io import split  # noqa: E402
from tiny import tiny_model  # noqa: E402

MODEL = tiny_model(seed=v1.MODEL_SEED)


def recorded(preset):
    with safe_open(str(v1.continued_file(preset)), framework="pt") as f:
        return f.get_tensor("latents"), f.metadata()


def read(path):
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["echo_stream"]), {k: f.get_tensor(k) for k in f.keys()}


def rewrite(path, meta, tensors):
    save_file(tensors, str(path), metadata={"echo_stream": json.dumps(meta)})
    return path


@pytest.mark.parametrize("preset", v1.PRESETS)
def test_v1_file_loads_and_continues_to_the_recorded_latents(preset):
    expected, meta = recorded(preset)
    if v1.weight_digest(MODEL) != meta["model_digest"]:
        pytest.fail("tests/tiny.py builds other weights than when the v1 fixture was written; the fixture "
                    "needs the old tiny model (this is not a state-loading fault)")
    session = load_session(v1.state_file(preset), MODEL)
    assert session.blocks_done == 6 and [r.label for r in session.scenes] == ["a", "b"]
    continued = session.run(v1.continuation()).latents
    assert continued.shape == expected.shape
    assert torch.equal(continued, expected)


def test_v1_file_saved_again_is_version_2_and_continues_the_same(tmp_path):
    expected, _ = recorded("echo_forcing")
    path = save_session(load_session(v1.state_file("echo_forcing"), MODEL), tmp_path / "again.safetensors")
    assert read(path)[0]["version"] == 2
    assert torch.equal(load_session(path, MODEL).run(v1.continuation()).latents, expected)


def test_version_2_holds_exactly_the_state_dict(tmp_path):
    session = Session("s", MODEL, SessionSpec(**v1.SPEC))
    session.run(v1.first_part())
    expected_tensors = {}
    expected_json = split(session.state_dict(), expected_tensors, "session")
    meta, tensors = read(save_session(session, tmp_path / "s.safetensors"))
    assert meta["version"] == 2 and meta["session"] == expected_json
    assert sorted(tensors) == sorted(expected_tensors)
    assert all(torch.equal(tensors[k], expected_tensors[k]) for k in tensors)
    names = {k.split(".")[-1] for k in tensors}
    assert not {"work_k", "work_v", "history"} & names and "ring_k" in names
    text = json.dumps(meta)
    assert "__object__" not in text and "__keep__" not in text  # nothing but plain values and tensor names
    # the current prompt is the stream's last prompt: stored once
    assert meta["session"]["conditioning_is_prompt"] is True and "session.conditioning" not in tensors


def test_another_format_version_is_named(tmp_path):
    meta, tensors = read(v1.state_file("echo_forcing"))
    path = rewrite(tmp_path / "future.safetensors", {**meta, "version": 3}, tensors)
    with pytest.raises(EchoError, match=r"format version 3; this pack reads versions 1, 2 \(a newer pack saved it"):
        load_session(path, MODEL)


def test_v1_file_lacking_a_field_is_named(tmp_path):
    meta, tensors = read(v1.state_file("echo_forcing"))
    memory = {k: v for k, v in meta["memory"].items() if k != "old_rates"}
    path = rewrite(tmp_path / "old.safetensors", {**meta, "memory": memory}, tensors)
    with pytest.raises(EchoError, match=r"old.safetensors is a version-1 file whose echo_forcing memory lacks "
                                        r"\['old_rates'\]"):
        load_session(path, MODEL)


def test_v1_file_with_unknown_transition_settings_is_named(tmp_path):
    meta, tensors = read(v1.state_file("echo_forcing"))
    memory = dict(meta["memory"])
    memory["mode"] = {"__object__": "ModeSettings", "fields": {**memory["mode"]["fields"], "jump": 7}}
    path = rewrite(tmp_path / "odd.safetensors", {**meta, "memory": memory}, tensors)
    with pytest.raises(EchoError, match="transition settings .* that none of this memory's modes"):
        load_session(path, MODEL)


def test_version_2_state_of_another_policy_is_refused_by_name(tmp_path):
    session = Session("s", MODEL, SessionSpec(**v1.SPEC, memory=MemoryChoice("self_forcing_window")))
    session.run(v1.first_part())
    meta, tensors = read(save_session(session, tmp_path / "w.safetensors"))
    meta["spec"]["memory"] = MemoryChoice("echo_forcing").to_json()  # claims another policy than it holds
    path = rewrite(tmp_path / "w.safetensors", meta, tensors)
    with pytest.raises(EchoError, match=r"w.safetensors does not fit the echo_forcing memory of this model "
                                        r"\(echo_forcing memory state lacks"):
        load_session(path, MODEL)


def test_version_2_file_naming_a_missing_tensor_is_damaged(tmp_path):
    session = Session("s", MODEL, SessionSpec(**v1.SPEC))
    session.run(v1.first_part())
    meta, tensors = read(save_session(session, tmp_path / "d.safetensors"))
    del tensors["session.stream.memory.ring_k"]
    path = rewrite(tmp_path / "d.safetensors", meta, tensors)
    with pytest.raises(EchoError, match="names a tensor 'session.stream.memory.ring_k' it does not hold; the file is damaged"):
        load_session(path, MODEL)


# every preset, and the echo_forcing options that change what its state holds (batch 2: per sample)
VARIANTS = {
    "echo_forcing": ("echo_forcing", {}, 1),
    "echo_forcing+per_sample_selection": ("echo_forcing", {"per_sample_selection": True}, 2),
    "echo_forcing+decay_as_log_weight": ("echo_forcing", {"decay_as_log_weight": True}, 1),
    "self_forcing_window": ("self_forcing_window", {}, 1),
    "longlive_recache": ("longlive_recache", {}, 1),
    "infinity_rope": ("infinity_rope", {}, 1),
    "echo_infinity_rope": ("echo_infinity_rope", {}, 1),
    "full_cache": ("full_cache", {"max_frames": 30}, 1),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_save_load_continue_equals_continuing_in_memory_for_every_preset(tmp_path, name):
    from echo_stream.runtime.script import SceneScript
    from tiny import text

    preset, options, batch = VARIANTS[name]
    prompt = lambda seed: text(5, seed=seed, batch=batch)  # noqa: E731
    first = SceneScript.start(prompt(1), 2.25, label="a").then(prompt(2), 2.25, "cut", label="b")
    rest = SceneScript.start(prompt(2), 0.75).then(prompt(1), 1.5, "recall", recall="a").then(prompt(4), 0.75, "smooth")
    session = Session("s", MODEL, SessionSpec(48, 32, seed=3, batch=batch, memory=MemoryChoice(preset, options)))
    session.run(first)
    path = save_session(session, tmp_path / f"{name}.safetensors")
    in_memory = session.run(rest).latents
    assert torch.equal(load_session(path, MODEL).run(rest).latents, in_memory)
