"""The Streaming Sampler with a VAE: blocks decoded as they are made into one video per session."""
import pytest
import torch

from echo_stream.runtime.video_sink import count_frames
from echo_stream.vae import WanVAEDecoder
from node_helpers import call, comfy_dirs, model, sample, script_of  # noqa: F401
from tiny_vae import TINY_VAE

import av  # noqa: E402,F401  (test extra: a missing one fails, never skips)


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return WanVAEDecoder(TINY_VAE).eval()  # a module tree with the original names, like core's first_stage_model


def run(model, vae, seconds, mode="new", session="v", **extra):
    out = call("EchoStreamingSampler", model=model, script=script_of(("EchoSceneStart", 1, seconds, {})), seed=3,
               steps="1000, 750, 500, 250", session=session, mode=mode, unique_id="7", width=48, height=32,
               vae=vae, **extra)
    latents, handle, video_path, video = out["result"]
    return latents["samples"], handle, video_path


@pytest.mark.parametrize("every", [1, 2, 0])
def test_two_queue_runs_make_one_video(comfy_dirs, model, vae, every):
    first, _, path1 = run(model, vae, 1.5, decode_every=every)  # 2 blocks = 6 latents
    assert count_frames(path1) == 4 * 6 - 3
    second, handle, path2 = run(model, vae, 2.25, mode="continue", decode_every=every)  # 3 more blocks
    assert path2 == path1 and handle.blocks == 5
    assert count_frames(path2) == 4 * 15 - 3  # one video: no restart at run 2's first latent

    # one decoder cache carried over both runs (its exactness is test_streaming_decode.py's subject)
    from echo_stream.runtime.registry import SESSIONS
    decode = SESSIONS.get("v").video_decode
    assert decode.latent_frames == decode.cache.latent_frames == first.shape[2] + second.shape[2] == 15
    assert not decode.pending


def test_cancel_keeps_every_finished_block(comfy_dirs, model, vae, monkeypatch):
    from echo_stream.nodes import comfy

    class Interrupted(BaseException):  # core's interrupt derives from BaseException
        pass

    calls = {"n": 0}

    def interrupted():
        calls["n"] += 1
        return calls["n"] > 3  # after three blocks

    def raise_if_interrupted():
        raise Interrupted("Processing interrupted")

    monkeypatch.setattr(comfy, "interrupted", interrupted)
    monkeypatch.setattr(comfy, "raise_if_interrupted", raise_if_interrupted)
    with pytest.raises(Interrupted):
        run(model, vae, 4.5, session="cut")
    videos = list((comfy_dirs / "output" / "echo_stream").glob("cut_*.mp4"))
    assert len(videos) == 1 and count_frames(videos[0]) == 4 * 9 - 3
    monkeypatch.setattr(comfy, "interrupted", lambda: False)
    _, _, path = run(model, vae, 0.75, mode="continue", session="cut")
    assert path == str(videos[0]) and count_frames(path) == 4 * 12 - 3


def test_saved_session_continues_its_video(comfy_dirs, model, vae):
    _, handle, path = run(model, vae, 1.5, session="saved")
    call("EchoSaveSceneMemory", scene_memory=handle, filename="saved state")
    loaded = call("EchoLoadSceneMemory", model=model, file="saved state.safetensors", session="restored")[0]
    out = call("EchoStreamingSampler", model=model, script=script_of(("EchoSceneStart", 1, 0.75, {})), seed=3,
               steps="1000, 750, 500, 250", session="ignored", mode="continue", unique_id="7", width=48,
               height=32, vae=vae, scene_memory=loaded)
    assert out["result"][2] == path and count_frames(path) == 4 * 9 - 3


def test_a_non_wan21_vae_is_refused(comfy_dirs, model):
    class Wan22Vae:
        latent_channels = 48
        first_stage_model = torch.nn.Linear(1, 1)

    with pytest.raises(ValueError, match="Wan 2.1 VAE"):
        run(model, Wan22Vae(), 0.75)


def test_each_new_session_gets_its_own_video(comfy_dirs, model, vae):
    _, _, first = run(model, vae, 0.75, session="same")
    _, _, second = run(model, vae, 0.75, session="same")  # "new" again, within the same second
    assert first != second and count_frames(first) == count_frames(second) == 4 * 3 - 3


def test_a_parked_session_continues_its_video(comfy_dirs, model, vae):
    """Parking keeps only the session's state dict: the decoder cache comes back from the saved tail."""
    from echo_stream.runtime.registry import SESSIONS

    _, _, path = run(model, vae, 1.5, session="parked")
    SESSIONS.park("parked", "test")
    assert SESSIONS.parked_names() == ["parked"]
    _, _, again = run(model, vae, 0.75, mode="continue", session="parked")
    assert again == path and count_frames(path) == 4 * 9 - 3
