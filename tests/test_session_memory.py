"""Sessions' memory: freed on request, parked beyond a cap or when ComfyUI makes room, handles checked."""
import gc
import logging
import types
import weakref

import pytest
import torch

from echo_stream.engine.errors import EchoError
from echo_stream.nodes import comfy
from echo_stream.nodes.types import EchoModel
from echo_stream.runtime.registry import SESSIONS, Parked
from node_helpers import call, comfy_dirs, model, sample, script_of  # noqa: F401
from test_sessions import PRESETS, RUNS, memory_input
from tiny import TINY, tiny_model

ONE_BLOCK = [("EchoSceneStart", 1, 1.5, {"label": "a"}), ("EchoHardCut", 2, 0.75, {})]
MORE = [("EchoSceneStart", 2, 0.75, {}), ("EchoSceneRecall", 1, 1.5, {"target": "a"})]


def live_storage() -> dict:
    """Every tensor storage alive in the process (an independent census: the garbage collector's view)."""
    gc.collect()
    found = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), torch.Tensor):  # type(): some objects warn when asked for __class__
            storage = obj.untyped_storage()
            found[(str(obj.device), storage.data_ptr())] = storage.nbytes()
    return found


@pytest.fixture
def cap(monkeypatch):
    def set_cap(n):
        monkeypatch.setattr(SESSIONS, "live_cap", n)
    return set_cap


def test_free_returns_the_session_bytes_and_releases_its_tensors(comfy_dirs, model):
    _, handle, _ = sample(model, script_of(*ONE_BLOCK), session="big")
    session = SESSIONS.peek("big")
    cache = session.cache_bytes()
    watched = [weakref.ref(t) for t in session.memory.tensors().values()]
    del session
    before = live_storage()
    out = call("EchoFreeSceneMemory", scene_memory=handle)
    after = live_storage()
    released = sum(n for key, n in before.items() if key not in after)
    assert out["result"][0] == released  # what the node reports is what the process got back
    assert released >= cache > 0  # the KV cache and everything else the session held
    assert all(ref() is None for ref in watched)
    assert out["ui"]["text"][0].startswith("freed session 'big': ") and "MiB on cpu" in out["ui"]["text"][0]
    assert SESSIONS.peek("big") is None
    again = call("EchoFreeSceneMemory", scene_memory=handle)
    assert again["result"][0] == 0 and "not in memory" in again["ui"]["text"][0]


def test_free_by_name_and_all(comfy_dirs, model):
    for name in ("x", "y", "z"):
        sample(model, script_of(*ONE_BLOCK[:1]), session=name)
    out = call("EchoFreeSceneMemory", session="y")
    assert out["result"][0] > 0 and SESSIONS.names() == ["x", "z"]
    out = call("EchoFreeSceneMemory", session="*")
    assert out["result"][0] > 0 and SESSIONS.names() == []
    assert call("EchoFreeSceneMemory", session="nope")["ui"]["text"] == ["no session named 'nope'"]
    with pytest.raises(EchoError, match="connect a scene_memory or type a session name"):
        call("EchoFreeSceneMemory")


def test_the_cap_holds_when_more_sessions_are_opened(comfy_dirs, model, cap, caplog):
    cap(2)
    caplog.set_level(logging.INFO, "echo_stream")
    for i in range(5):
        sample(model, script_of(*ONE_BLOCK), session=f"s{i}")
        assert len(SESSIONS.live_names()) == min(i + 1, 2)
    assert SESSIONS.live_names() == ["s3", "s4"] and SESSIONS.parked_names() == ["s0", "s1", "s2"]
    assert "session 's0' moved to the CPU (more than 2 live sessions (ECHO_STREAM_LIVE_SESSIONS)" in caplog.text
    parked = SESSIONS.peek("s0")
    assert isinstance(parked, Parked) and all(t.device.type == "cpu" for t in parked.state.tensors.values())
    sample(model, script_of(*MORE), mode="continue", session="s0")  # comes back; the oldest live one goes
    assert SESSIONS.live_names() == ["s4", "s0"] and "s3" in SESSIONS.parked_names()
    assert "session 's0' is back on cpu" in caplog.text


def test_parking_releases_the_sessions_tensors(comfy_dirs, model):
    sample(model, script_of(*ONE_BLOCK), session="p")
    watched = [weakref.ref(t) for t in SESSIONS.peek("p").memory.tensors().values()]
    released = SESSIONS.park("p", "test")
    gc.collect()
    assert all(ref() is None for ref in watched) and isinstance(SESSIONS.peek("p"), Parked)
    assert released.get("cpu", 0) > 0  # the work buffers and run latents are not part of the snapshot


@pytest.mark.parametrize("preset", PRESETS)
def test_a_parked_session_continues_exactly_as_one_that_never_moved(comfy_dirs, model, cap, preset):
    cap(1)
    first, _, _ = sample(model, script_of(*RUNS[0]), session="moved", **memory_input(preset))
    sample(model, script_of(*RUNS[0]), session="stayed", **memory_input(preset))  # parks "moved"
    assert SESSIONS.parked_names() == ["moved"]
    moved, _, _ = sample(model, script_of(*RUNS[1]), mode="continue", session="moved")  # parks "stayed"
    assert SESSIONS.parked_names() == ["stayed"]
    stayed, _, _ = sample(model, script_of(*RUNS[1]), mode="continue", session="stayed")
    assert torch.equal(moved, stayed)
    # and both equal a session that was never parked at all
    cap(10)
    sample(model, script_of(*RUNS[0]), session="never", **memory_input(preset))
    never, _, _ = sample(model, script_of(*RUNS[1]), mode="continue", session="never")
    assert torch.equal(moved, never)


def fake_model_management(free_bytes: float):
    calls = []
    mm = types.SimpleNamespace(
        free_memory=lambda memory_required, device, *a, **k: calls.append((memory_required, device)) or [],
        get_free_memory=lambda device=None, torch_free_too=False: free_bytes,
        soft_empty_cache=lambda force=False: calls.append("empty_cache"),
        processing_interrupted=lambda: False, throw_exception_if_processing_interrupted=lambda: None)
    return mm, calls


def test_comfyui_making_room_parks_idle_sessions_first(comfy_dirs, model, monkeypatch, caplog):
    mm, calls = fake_model_management(free_bytes=10**9)
    monkeypatch.setattr(comfy, "model_management", lambda: mm)
    caplog.set_level(logging.INFO, "echo_stream")
    for name in ("old", "new"):
        sample(model, script_of(*ONE_BLOCK), session=name)  # installs the hook; enough room: nothing parked
    assert SESSIONS.live_names() == ["old", "new"] and getattr(mm.free_memory, "_echo_stream_hook", False)
    mm.free_memory(10**9 + 1, torch.device("cpu"))  # one byte short: the least recently used goes
    assert SESSIONS.parked_names() == ["old"] and "ComfyUI needs" in caplog.text
    assert calls[-2:] == ["empty_cache", (10**9 + 1, torch.device("cpu"))]  # then ComfyUI's own free_memory
    mm.free_memory(1e30, torch.device("cuda", 0))  # unloading another device leaves ours alone
    assert SESSIONS.live_names() == ["new"]
    mm.free_memory(1e30, torch.device("cpu"))  # "Unload models"
    assert SESSIONS.live_names() == [] and "(ComfyUI unloads models;" in caplog.text
    comfy.hook_free_memory(lambda needed, device: 0)  # installed once: a second call wraps nothing
    assert mm.free_memory.__wrapped__.__name__ == "<lambda>"


def test_the_running_session_is_never_parked(comfy_dirs, model, monkeypatch):
    mm, _ = fake_model_management(free_bytes=0)  # every reservation asks for room
    monkeypatch.setattr(comfy, "model_management", lambda: mm)
    sample(model, script_of(*ONE_BLOCK), session="a")
    sample(model, script_of(*ONE_BLOCK), session="b")  # its reservation parks "a", not "b"
    assert SESSIONS.parked_names() == ["a"] and SESSIONS.live_names() == ["b"]
    sample(model, script_of(*MORE), mode="continue", session="b")
    assert SESSIONS.live_names() == ["b"]


def test_stale_handles_get_a_clear_message(comfy_dirs, model):
    _, first, _ = sample(model, script_of(*ONE_BLOCK), session="h")
    _, second, _ = sample(model, script_of(*MORE), mode="continue", session="h")
    with pytest.raises(EchoError, match=r"Save Scene Memory: session 'h' has moved on since this scene memory was "
                                        r"made \(it had 3 blocks, now 6\)"):
        call("EchoSaveSceneMemory", scene_memory=first, filename="h")
    with pytest.raises(EchoError, match="Streaming Sampler: session 'h' has moved on"):
        sample(model, script_of(*MORE), scene_memory=first)
    call("EchoSaveSceneMemory", scene_memory=second, filename="h")  # the current handle saves
    other = EchoModel("other weights", tiny_model(seed=9, cfg=TINY), 3)
    sample(other, script_of(*ONE_BLOCK), session="h")  # the name now holds another model's session
    with pytest.raises(EchoError, match=r"earlier session 'h' that was since replaced by a new one \(model "
                                        r"'other weights'\)"):
        call("EchoSaveSceneMemory", scene_memory=second, filename="h")
    with pytest.raises(EchoError, match="since replaced"):  # and is not freed by the old handle
        call("EchoFreeSceneMemory", scene_memory=second)
    _, third, _ = sample(other, script_of(*ONE_BLOCK), session="h")
    call("EchoFreeSceneMemory", session="h")
    with pytest.raises(EchoError, match=r"Save Scene Memory: session 'h' was freed \(Free Scene Memory\)"):
        call("EchoSaveSceneMemory", scene_memory=third, filename="h")
    with pytest.raises(EchoError, match="Streaming Sampler: session 'h' was freed"):
        sample(other, script_of(*MORE), scene_memory=third)


def test_a_parked_session_saves_from_the_cpu_and_its_handle_stays_valid(comfy_dirs, model):
    _, handle, _ = sample(model, script_of(*ONE_BLOCK), session="keep")
    SESSIONS.park("keep", "test")
    saved = call("EchoSaveSceneMemory", scene_memory=handle, filename="keep")
    assert saved["ui"]["text"] == ["saved 3 blocks of 'keep' to echo_stream/keep.safetensors"]
    assert isinstance(SESSIONS.peek("keep"), Parked)  # saving did not bring it back to the device
    in_memory, _, _ = sample(model, script_of(*MORE), scene_memory=handle)  # the handle still matches
    loaded = call("EchoLoadSceneMemory", model=model, file="keep.safetensors", session="from_file")[0]
    from_file, _, _ = sample(model, script_of(*MORE), scene_memory=loaded)
    assert torch.equal(from_file, in_memory)


def test_load_runs_on_every_queue_so_continuing_from_a_file_repeats(comfy_dirs, model):
    _, handle, _ = sample(model, script_of(*ONE_BLOCK), session="f")
    call("EchoSaveSceneMemory", scene_memory=handle, filename="f")
    assert call("EchoLoadSceneMemory", model=model, file="f.safetensors").__class__ is tuple
    from echo_stream.nodes.state_nodes import EchoLoadSceneMemory

    assert EchoLoadSceneMemory.IS_CHANGED(file="f.safetensors") != EchoLoadSceneMemory.IS_CHANGED(file="f.safetensors")
    runs = []
    for _ in range(2):  # two Queue presses of Load -> Sampler
        loaded = call("EchoLoadSceneMemory", model=model, file="f.safetensors")[0]
        runs.append(sample(model, script_of(*MORE), scene_memory=loaded)[0])
    assert torch.equal(runs[0], runs[1])


def test_continuing_with_other_weights_of_the_same_sizes_is_logged(comfy_dirs, model, caplog):
    caplog.set_level(logging.INFO, "echo_stream")
    sample(model, script_of(*ONE_BLOCK), session="w")
    other = EchoModel("other weights", tiny_model(seed=9, cfg=TINY), 3)
    sample(other, script_of(*MORE), mode="continue", session="w")
    assert "session 'w' (made with model 'tiny') continues with other weights ('other weights')" in caplog.text
