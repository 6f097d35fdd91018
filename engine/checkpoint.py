"""Read Wan2.1 DiT weights from any of the public layouts into original Wan names.

Layouts: Self-Forcing / CausVid / LongLive training checkpoints (.pt with generator_ema /
generator / model, 'model.' prefix, FSDP fragments), original or ComfyUI safetensors (with or
without 'model.diffusion_model.'), diffusers safetensors (one file or a sharded folder).
Pickles are only opened with weights_only=True.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import torch

from .config import WanConfig
from .errors import CheckpointError
from .keymap import diffusers_to_original, looks_like_diffusers

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
CONTAINER_KEYS = ("generator_ema", "generator", "model", "state_dict", "module")
PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.")
DIFFUSERS_INDEX = "diffusion_pytorch_model.safetensors.index.json"
DIFFUSERS_SINGLE = "diffusion_pytorch_model.safetensors"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch colours parts of its messages


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        with open(path, "rb") as f:
            kind = _download_mistake(f.read(64))
        if kind is not None:
            raise CheckpointError(f"{path}: not a safetensors file: {kind}") from None
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt?): {err}") from None


ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive
PICKLE_PROTO = b"\x80"  # a binary pickle (protocol >= 2) starts with PROTO: torch's legacy format


def _download_mistake(head: bytes) -> str | None:
    """What stands in for the weights when a download or copy went wrong, judged by the first bytes."""
    if not head:
        return "the file is empty (0 bytes); download or copy it again"
    text = head.decode("utf-8", errors="replace").lstrip().lower()
    if text.startswith("version https://git-lfs"):
        return "a Git LFS pointer, not the weights; fetch the real file (git lfs pull) or download it again"
    if text.startswith(("<!doctype html", "<html")):
        return "a web page, not the weights (a failed or login-walled download?); download the file again"
    return None


def _not_a_checkpoint(head: bytes) -> str | None:
    """Why the file is no PyTorch checkpoint at all (judged by its first bytes), or None if it may be one."""
    if not head:
        return _download_mistake(head)
    if head.startswith(ZIP_MAGIC) or (head.startswith(PICKLE_PROTO) and len(head) > 1 and 2 <= head[1] <= 5):
        return None
    kind = _download_mistake(head) or ("neither torch.save's zip archive nor a pickle (a renamed text or other "
                                       "file?); give a .safetensors file or a .pt written by torch.save")
    return f"not a PyTorch checkpoint: {kind}"


def _foreign_object(err: Exception) -> str | None:
    """The Python object a weights-only load refused, named without torch's own advice.

    torch's message suggests re-running with weights_only=False; that would run arbitrary code from
    the file, so none of its text is passed on, only the refused global's name.
    """
    text = str(err)
    if "Weights only load failed" not in text:
        return None
    found = re.search(r"GLOBAL ([\w.]+)", text)
    return found.group(1) if found is not None and _may_exist(found.group(1)) else None


def _may_exist(name: str) -> bool:
    """False when `name` is cut short, or lies in a module already imported but is not there.

    (Nothing is imported to check: a module not loaded yet is taken to be what the file says.)
    """
    parts = name.split(".")
    if len(parts) < 2 or not parts[0] or not parts[-1]:
        return False  # GLOBAL is "module.name"; an empty part is a name cut off
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            target = module
            for attr in parts[cut:]:
                target = getattr(target, attr, None)
                if target is None:
                    return False
            return True
    return True


def _first_sentence(err: BaseException) -> str:
    if "Weights only load failed" in str(err):  # torch's advice that follows is not for our users
        return "its pickle data is damaged"
    text = ANSI.sub("", str(err)).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line.split(". ")[0].rstrip(".") or type(err).__name__


def _read_torch(path: Path) -> dict:
    with open(path, "rb") as f:
        head = f.read(64)
    reason = _not_a_checkpoint(head)
    if reason is not None:
        raise CheckpointError(f"{path}: {reason}")
    try:
        if head.startswith(ZIP_MAGIC):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return torch.load(path, map_location="cpu", weights_only=True)  # legacy format: no mmap
    except Exception as err:  # noqa: BLE001 - truncated files fail with many types (EOFError, struct.error, ...)
        foreign = _foreign_object(err)
        if foreign is not None:
            raise CheckpointError(
                f"{path}: refused to load: the file holds Python objects beyond tensors ({foreign}), and "
                f"checkpoints are only opened in weights-only mode, which runs no code from the file. Use a "
                f".safetensors version of these weights, or one saved as a plain dict of tensors"
            ) from None
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint (truncated or corrupt?): "
                              f"{_first_sentence(err)}") from None


def _read_diffusers_folder(folder: Path) -> dict:
    for base in (folder, folder / "transformer"):
        index = base / DIFFUSERS_INDEX
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (ValueError, KeyError) as err:
                raise CheckpointError(f"{index}: not a valid diffusers index ({err})") from None
            tensors = {}
            for shard in sorted(set(weight_map.values())):
                if not (base / shard).is_file():
                    raise CheckpointError(f"{folder}: shard '{shard}' named in {DIFFUSERS_INDEX} is missing")
                tensors.update(_read_safetensors(base / shard))
            return tensors
        if (base / DIFFUSERS_SINGLE).is_file():
            return _read_safetensors(base / DIFFUSERS_SINGLE)
    raise CheckpointError(
        f"{folder}: a folder must hold a diffusers transformer ({DIFFUSERS_INDEX} with its shards, "
        f"or {DIFFUSERS_SINGLE}), directly or under transformer/"
    )


def read_raw(path):
    """What the file holds (a dict, possibly nested), read without unpickling arbitrary objects."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_dir():
        data = _read_diffusers_folder(path)
    elif path.suffix == ".safetensors":
        data = _read_safetensors(path)
    elif path.suffix in TORCH_SUFFIXES:
        data = _read_torch(path)
    else:
        raise CheckpointError(
            f"{path}: unsupported file type '{path.suffix}'; expected .safetensors, "
            f"{'/'.join(TORCH_SUFFIXES)} or a diffusers folder"
        )
    return data


def read_tensors(path, prefer_ema: bool = True) -> dict:
    """Name -> tensor dict of the generator in a file or diffusers folder (containers unwrapped)."""
    return unwrap(read_raw(path), path, prefer_ema)


def unwrap(data, source, prefer_ema: bool = True) -> dict:
    """Pick the generator's state dict out of a training checkpoint; keep only tensors."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: holds a {type(data).__name__}, not a dict of tensors")
    order = CONTAINER_KEYS if prefer_ema else ("generator",) + tuple(k for k in CONTAINER_KEYS if k != "generator")
    if not prefer_ema and isinstance(data.get("generator_ema"), dict) and not isinstance(data.get("generator"), dict):
        raise CheckpointError(f"{source}: the non-EMA weights ('generator') were asked for, but the file holds "
                              f"only 'generator_ema'; load it with the EMA weights")
    for key in order:
        if isinstance(data.get(key), dict):
            return unwrap(data[key], source, prefer_ema)
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def strip_prefix(key: str) -> str:
    key = key.replace("_fsdp_wrapped_module.", "")
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def to_original_names(tensors: dict) -> dict:
    """Strip training/ComfyUI prefixes and map diffusers names back to original Wan names."""
    sd = {strip_prefix(k): v for k, v in tensors.items()}
    if looks_like_diffusers(sd):
        sd = {diffusers_to_original(k) or k: v for k, v in sd.items()}
    return sd


def _preview(keys, n: int = 6) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def expected_shapes(cfg: WanConfig) -> dict[str, tuple]:
    from .modules import WanDiT

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in WanDiT(cfg).state_dict().items()}


def check_wan_state_dict(sd: dict, source, num_heads: int | None = None) -> WanConfig:
    """Validate an original-name state dict; return its config or raise naming what differs."""
    if "patch_embedding.weight" not in sd or not any(k.startswith("blocks.") for k in sd):
        raise CheckpointError(
            f"{source}: not a Wan2.1 DiT: expected tensors such as 'patch_embedding.weight' and "
            f"'blocks.0.self_attn.q.weight', found {len(sd)} tensors like {_preview(sd, 4) or 'nothing'}"
        )
    cfg = WanConfig.from_state_dict(sd, num_heads=num_heads, source=str(source))
    expected = expected_shapes(cfg)
    missing = set(expected) - set(sd)
    unexpected = set(sd) - set(expected)
    wrong = {k for k in set(expected) & set(sd) if tuple(sd[k].shape) != expected[k]}
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_preview(unexpected)}")
        if wrong:
            parts.append("wrong shapes: " + ", ".join(
                f"{k} {tuple(sd[k].shape)} (expected {expected[k]})" for k in sorted(wrong)[:4]))
        hint = ""
        if any("img_emb" in k or "k_img" in k for k in unexpected):
            hint = " This looks like an image-to-video model; load a text-to-video causal Wan."
        raise CheckpointError(
            f"{source}: does not match a Wan2.1 text-to-video DiT with {cfg.num_layers} layers and hidden size "
            f"{cfg.dim} ({len(expected)} tensors expected): " + "; ".join(parts) + "." + hint
        )
    return cfg
