"""GET /echo_stream/sessions/{session}/video: the session's whole video file for the widget's Final view,
served by aiohttp's test server (no ComfyUI). The file is found from the session's own decode state."""
import asyncio
import json
import os

import pytest

import aiohttp  # noqa: E402,F401  (test extra: a missing one fails, never skips)
from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from echo_stream.nodes.routes import route_table, video_file  # noqa: E402
from echo_stream.runtime.registry import SessionRegistry  # noqa: E402
from echo_stream.runtime.rewind import RewindStore  # noqa: E402
from echo_stream.runtime.steering import LiveChannels  # noqa: E402
from echo_stream.runtime.stream_decode import SessionDecode  # noqa: E402
from steer_helpers import new_session  # noqa: E402


def serve(test, sessions, folder):
    async def main():
        app = web.Application()
        for method, path, handler in route_table(sessions, LiveChannels(), RewindStore(), video_folder=lambda: str(folder)):
            app.router.add_route(method, path, handler)
        async with TestClient(TestServer(app)) as client:
            return await test(client)
    return asyncio.run(main())


@pytest.fixture
def with_video(tmp_path):
    folder = tmp_path / "echo_stream"
    folder.mkdir()
    data = os.urandom(50_000)
    (folder / "cam_20261129.mp4").write_bytes(data)
    sessions = SessionRegistry(live_cap=4)
    session = sessions.put(new_session("cam"))
    session.video_decode = SessionDecode("cam_20261129.mp4")
    sessions.put(new_session("novideo"))
    return sessions, folder, data


def get(sessions, folder, path, headers=None):
    async def test(client):
        response = await client.get(path, headers=headers or {})
        body = await response.read()
        return response.status, dict(response.headers), body
    return serve(test, sessions, folder)


def test_serves_the_sessions_whole_video(with_video):
    sessions, folder, data = with_video
    status, headers, body = get(sessions, folder, "/echo_stream/sessions/cam/video?run=abc")
    assert status == 200 and body == data
    assert headers["Content-Type"] == "video/mp4" and headers.get("Accept-Ranges") == "bytes"


def test_range_requests_seek_into_the_file(with_video):
    sessions, folder, data = with_video
    status, headers, body = get(sessions, folder, "/echo_stream/sessions/cam/video", {"Range": "bytes=1000-1999"})
    assert status == 206 and body == data[1000:2000]
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    status, _, body = get(sessions, folder, "/echo_stream/sessions/cam/video", {"Range": "bytes=-10"})
    assert status == 206 and body == data[-10:]


def test_a_parked_session_still_serves_its_video(with_video):
    sessions, folder, data = with_video
    sessions.park("cam", "test")
    status, _, body = get(sessions, folder, "/echo_stream/sessions/cam/video")
    assert status == 200 and body == data


@pytest.mark.parametrize("path,status,message", [
    ("/echo_stream/sessions/nobody/video", 404, "no session named 'nobody'"),
    ("/echo_stream/sessions/novideo/video", 404, "has no video yet"),
    ("/echo_stream/sessions/..%2Fcam/video", 404, "no session named '../cam'"),
    ("/echo_stream/sessions/%2E%2E/video", 404, None),  # the URL normalises to /echo_stream/video: no route
    ("/echo_stream/sessions/cam_20261129.mp4/video", 404, "no session named"),
])
def test_unknown_sessions_and_path_like_names_are_refused(with_video, path, status, message):
    sessions, folder, _ = with_video
    got, headers, body = get(sessions, folder, path)
    assert got == status
    if message is not None:
        assert headers["Content-Type"].startswith("application/json") and message in json.loads(body)["error"]


def test_a_missing_file_is_404_not_an_error(with_video):
    sessions, folder, _ = with_video
    (folder / "cam_20261129.mp4").unlink()
    status, _, body = get(sessions, folder, "/echo_stream/sessions/cam/video")
    assert status == 404 and b"has no video yet" in body


def test_only_plain_names_inside_the_folder_reach_the_filesystem(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"x")
    (folder / "ok.mp4").write_bytes(b"y")
    os.symlink(tmp_path / "secret.mp4", folder / "link.mp4")
    assert video_file(folder, "ok.mp4") == (folder / "ok.mp4").resolve()
    for name in ["../secret.mp4", str(tmp_path / "secret.mp4"), ".hidden", "", None, "link.mp4", "sub/ok.mp4"]:
        assert video_file(folder, name) is None, name
