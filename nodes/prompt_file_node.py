"""Scene Script From Prompt File: a script of a community prompt set (LongLive/MemFlow interactive
benchmark .jsonl, Echo-Forcing's timeline .txt files) in ComfyUI's input folder."""
from __future__ import annotations

import hashlib
import os

from ..engine.errors import EchoError
from ..runtime.prompt_files import FORMATS, parse_switch_frames, read_prompt_file
from . import comfy
from .script_nodes import encode_scenes
from .types import CATEGORY, SCENE_SCRIPT

SUFFIXES = (".jsonl", ".txt")


def prompt_files() -> list[str]:
    """Prompt files under the input folder, as '/'-separated relative names."""
    root = comfy.input_directory()
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.lower().endswith(SUFFIXES) and not name.startswith("."):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(found)


def prompt_file_path(name: str) -> str:
    """The file's path inside the input folder; anything else (.., absolute, a link out) is refused."""
    root = os.path.realpath(comfy.input_directory())
    path = os.path.realpath(os.path.join(root, *str(name).replace("\\", "/").split("/")))
    if os.path.commonpath([root, path]) != root or not str(name).strip():
        raise EchoError(f"prompt file {name!r} is not inside ComfyUI's input folder")
    if not path.lower().endswith(SUFFIXES):
        raise EchoError(f"prompt file {name!r} must be a .jsonl or .txt file")
    if not os.path.isfile(path):
        raise EchoError(f"prompt file {name!r} is not in ComfyUI's input folder; put it there and press R")
    return path


class EchoSceneScriptFromPromptFile:
    DESCRIPTION = ("One script of a prompt set that papers report on, from a file in ComfyUI's input folder: "
                   "the LongLive / MemFlow interactive benchmark (.jsonl, one {\"prompts\": [...]} per line; "
                   "prompts switch smoothly at the latent-frame indices of switch_frames, by default every 40 "
                   "latent frames = 10 s) or Echo-Forcing's interactive sets (.txt, one timeline per line: "
                   "'scene [10s#] | scene [10s@] | scene [10s]'). Each prompt is encoded with the CLIP.")
    CATEGORY = CATEGORY
    FUNCTION = "build"
    RETURN_TYPES = (SCENE_SCRIPT, "INT")
    RETURN_NAMES = ("script", "scripts_in_file")
    OUTPUT_TOOLTIPS = ("The chosen script, each scene's prompt encoded.", "How many scripts the file holds.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "clip": ("CLIP", {"tooltip": "The umt5 text encoder (CLIPLoader, type wan)."}),
            "file": (prompt_files(), {"tooltip": "A .jsonl or .txt prompt file in ComfyUI's input folder."}),
            "index": ("INT", {"default": 0, "min": 0, "max": 1_000_000,
                              "tooltip": "Which script: 0-based among the file's non-empty lines."}),
            "format": (list(FORMATS), {"default": "auto", "tooltip": "auto: a line starting with '{' is the "
                                                                     "interactive .jsonl, else timelines."}),
        }, "optional": {
            "switch_frames": ("STRING", {"default": "", "tooltip": (
                "interactive .jsonl: latent frames where the next prompt begins, e.g. '40, 80, 120, 160, 200' "
                "(LongLive/MemFlow's config); empty = every 40 latent frames (10 s).")}),
            "total_frames": ("INT", {"default": 0, "min": 0, "max": 1_000_000, "tooltip": (
                "interactive .jsonl: latent frames of the whole video (240 in the benchmark); 0 = the last "
                "switch plus the first segment's length.")}),
            "default_seconds": ("FLOAT", {"default": 10.0, "min": 0.25, "max": 36000.0, "step": 0.25,
                                          "tooltip": "Timelines: duration of a scene written without [Ns]."}),
        }}

    @classmethod
    def IS_CHANGED(cls, file, **_):
        try:  # an edited file gives a new script
            with open(prompt_file_path(file), "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        except (OSError, EchoError):
            return ""

    def build(self, clip, file, index=0, format="auto", switch_frames="", total_frames=0, default_seconds=10.0):
        path = prompt_file_path(file)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            raise EchoError(f"prompt file {file!r} is not UTF-8 text") from None
        try:
            chosen = read_prompt_file(text, index=int(index), format=format,
                                      switch_frames=parse_switch_frames(switch_frames),
                                      total_frames=int(total_frames) or None, default_seconds=float(default_seconds))
        except EchoError as err:
            raise EchoError(f"prompt file {file!r}: {err}") from None
        return (encode_scenes(clip, chosen.scenes, "Scene Script From Prompt File"), chosen.count)
