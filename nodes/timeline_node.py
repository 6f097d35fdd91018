"""Export Session Script: a session's timeline as Scene Script text, to replay it exactly."""
from __future__ import annotations

import os

from ..runtime.registry import SESSIONS, Parked
from ..runtime.timeline_export import export_timeline
from . import comfy
from .files import safe_name
from .types import CATEGORY, SCENE_MEMORY, SceneMemoryHandle


class EchoExportSessionScript:
    DESCRIPTION = ("Writes the session's timeline (e.g. a live run's, with the prompts typed and the transitions "
                   "as they happened) as Scene Script text with block-exact durations. Scene Script From Text "
                   "reads it: a new session with the same seed, steps and model replays the same latents. The text "
                   "is also saved to output/echo_stream/<session>_script.txt.")
    SEARCH_ALIASES = ["export timeline", "replay live session", "save script", "live steering script"]
    CATEGORY = CATEGORY
    FUNCTION = "export"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("timeline",)
    OUTPUT_TOOLTIPS = ("The timeline text, for Scene Script From Text.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"scene_memory": (SCENE_MEMORY, {"tooltip": "The Streaming Sampler's scene_memory."})},
                "optional": {"save_file": ("BOOLEAN", {"default": True, "tooltip": "Also write it to "
                                                       "output/echo_stream/<session>_script.txt."})}}

    @classmethod
    def IS_CHANGED(cls, **_):
        return float("nan")  # the session may have moved on (a live run, a rewind)

    def export(self, scene_memory: SceneMemoryHandle, save_file=True):
        entry = SESSIONS.check(scene_memory.session, scene_memory.session_id, scene_memory.blocks,
                               "Export Session Script")
        scenes = list(entry.state.meta["session"]["scenes"]) if isinstance(entry, Parked) else entry.timeline()
        text = export_timeline(scenes, entry.spec.frames_per_block, note=f"seed {entry.spec.seed}")
        shown = [text]
        if save_file:
            folder = os.path.join(comfy.output_directory(), "echo_stream")
            os.makedirs(folder, exist_ok=True)
            name = f"{safe_name(scene_memory.session)}_script.txt"
            tmp = os.path.join(folder, name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, os.path.join(folder, name))
            shown.append(f"saved to output/echo_stream/{name}")
        return {"ui": {"text": shown}, "result": (text,)}
