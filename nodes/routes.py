"""The pack's HTTP routes on ComfyUI's server (`/echo_stream/...`): steer a live run, export a timeline.

    GET    /echo_stream/live                      the sessions with a live run now
    GET    /echo_stream/live/{session}            a session's live state: timeline, queue, applied commands,
                                                   rewind points (running false when no live run)
    POST   /echo_stream/live/{session}/prompt     {text, transition, label?, target?}  -> 202, queued
    POST   /echo_stream/live/{session}/rewind     {scene}                              -> 202, queued
    POST   /echo_stream/live/{session}/stop       end the run at the next block boundary, keeping it
    DELETE /echo_stream/live/{session}/queue      drop the waiting commands
    GET    /echo_stream/sessions/{session}/script the session's timeline as Scene Script text
    GET    /echo_stream/sessions/{session}/video  the session's whole video file (MP4, Range requests for seeking)

Routes act only on sessions of this server's registry: an unknown name is 404, a session without a
live run is 409, a bad body is 400; every error is JSON {"error": message}. Nothing a client sends is
used as a path: the video route finds the file name in the session's own decode state and serves it
from the pack's video folder only. aiohttp is imported only when the routes are built (ComfyUI ships it).
"""
from __future__ import annotations

import json
import logging
import pathlib
import sys
from typing import Callable

from ..engine.errors import EchoError
from ..runtime.registry import SESSIONS, Parked, SessionRegistry
from ..runtime.rewind import REWIND, RewindStore
from ..runtime.steering import LIVE, BadCommand, Command, LiveChannels, NotRunning, parse_prompt, parse_rewind
from ..runtime.timeline_export import export_timeline

log = logging.getLogger("echo_stream")
MAX_BODY = 16 * 1024
MAX_NAME = 200
PREFIX = "/echo_stream"


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _timeline(entry) -> list[dict]:
    if isinstance(entry, Parked):
        return list(entry.state.meta["session"]["scenes"])
    return entry.timeline()


def session_video_name(entry) -> str | None:
    """The bare file name of a session's video (live or parked), or None when it decodes no video."""
    if entry is None:
        return None
    if isinstance(entry, Parked):
        decode = entry.state.meta["session"].get("video_decode")
        return decode.get("video") if isinstance(decode, dict) else None
    decode = getattr(entry, "video_decode", None)
    return None if decode is None else decode.video_name


def video_file(folder: str | pathlib.Path, name: str | None) -> pathlib.Path | None:
    """`folder/name` when `name` is a plain file name of a file that exists there, else None."""
    if not isinstance(name, str) or not name or pathlib.PurePath(name).name != name or name.startswith("."):
        return None
    base = pathlib.Path(folder).resolve()
    path = (base / name).resolve()
    return path if path.parent == base and path.is_file() else None


def _default_video_folder() -> str:
    from .stream_video import video_folder
    return video_folder()


def route_table(sessions: SessionRegistry = SESSIONS, live: LiveChannels = LIVE, rewind: RewindStore = REWIND,
                video_folder: Callable[[], str] = _default_video_folder):
    """(method, path, handler) of every route, bound to these registries and the session videos'
    folder (tests pass their own)."""
    from aiohttp import web

    def reply(handler):
        async def wrapped(request):
            try:
                status, data = await handler(request)
            except HttpError as err:
                status, data = err.status, {"error": str(err)}
            except BadCommand as err:
                status, data = 400, {"error": str(err)}
            except NotRunning as err:
                status, data = 409, {"error": str(err)}
            return web.json_response(data, status=status)
        return wrapped

    def session_name(request) -> str:
        name = request.match_info.get("session", "")
        if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise HttpError(400, f"session names are at most {MAX_NAME} printable characters")
        if sessions.peek(name) is None and live.get(name) is None:
            known = ", ".join(sessions.names()) or "none"
            raise HttpError(404, f"no session named {name!r} on this server (sessions: {known})")
        return name

    def channel_of(name: str):
        channel = live.get(name)
        if channel is None or not channel.running:
            raise NotRunning(f"session {name!r} has no live run; queue the Streaming Sampler with live on to steer it")
        return channel

    async def body_of(request) -> object:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise BadCommand(f"the body is {request.content_length} bytes; at most {MAX_BODY}")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise BadCommand(f"the body is over {MAX_BODY} bytes")
        try:
            return json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadCommand(f"the body is not JSON ({err})") from None

    async def list_live(request):
        return 200, {"sessions": live.names()}

    async def status(request):
        name = session_name(request)
        channel = live.get(name)
        if channel is not None:
            return 200, channel.status()
        entry = sessions.peek(name)
        points = rewind.peek(name)
        return 200, {"session": name, "running": False, "scenes": _timeline(entry), "pending": [], "applied": [],
                     "blocks": entry.blocks_done,
                     "snapshots": points.describe() if points is not None and points.session_id == entry.id else []}

    def submit(parse):
        async def handler(request):
            name = session_name(request)
            command = parse(await body_of(request))
            queued = channel_of(name).submit(command)
            log.info("echo_stream: live %s command %s for session %r queued", queued.kind, queued.id, name)
            return 202, {"queued": queued.to_json()}
        return handler

    async def rewind_to(request):
        name = session_name(request)
        command = parse_rewind(await body_of(request))
        channel = channel_of(name)
        points = rewind.peek(name)
        kept = [p["scene"] for p in points.describe()] if points is not None else []
        if command.target not in kept:
            raise NotRunning(f"session {name!r} has no rewind point for scene {command.target} (kept: "
                             f"{', '.join(map(str, kept)) or 'none'})")
        queued = channel.submit(command)
        return 202, {"queued": queued.to_json()}

    async def clear(request):
        return 200, {"cleared": channel_of(session_name(request)).clear()}

    async def script(request):
        name = session_name(request)
        channel = live.get(name)
        entry = sessions.peek(name)
        scenes = channel.scenes if channel is not None and entry is None else _timeline(entry)
        fpb = entry.spec.frames_per_block if entry is not None else 3
        note = f"seed {entry.spec.seed}" if entry is not None else None
        try:
            return 200, {"session": name, "script": export_timeline(scenes, fpb, note)}
        except EchoError as err:
            raise HttpError(409, str(err)) from None

    async def video(request):
        """The session's video as a file response: aiohttp answers Range requests, so a player seeks."""
        try:
            name = session_name(request)
            path = video_file(video_folder(), session_video_name(sessions.peek(name)))
            if path is None:
                raise HttpError(404, f"session {name!r} has no video yet; connect a vae to the Streaming Sampler "
                                     "to decode its blocks to a video")
        except HttpError as err:
            return web.json_response({"error": str(err)}, status=err.status)
        return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-cache"})

    def stop_parse(body):
        if body not in ({}, None):
            raise BadCommand("stop takes no body")
        return Command("stop")

    return [
        ("GET", f"{PREFIX}/live", reply(list_live)),
        ("GET", f"{PREFIX}/live/{{session}}", reply(status)),
        ("POST", f"{PREFIX}/live/{{session}}/prompt", reply(submit(parse_prompt))),
        ("POST", f"{PREFIX}/live/{{session}}/rewind", reply(rewind_to)),
        ("POST", f"{PREFIX}/live/{{session}}/stop", reply(submit(stop_parse))),
        ("DELETE", f"{PREFIX}/live/{{session}}/queue", reply(clear)),
        ("GET", f"{PREFIX}/sessions/{{session}}/script", reply(script)),
        ("GET", f"{PREFIX}/sessions/{{session}}/video", video),
    ]


def register_routes() -> bool:
    """Add the routes to ComfyUI's server (once); False outside ComfyUI.

    Only a server ComfyUI has already started is used: importing `server` here would pull in all of
    ComfyUI wherever the pack is merely imported (a script, a test) with ComfyUI on the path."""
    server = sys.modules.get("server")
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    routes = getattr(instance, "routes", None)
    if routes is None or getattr(instance, "_echo_stream_routes", False):
        return routes is not None
    for method, path, handler in route_table():
        routes.route(method, path)(handler)
    instance._echo_stream_routes = True
    return True
