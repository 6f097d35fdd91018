"""The one place that touches ComfyUI, imported lazily so the pack loads (and is tested) without it.

Each helper degrades to a documented plain behaviour when ComfyUI is absent: no progress bar, no
websocket, the system temp folder, no memory reservation.
"""
from __future__ import annotations

import importlib
import os
import tempfile


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def folder_paths():
    return _module("folder_paths")


def file_list(folder: str) -> list[str]:
    fp = folder_paths()
    return sorted(fp.get_filename_list(folder)) if fp is not None else []


def full_path(folder: str, name: str) -> str:
    """A model file's path from ComfyUI's folder registry (or the name itself outside ComfyUI)."""
    fp = folder_paths()
    if fp is None:
        return name
    path = fp.get_full_path(folder, name)
    if path is None:
        raise FileNotFoundError(f"{name!r} is not in ComfyUI's {folder} folders; put it in models/{folder} "
                                f"and press R to refresh the node lists")
    return path


def output_directory() -> str:
    fp = folder_paths()
    return fp.get_output_directory() if fp is not None else os.path.join(tempfile.gettempdir(), "echo_stream_output")


def temp_directory() -> str:
    fp = folder_paths()
    return fp.get_temp_directory() if fp is not None else os.path.join(tempfile.gettempdir(), "echo_stream_temp")


def model_management():
    return _module("comfy.model_management")


def torch_device():
    mm = model_management()
    if mm is not None:
        return mm.get_torch_device()
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def interrupted() -> bool:
    """Peek at ComfyUI's interrupt flag (the Cancel button) without clearing it."""
    mm = model_management()
    return bool(mm is not None and mm.processing_interrupted())


def interrupt_type() -> type[BaseException] | None:
    """ComfyUI's Cancel exception, or None without ComfyUI.

    It derives from BaseException since ComfyUI 0.20 (from Exception before), so `except Exception`
    does not see it; callers test for it with `is_interrupt`.
    """
    return getattr(model_management(), "InterruptProcessingException", None)


def is_interrupt(err: BaseException) -> bool:
    kind = interrupt_type()
    return kind is not None and isinstance(err, kind)


def raise_if_interrupted() -> None:
    mm = model_management()
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()


def reserve(memory_bytes: int, device, patcher=None) -> None:
    """Make room for the KV cache (invisible to ComfyUI's accounting) and load the model's weights."""
    mm = model_management()
    if mm is None:
        return
    if patcher is not None:
        mm.load_models_gpu([patcher], memory_required=memory_bytes)
    else:
        mm.free_memory(memory_bytes, device)


HUGE = 1e29  # ComfyUI asks free_memory for 1e30 bytes when it unloads everything


def hook_free_memory(release) -> bool:
    """Have `release(needed_bytes or None, device)` called before each of ComfyUI's free_memory calls.

    free_memory is where ComfyUI makes room: load_models_gpu calls it before loading weights and
    unload_all_models (the "Unload models" button, /free) calls it with 1e30 bytes. `needed` is what
    the call asks for beyond the free memory (None: everything). Installed once per process; False
    outside ComfyUI.
    """
    mm = model_management()
    if mm is None:
        return False
    original = mm.free_memory
    if getattr(original, "_echo_stream_hook", False):
        return True

    def free_memory(memory_required, device, *args, **kwargs):
        # device None frees nothing in ComfyUI's smart-memory mode; we follow it
        needed = None if memory_required >= HUGE else memory_required - mm.get_free_memory(device)
        if device is not None and (needed is None or needed > 0):
            if release(needed, device):
                mm.soft_empty_cache()  # hand the released blocks back so ComfyUI's count sees them
        return original(memory_required, device, *args, **kwargs)

    free_memory._echo_stream_hook = True
    free_memory.__wrapped__ = original
    mm.free_memory = free_memory
    return True


def empty_device_cache() -> None:
    mm = model_management()
    if mm is not None:
        mm.soft_empty_cache()


def progress_bar(total: int, node_id: str | None):
    utils = _module("comfy.utils")
    if utils is None:
        return None
    return utils.ProgressBar(total, node_id=node_id) if node_id is not None else utils.ProgressBar(total)


def send_event(event: str, data) -> bool:
    """A custom websocket event to the client that queued the prompt; False without a server.

    `data` may be a function making the payload, so previews are only encoded when someone listens.
    """
    server = _module("server")
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None:
        return False
    instance.send_sync(event, data() if callable(data) else data, instance.client_id)
    return True


def wan_rgb_factors():
    """ComfyUI's Wan2.1 latent-to-RGB factors and bias, or None (then previews use our fixed map)."""
    formats = _module("comfy.latent_formats")
    wan = getattr(formats, "Wan21", None)
    if wan is None:
        return None
    fmt = wan()
    factors = getattr(fmt, "latent_rgb_factors", None)
    if factors is None:
        return None
    return factors, getattr(fmt, "latent_rgb_factors_bias", None)


def to_vae_latents(latents):
    """The model's normalised latents -> the VAE's raw latent space that ComfyUI's LATENT holds.

    ComfyUI samplers apply Wan21.process_out to what the model makes; VAE Decode expects that.
    Without ComfyUI the latents are returned unchanged (there is no VAE to decode them here).
    """
    formats = _module("comfy.latent_formats")
    wan = getattr(formats, "Wan21", None)
    return wan().process_out(latents) if wan is not None else latents


def from_vae_latents(latents):
    formats = _module("comfy.latent_formats")
    wan = getattr(formats, "Wan21", None)
    return wan().process_in(latents) if wan is not None else latents
