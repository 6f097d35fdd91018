"""File names a node writes or reads: always inside ComfyUI's output folder."""
from __future__ import annotations

import os
import re

from ..engine.errors import EchoError

SAFE = re.compile(r"[^A-Za-z0-9._ -]+")
SUFFIX = ".safetensors"


def safe_name(name: str, fallback: str = "session") -> str:
    """One path component: no separators, no leading dots, nothing outside [A-Za-z0-9._ -]."""
    cleaned = SAFE.sub("_", str(name)).strip(" .")
    return cleaned[:120] or fallback


def state_path(folder: str, name: str) -> str:
    """<folder>/<name>.safetensors for a user-typed name; sub-folders are allowed, escaping is not."""
    parts = [p for p in re.split(r"[\\/]+", str(name).strip()) if p not in ("", ".")]
    if not parts:
        raise EchoError("give the scene memory file a name, e.g. 'echo_stream/my_session'")
    if any(p == ".." for p in parts):
        raise EchoError(f"file name {name!r} may not contain '..'; it must stay inside the output folder")
    parts = [safe_name(p) for p in parts]
    if not parts[-1].endswith(SUFFIX):
        parts[-1] += SUFFIX
    root = os.path.realpath(folder)
    path = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, path]) != root:  # e.g. a symlinked sub-folder pointing elsewhere
        raise EchoError(f"file name {name!r} resolves outside the output folder")
    return path


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
