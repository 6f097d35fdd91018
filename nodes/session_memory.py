"""Sessions' memory as ComfyUI sees it: released when ComfyUI makes room, freed by a node.

Sessions hold their scene memory on the model's device between queue runs, outside ComfyUI's model
list. So that it is never stuck there: when ComfyUI frees memory on a device (before loading a
model, or when models are unloaded), idle sessions on that device are parked on the CPU first (they
come back when continued); at most ECHO_STREAM_LIVE_SESSIONS sessions stay live; and the Free Scene
Memory node forgets a session outright.
"""
from __future__ import annotations

import logging

from ..engine.errors import EchoError
from ..runtime.registry import SESSIONS, mib
from . import comfy
from .types import CATEGORY, SCENE_MEMORY, SceneMemoryHandle

log = logging.getLogger("echo_stream")


def release_for_comfy(needed, device) -> int:
    """ComfyUI's free_memory asks for `needed` bytes on `device` (None: all): park idle sessions there."""
    reason = "ComfyUI unloads models" if needed is None else f"ComfyUI needs {mib(needed)} on {device}"
    return SESSIONS.release(device, needed, reason)


def watch_sessions() -> None:
    """Called before sessions are made or continued (not at import: no side effect on a bare import)."""
    comfy.hook_free_memory(release_for_comfy)


class EchoFreeSceneMemory:
    DESCRIPTION = ("Frees a session: its scene memory, noise state and timeline leave memory (GPU and CPU) and "
                   "the bytes released are shown. Give the scene_memory from the sampler (it then runs after the "
                   "sampler), or a session name; '*' frees every session. Save Scene Memory first to keep it.")
    CATEGORY = CATEGORY
    FUNCTION = "free"
    OUTPUT_NODE = True
    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("bytes_freed",)
    OUTPUT_TOOLTIPS = ("Bytes of tensor memory released (all devices).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}, "optional": {
            "scene_memory": (SCENE_MEMORY, {"tooltip": "The session to free (from the sampler or Load Scene Memory)."}),
            "session": ("STRING", {"default": "", "tooltip": "Or a session name; '*' = every session. "
                                                             "Ignored when scene_memory is connected."}),
        }}

    @classmethod
    def IS_CHANGED(cls, **_):
        return float("nan")  # an action: it frees whenever it is queued

    def free(self, scene_memory: SceneMemoryHandle | None = None, session: str = ""):
        if scene_memory is not None:
            entry = SESSIONS.peek(scene_memory.session)
            if entry is None:
                return self._report([], f"session {scene_memory.session!r} is not in memory (already freed?); "
                                        f"nothing to free")
            if entry.id != scene_memory.session_id:  # never free another session that took the name
                SESSIONS.check(scene_memory.session, scene_memory.session_id, scene_memory.blocks, "Free Scene Memory")
            names = [scene_memory.session]
        else:
            name = (session or "").strip()
            if not name:
                raise EchoError("Free Scene Memory: connect a scene_memory or type a session name ('*' for all)")
            names = SESSIONS.names() if name == "*" else [name]
        freed = [f for f in (SESSIONS.free(n) for n in names) if f is not None]
        missing = [n for n in names if n not in {f.name for f in freed}]
        if freed:
            comfy.empty_device_cache()
        lines = [f.describe() for f in freed] + [f"no session named {n!r}" for n in missing]
        return self._report(freed, "; ".join(lines) or "no sessions to free")

    @staticmethod
    def _report(freed, text: str):
        return {"ui": {"text": [text]}, "result": (sum(f.total for f in freed),)}
