"""A rewound live run with a session video: the earlier take stays whole, the session goes on in a branch."""
import threading

import pytest
import torch

from echo_stream.engine.geometry import pixel_frames
from echo_stream.runtime.registry import SESSIONS
from echo_stream.vae import WanVAEDecoder
from node_helpers import call, comfy_dirs, model  # noqa: F401
from steer_helpers import FakeClip
from test_live_node import widget
from tiny_vae import TINY_VAE

import av  # noqa: E402  (test extra)


def frames_of(path):
    with av.open(str(path)) as f:
        return [frame.to_ndarray(format="rgb24") for frame in f.decode(video=0)]


@pytest.mark.parametrize("city_after", [0, 3])  # with the rewind, or after one more block of scene 0
def test_live_rewind_keeps_the_old_take_and_branches_the_video(comfy_dirs, model, city_after):
    torch.manual_seed(0)
    vae = WanVAEDecoder(TINY_VAE).eval()
    opening = call("EchoSceneScriptFromText", clip=FakeClip(), timeline="a fox {fox} [1.5s]")[0]
    sent, channels = [], []
    commands = [({"text": "a river", "transition": "smooth"}, 3), (("rewind", 1), 5),
                ({"text": "a city", "transition": "cut"}, city_after), ("stop", 7)]
    thread = threading.Thread(target=widget, args=("vid", commands, sent, channels))
    thread.start()
    out = call("EchoStreamingSampler", model=model, script=opening, seed=3, steps="1000, 750, 500, 250",
               session="vid", mode="new", unique_id="7", width=48, height=32, vae=vae, live=True,
               live_max_seconds=60.0, clip=FakeClip(), rewind_points=4)
    thread.join(10)
    latents, handle, video_path, _ = out["result"]
    rewind = next(a for a in channels[0].status()["applied"] if a["kind"] == "rewind")
    assert rewind["scene"] == 1 and rewind["error"] is None and rewind["dropped"] > 0
    at = rewind["block"]  # where scene 1 started; the city may begin a block later if it came after the rewind
    session = SESSIONS.get("vid")
    timeline = session.timeline()
    assert [s["text"] for s in timeline] == ["a fox", "a city"] and timeline[1]["start_block"] >= at
    old_videos = sorted(p for p in (comfy_dirs / "output" / "echo_stream").glob("vid_*.mp4") if str(p) != video_path)
    assert len(old_videos) == 1
    old, branch = frames_of(old_videos[0]), frames_of(video_path)
    assert len(branch) == pixel_frames(3 * handle.blocks)
    assert len(old) == pixel_frames(3 * (at + rewind["dropped"]))  # the earlier take: every block made before
    prefix = pixel_frames(3 * at)
    assert all((a == b).all() for a, b in zip(old[:prefix], branch[:prefix]))  # copied, not re-encoded
    assert session.video_decode.latent_frames == 3 * handle.blocks
