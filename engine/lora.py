"""Merge a LoRA (LongLive's PEFT lora_A/lora_B, or lora_down/lora_up with alpha) into Wan weights."""
from __future__ import annotations

import torch

from .checkpoint import read_raw, strip_prefix, unwrap
from .errors import CheckpointError
from .keymap import diffusers_to_original

PAIRS = ((".lora_A.weight", ".lora_B.weight"), (".lora_down.weight", ".lora_up.weight"))
CONTAINERS = ("generator_lora", "lora")


def _target(stem: str, weights: dict) -> str:
    stem = strip_prefix(stem.removeprefix("base_model.model."))
    name = stem + ".weight"
    if name not in weights:
        name = diffusers_to_original(name) or name
    return name


def lora_pairs(lora: dict, source) -> dict[str, tuple[torch.Tensor, torch.Tensor, float | None]]:
    """{stem: (down A [r, in], up B [out, r], alpha or None)}."""
    pairs = {}
    for key in lora:
        for down_suffix, up_suffix in PAIRS:
            if key.endswith(down_suffix):
                stem = key[: -len(down_suffix)]
                up = stem + up_suffix
                if up not in lora:
                    raise CheckpointError(f"{source}: LoRA tensor '{key}' has no partner '{up}'")
                alpha = lora.get(stem + ".alpha")
                pairs[stem] = (lora[key], lora[up], None if alpha is None else float(alpha))
    if not pairs:
        raise CheckpointError(
            f"{source}: no LoRA tensors found (expected keys ending in .lora_A.weight/.lora_B.weight "
            f"or .lora_down.weight/.lora_up.weight)"
        )
    return pairs


def merge_lora(weights: dict, lora_path, strength: float = 1.0, alpha: float | None = None) -> int:
    """W <- W + strength * (alpha / rank) * B @ A for every LoRA pair, in place; returns the count.

    alpha defaults to the file's own alpha, else to the rank (scale 1, LongLive's alpha = rank = 256).
    """
    raw = read_tensors_lora(lora_path)
    pairs = lora_pairs(raw, lora_path)
    unknown = []
    merged = 0
    for stem, (down, up, file_alpha) in pairs.items():
        name = _target(stem, weights)
        if name not in weights:
            unknown.append(stem)
            continue
        w = weights[name]
        rank = down.shape[0]
        if up.shape[1] != rank or (up.shape[0], down.shape[1]) != tuple(w.shape):
            raise CheckpointError(
                f"{lora_path}: LoRA for '{name}' has shapes A {tuple(down.shape)}, B {tuple(up.shape)} "
                f"that do not fit the weight {tuple(w.shape)}; is it made for this model size?"
            )
        a = alpha if alpha is not None else (file_alpha if file_alpha is not None else rank)
        delta = (up.float() @ down.float()) * (strength * a / rank)
        weights[name] = (w.float() + delta).to(w.dtype)
        merged += 1
    if unknown:
        raise CheckpointError(
            f"{lora_path}: {len(unknown)} LoRA targets do not exist in the model, e.g. {', '.join(unknown[:4])}; "
            f"is this LoRA made for a Wan2.1 DiT?"
        )
    return merged


def read_tensors_lora(path) -> dict:
    data = read_raw(path)
    for key in CONTAINERS:  # LongLive saves {generator_lora, critic_lora, step}
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            return unwrap(data[key], path)
    return unwrap(data, path)
