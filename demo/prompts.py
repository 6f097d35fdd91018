"""Prompt embeddings for the demo's five prompts A-E: synthetic from a fixed seed, or from a file.

Synthetic embeddings carry the relations the script relies on: B and D are close to A (smooth
switches within one story), C is unrelated (a cut), and E is close to C, so recalling by
similarity alone should find C.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..engine.errors import EchoError

NAMES = ("A", "B", "C", "D", "E")
SEED = 7
TOKENS = 12


def synthetic_prompts(text_dim: int, seed: int = SEED) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    fresh = lambda: torch.randn(1, TOKENS, text_dim, generator=g)  # noqa: E731
    near = lambda p, noise: p + noise * torch.randn(p.shape, generator=g)  # noqa: E731
    a, c = fresh(), fresh()
    return {"A": a, "B": near(a, 0.35), "C": c, "D": near(a, 0.35), "E": near(c, 0.25)}


def synthetic_text_prompts(texts: dict[str, str], text_dim: int) -> dict[str, torch.Tensor]:
    """{key: prompt text} -> {key: embedding}: one fixed random embedding per text (seeded by its hash),
    so a prompt file runs on the random model; the same text always gets the same embedding."""
    out = {}
    for key, text in texts.items():
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        out[key] = torch.randn(1, TOKENS, text_dim, generator=torch.Generator().manual_seed(seed))
    return out


def load_prompts(path: str | Path, text_dim: int | None = None, names=NAMES) -> dict[str, torch.Tensor]:
    """Tensors named A..E (or `names`), each [1, L, C] (L <= 512, one C for all), e.g. saved umT5-XXL embeddings.

    With `text_dim` None the file is checked before any model is at hand (so a bad file is named
    before a large checkpoint loads); `check_prompt_width` then compares C with the model's.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise EchoError(f"--prompts {path}: not a readable safetensors file: {err}") from None
    missing = [n for n in names if n not in tensors]
    width = text_dim if text_dim is not None else "width"
    if missing:
        raise EchoError(f"--prompts {path} lacks tensors {missing}; it needs one per prompt, named "
                        f"{', '.join(names)}, each [1, tokens, {width}] (found {sorted(tensors)})")
    out = {}
    for name in names:
        t = tensors[name]
        if t.dim() == 2:
            t = t[None]  # [L, C] -> [1, L, C]
        if t.dim() != 3 or t.shape[0] != 1 or not 0 < t.shape[1] <= 512 or not t.is_floating_point():
            raise EchoError(f"--prompts {path}: tensor {name!r} has shape {tuple(tensors[name].shape)} "
                            f"({str(tensors[name].dtype).replace('torch.', '')}); expected floats "
                            f"[1, tokens <= 512, {width}]")
        out[name] = t.float()
    widths = {name: t.shape[-1] for name, t in out.items()}
    if len(set(widths.values())) > 1:
        raise EchoError(f"--prompts {path}: the prompts have different widths {widths}; all must come "
                        f"from the same text encoder")
    if text_dim is not None:
        check_prompt_width(out, text_dim, path)
    return out


def check_prompt_width(prompts: dict[str, torch.Tensor], text_dim: int, path) -> None:
    width = next(iter(prompts.values())).shape[-1]
    if width != text_dim:
        raise EchoError(f"--prompts {path}: the embeddings are {width} wide, but this model takes {text_dim} "
                        f"(expected [1, tokens <= 512, {text_dim}] for this model)")
