"""The live-steering HTTP routes, served by aiohttp's test server (no ComfyUI): validation, status
codes with their messages, and a live run steered and exported over HTTP."""
import asyncio
import threading

import pytest
import torch

import aiohttp  # noqa: E402,F401  (test extra: a missing one fails, never skips)
from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from echo_stream.nodes.routes import route_table  # noqa: E402
from echo_stream.nodes.script_nodes import encode_scenes  # noqa: E402
from echo_stream.runtime.live import run_live  # noqa: E402
from echo_stream.runtime.registry import SessionRegistry  # noqa: E402
from echo_stream.runtime.rewind import RewindStore  # noqa: E402
from echo_stream.runtime.steering import LiveChannel, LiveChannels  # noqa: E402
from echo_stream.runtime.timeline_text import parse_timeline  # noqa: E402
from steer_helpers import FakeClip, encode, new_session, opening  # noqa: E402


def serve(test, sessions, live, rewind=None):
    """Run `test(client)` against an app holding the routes bound to these registries."""
    async def main():
        app = web.Application()
        for method, path, handler in route_table(sessions, live, rewind or RewindStore()):
            app.router.add_route(method, path, handler)
        async with TestClient(TestServer(app)) as client:
            return await test(client)
    return asyncio.run(main())


def registries(running=True):
    sessions, live = SessionRegistry(live_cap=4), LiveChannels()
    session = sessions.put(new_session("cam"))
    channel = LiveChannel("cam")
    if running:
        live._channels["cam"] = channel
    return sessions, live, channel, session


BAD = [
    ({"text": ""}, "text must be a non-empty string"),
    ({"text": "x" * 2001}, "at most 2000"),
    ({"text": "a | b"}, "reserves"),
    ({"text": "a beach", "transition": "teleport"}, "unknown transition 'teleport'; use one of smooth, cut"),
    ({"text": "a beach", "path": "../../etc/passwd"}, "unknown field(s) 'path'"),
    ({"text": "a beach", "label": "../up"}, "label must be 1-64 letters"),
    ({"text": "a beach", "transition": "cut", "target": "dawn"}, "needs transition 'recall'"),
    (["not", "an", "object"], "must be a JSON object"),
]


@pytest.mark.parametrize("body,message", BAD)
def test_steer_bad_prompt_bodies_get_400_naming_the_problem(body, message):
    sessions, live, channel, _ = registries()

    async def test(client):
        response = await client.post("/echo_stream/live/cam/prompt", json=body)
        return response.status, await response.json()
    status, data = serve(test, sessions, live)
    assert status == 400 and message in data["error"]
    assert channel.pending() == []


def test_steer_routes_refuse_unknown_sessions_idle_sessions_and_broken_json():
    sessions, live, _, _ = registries(running=False)

    async def test(client):
        out = []
        for method, path, kwargs in [
            ("POST", "/echo_stream/live/nobody/prompt", {"json": {"text": "a"}}),
            ("POST", "/echo_stream/live/cam/prompt", {"json": {"text": "a"}}),
            ("POST", "/echo_stream/live/cam/stop", {}),
            ("POST", "/echo_stream/live/cam/rewind", {"json": {"scene": -1}}),
            ("POST", "/echo_stream/live/cam/prompt", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
            ("POST", "/echo_stream/live/cam/prompt", {"data": b"x" * 20000}),
            ("GET", "/echo_stream/live/cam", {}),
            ("GET", "/echo_stream/sessions/cam/script", {}),
        ]:
            response = await client.request(method, path, **kwargs)
            out.append((response.status, await response.json()))
        return out
    got = serve(test, sessions, live)
    assert got[0][0] == 404 and "no session named 'nobody'" in got[0][1]["error"]
    assert got[1][0] == 409 and "has no live run" in got[1][1]["error"]
    assert got[2][0] == 409
    assert got[3][0] == 400 and "scene must be a scene index" in got[3][1]["error"]
    assert got[4][0] == 400 and "not JSON" in got[4][1]["error"]
    assert got[5][0] == 400 and "at most 16384" in got[5][1]["error"]
    assert got[6] == (200, {"session": "cam", "running": False, "scenes": [], "pending": [], "applied": [],
                            "blocks": 0, "snapshots": []})
    assert got[7][0] == 409 and "no blocks yet" in got[7][1]["error"]


def test_steer_routes_queue_commands_and_clear_them():
    sessions, live, channel, _ = registries()

    async def test(client):
        a = await client.post("/echo_stream/live/cam/prompt", json={"text": "a beach", "transition": "cut",
                                                                     "label": "beach"})
        b = await client.post("/echo_stream/live/cam/prompt", json={"text": "back", "transition": "recall",
                                                                     "target": "0"})
        status = await (await client.get("/echo_stream/live/cam")).json()
        cleared = await (await client.delete("/echo_stream/live/cam/queue")).json()
        return a.status, b.status, status, cleared
    a, b, status, cleared = serve(test, sessions, live)
    assert (a, b) == (202, 202) and cleared == {"cleared": 2} and channel.pending() == []
    assert [(c["text"], c["transition"], c["label"], c["target"]) for c in status["pending"]] == [
        ("a beach", "cut", "beach", None), ("back", "recall", None, 0)]


def test_live_run_steered_over_http_stops_and_its_exported_script_replays():
    sessions, live, channel, session = registries()
    blocks_seen = threading.Semaphore(0)
    go_on = threading.Event()

    def on_block(report):
        blocks_seen.release()
        assert go_on.wait(120), "the client never let the run go on"  # one block at a time, paced by the client
        go_on.clear()

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("run", run_live(
        session, opening(), channel, encode, max_blocks=30, on_block=on_block)))
    worker.start()

    async def blocks(n):
        """Let the run make n blocks; it then waits in on_block (at a boundary) until `go_on`."""
        for i in range(n):
            if i:
                go_on.set()
            assert await asyncio.to_thread(blocks_seen.acquire, True, 120), "the run made no block in 120 s"

    async def test(client):
        await blocks(3)
        first = await client.post("/echo_stream/live/cam/prompt", json={"text": "a city at night", "transition": "cut"})
        go_on.set()
        await blocks(2)
        second = await client.post("/echo_stream/live/cam/prompt", json={"text": "dawn again", "transition": "recall",
                                                                          "target": 0})
        go_on.set()
        await blocks(2)
        stop = await client.post("/echo_stream/live/cam/stop")
        go_on.set()
        await asyncio.to_thread(worker.join, 120)
        script = await client.get("/echo_stream/sessions/cam/script")
        return [first.status, second.status, stop.status], await script.json()
    statuses, script = serve(test, sessions, live)
    assert statuses == [202, 202, 202] and not worker.is_alive()
    run = result["run"]
    assert not run.interrupted
    kinds = [(a["kind"], a["latency_blocks"]) for a in channel.status()["applied"]]
    assert kinds == [("prompt", 0), ("prompt", 0), ("stop", 0)]
    text = script["script"]
    assert " | a city at night [" in text and "@0] | dawn again [" in text
    replay = new_session("replay").run(encode_scenes(FakeClip(), parse_timeline(text), "test"))
    assert torch.equal(replay.latents, run.latents)
