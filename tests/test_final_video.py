"""The Final view's session video: run events say what the video holds, and the video route serves the
very file the sampler wrote (default registry and folder, as in ComfyUI)."""
import asyncio

import pytest
import torch

from echo_stream.runtime.video_sink import count_frames
from echo_stream.vae import WanVAEDecoder
from node_helpers import call, comfy_dirs, model, sample, script_of, sent  # noqa: F401
from tiny_vae import TINY_VAE

import av  # noqa: E402,F401  (test extra: a missing one fails, never skips)
import aiohttp  # noqa: E402,F401  (test extra: a missing one fails, never skips)


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return WanVAEDecoder(TINY_VAE).eval()


def run(model, vae, seconds, mode="new", session="fv"):
    out = call("EchoStreamingSampler", model=model, script=script_of(("EchoSceneStart", 1, seconds, {})), seed=3,
               steps="1000, 750, 500, 250", session=session, mode=mode, unique_id="7", width=48, height=32, vae=vae)
    return out["result"][2]


def runs(sent):
    return [data for name, data in sent if name == "echo_stream.run"]


def fetch(path, headers=None):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    from echo_stream.nodes.routes import route_table

    async def main():
        app = web.Application()
        for method, route, handler in route_table():
            app.router.add_route(method, route, handler)
        async with TestClient(TestServer(app)) as client:
            response = await client.get(path, headers=headers or {})
            return response.status, await response.read()
    return asyncio.run(main())


def test_run_events_describe_the_session_video_and_the_route_serves_it(comfy_dirs, model, vae, sent):
    path = run(model, vae, 1.5)  # 2 blocks = 6 latents
    start, end = runs(sent)
    assert start["video"] is None and end["video"] == {"latent_frames": 6, "first_image": 0}
    sent.clear()
    path2 = run(model, vae, 1.5, mode="continue")
    start, end = runs(sent)
    assert path2 == path and start["video"] == {"latent_frames": 6, "first_image": 0}
    assert end["video"] == {"latent_frames": 12, "first_image": 0} and count_frames(path) == 4 * 12 - 3
    data = open(path, "rb").read()
    assert fetch("/echo_stream/sessions/fv/video?run=" + end["run"]) == (200, data)
    assert fetch("/echo_stream/sessions/fv/video", {"Range": "bytes=100-199"}) == (206, data[100:200])


def test_a_video_started_by_a_continued_run_says_where_it_starts(comfy_dirs, model, sent):
    sample(model, script_of(("EchoSceneStart", 1, 1.5, {})), session="late")  # no vae: no video
    assert [r["video"] for r in runs(sent)] == [None, None]
    assert fetch("/echo_stream/sessions/late/video")[0] == 404
    sent.clear()
    call("EchoStreamingSampler", model=model, script=script_of(("EchoSceneStart", 1, 0.75, {})), seed=3,
         steps="1000, 750, 500, 250", session="late", mode="continue", unique_id="7", width=48, height=32,
         vae=WanVAEDecoder(TINY_VAE).eval())
    assert runs(sent)[-1]["video"] == {"latent_frames": 3, "first_image": 6}
