"""Save Scene Memory / Load Scene Memory: a session to a file in output/echo_stream and back."""
from __future__ import annotations

import os

from ..runtime.registry import SESSIONS, Parked
from ..runtime.state_file import load_session, save_session, save_state
from . import comfy
from .files import SUFFIX, plural, state_path
from .session_memory import watch_sessions
from .types import CATEGORY, ECHO_MODEL, SCENE_MEMORY, EchoModel, SceneMemoryHandle

SUBFOLDER = "echo_stream"


def state_folder() -> str:
    return os.path.join(comfy.output_directory(), SUBFOLDER)


def saved_states() -> list[str]:
    root = state_folder()
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, f), root).replace(os.sep, "/") for f in files if f.endswith(SUFFIX)]
    return sorted(found)


class EchoSaveSceneMemory:
    DESCRIPTION = ("Saves a session (scene memory, noise state, timeline, current prompt) to "
                   "output/echo_stream/<name>.safetensors, written atomically. Load Scene Memory continues it "
                   "later, even after a restart.")
    CATEGORY = CATEGORY
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = (SCENE_MEMORY,)
    RETURN_NAMES = ("scene_memory",)
    OUTPUT_TOOLTIPS = ("The same session, passed through.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "scene_memory": (SCENE_MEMORY, {"tooltip": "From the Streaming Sampler."}),
            "filename": ("STRING", {"default": "session", "tooltip": "File name inside output/echo_stream; "
                                                                     "sub-folders allowed, '..' is not."}),
        }}

    def save(self, scene_memory: SceneMemoryHandle, filename):
        entry = SESSIONS.check(scene_memory.session, scene_memory.session_id, scene_memory.blocks, "Save Scene Memory")
        target = state_path(state_folder(), filename)
        # a parked session is saved from its snapshot on the CPU, without coming back to the device
        path = save_state(entry.state, target) if isinstance(entry, Parked) else save_session(entry, target)
        where = os.path.relpath(path, os.path.realpath(comfy.output_directory()))
        text = f"saved {plural(entry.blocks_done, 'block')} of {entry.name!r} to {where}"
        return {"ui": {"text": [text]}, "result": (scene_memory,)}


class EchoLoadSceneMemory:
    DESCRIPTION = ("Loads a saved session from output/echo_stream into memory, checking that it fits the "
                   "model. Connect it to the Streaming Sampler's scene_memory input to continue the video. It "
                   "loads the file again on every Queue, so each run continues from the saved point.")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (SCENE_MEMORY,)
    RETURN_NAMES = ("scene_memory",)
    OUTPUT_TOOLTIPS = ("The loaded session, for the Streaming Sampler.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (ECHO_MODEL, {"tooltip": "The model the session was made with."}),
            "file": (saved_states(), {"tooltip": "A file saved by Save Scene Memory (in output/echo_stream)."}),
        }, "optional": {
            "session": ("STRING", {"default": "", "tooltip": "Name to load it under; empty = the saved name."}),
        }}

    @classmethod
    def IS_CHANGED(cls, **_):
        # loaded again on every Queue: a sampler continuing from it moves the session on, and the next
        # run must start from the file again, not from where that run left the session
        return float("nan")

    @classmethod
    def VALIDATE_INPUTS(cls, file, **_):
        return True if os.path.isfile(state_path(state_folder(), file)) else f"no saved scene memory named {file!r}"

    def load(self, model: EchoModel, file, session=""):
        path = state_path(state_folder(), file)
        watch_sessions()
        loaded = load_session(path, model.causal, (session or "").strip() or None, model.frames_per_block, model.name)
        SESSIONS.put(loaded)
        return (SceneMemoryHandle(loaded.name, loaded.blocks_done, loaded.id),)
