"""Sessions across queue runs, saved and loaded scene memory, and state-file safety."""
import pytest
import torch

from echo_stream.engine.errors import EchoError
from echo_stream.memory import BOUNDED as PRESETS
from echo_stream.nodes.files import state_path
from echo_stream.nodes.types import EchoModel
from node_helpers import call, comfy_dirs, model, sample, script_of  # noqa: F401
from tiny import TINY, tiny_model

# one script, cut into three queue runs; 0.75 s = one block, so the pieces add up exactly
WHOLE = [("EchoSceneStart", 1, 3.0, {"label": "a"}), ("EchoHardCut", 2, 6.75, {"label": "b"}),
         ("EchoSceneRecall", 3, 2.25, {"target": "a"}), ("EchoPromptSwitch", 1, 4.5, {}),
         ("EchoAutoTransition", 2, 1.5, {})]
RUNS = [[WHOLE[0], ("EchoHardCut", 2, 4.5, {"label": "b"})],
        # Scene Start with the prompt the session stands at carries that scene on
        [("EchoSceneStart", 2, 2.25, {}), WHOLE[2], ("EchoPromptSwitch", 1, 3.75, {})],
        [("EchoSceneStart", 1, 0.75, {}), WHOLE[4]]]


def memory_input(preset):
    return {"memory": call("EchoSceneMemorySettings", preset=preset)[0]}


@pytest.mark.parametrize("preset", PRESETS)
def test_continuing_over_runs_equals_one_long_run(comfy_dirs, model, preset):
    whole, _, _ = sample(model, script_of(*WHOLE), session="one", **memory_input(preset))
    pieces = []
    for i, run in enumerate(RUNS):
        latents, handle, _ = sample(model, script_of(*run), mode="new" if i == 0 else "continue",
                                    session="many", **memory_input(preset))
        pieces.append(latents)
    assert torch.equal(torch.cat(pieces, dim=2), whole)
    assert handle.blocks == whole.shape[2] // 3


@pytest.mark.parametrize("preset", PRESETS)
def test_save_load_continue_equals_continuing_in_memory(comfy_dirs, model, preset):
    _, handle, _ = sample(model, script_of(*RUNS[0]), session="live", **memory_input(preset))
    saved = call("EchoSaveSceneMemory", scene_memory=handle, filename="runs/first part")
    assert saved["ui"]["text"][0].startswith("saved 10 blocks of 'live'")
    folder = comfy_dirs / "output" / "echo_stream" / "runs"
    assert sorted(p.name for p in folder.iterdir()) == ["first part.safetensors"]  # no temporary left behind
    in_memory, _, _ = sample(model, script_of(*RUNS[1]), mode="continue", session="live")
    loaded = call("EchoLoadSceneMemory", model=model, file="runs/first part.safetensors", session="restored")[0]
    assert loaded.session == "restored" and loaded.blocks == 10
    from_file, _, _ = sample(model, script_of(*RUNS[1]), mode="continue", session="ignored", scene_memory=loaded)
    assert torch.equal(from_file, in_memory)


def test_state_from_another_model_is_refused(comfy_dirs, model):
    _, handle, _ = sample(model, script_of(*RUNS[0][:1]), session="x")
    call("EchoSaveSceneMemory", scene_memory=handle, filename="x")
    other = EchoModel("other", tiny_model(cfg=TINY.__class__(**{**TINY.__dict__, "num_layers": 3})), 3)
    with pytest.raises(EchoError, match=r"another model \(num_layers: file 2 vs model 3\)"):
        call("EchoLoadSceneMemory", model=other, file="x.safetensors")
    framewise = EchoModel("framewise", model.causal, 1)
    with pytest.raises(EchoError, match="3 frames per block"):
        call("EchoLoadSceneMemory", model=framewise, file="x.safetensors")


def test_corrupt_and_foreign_state_files(comfy_dirs, model):
    folder = comfy_dirs / "output" / "echo_stream"
    folder.mkdir(parents=True)
    (folder / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(EchoError, match="not a readable safetensors file"):
        call("EchoLoadSceneMemory", model=model, file="broken.safetensors")
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2)}, folder / "weights.safetensors")
    with pytest.raises(EchoError, match="not a saved scene memory"):
        call("EchoLoadSceneMemory", model=model, file="weights.safetensors")


def test_truncated_state_file(comfy_dirs, model):
    _, handle, _ = sample(model, script_of(*RUNS[0][:1]), session="t")
    call("EchoSaveSceneMemory", scene_memory=handle, filename="t")
    path = comfy_dirs / "output" / "echo_stream" / "t.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(EchoError, match="truncated"):
        call("EchoLoadSceneMemory", model=model, file="t.safetensors")


@pytest.mark.parametrize("name", ["../escape", "a/../../b", "/etc/passwd", "..\\..\\x"])
def test_file_names_cannot_escape_the_folder(tmp_path, name):
    root = tmp_path / "out"
    try:
        path = state_path(str(root), name)
    except EchoError as err:
        assert ".." in str(err)
    else:
        assert path.startswith(str(root) + "/") and path.endswith(".safetensors")


def test_file_names_through_a_symlink_are_refused(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(EchoError, match="outside the output folder"):
        state_path(str(root), "link/../x") if False else state_path(str(root), "link/x")


def test_recall_by_index_is_checked_before_generating(comfy_dirs, model):
    by_index = script_of(("EchoSceneStart", 1, 0.75, {}), ("EchoHardCut", 2, 0.75, {}),
                         ("EchoSceneRecall", 1, 0.75, {"target": "0"}))
    _, handle, _ = sample(model, by_index, session="idx")
    assert handle.blocks == 3
    too_far = script_of(("EchoSceneStart", 1, 0.75, {}), ("EchoSceneRecall", 2, 0.75, {"target": "5"}))
    with pytest.raises(EchoError, match=r"scene index 5, but only scenes 0..0 exist"):
        sample(model, too_far, session="idx2")
