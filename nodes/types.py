"""The pack's custom ComfyUI types and the small values that travel on them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..engine.errors import EchoError
from ..engine.transformer import CausalWan

ECHO_MODEL = "ECHO_MODEL"
SCENE_SCRIPT = "SCENE_SCRIPT"
SCENE_MEMORY = "SCENE_MEMORY"
MEMORY_CONFIG = "ECHO_MEMORY_CONFIG"
CATEGORY = "Echo Stream"


@dataclass
class EchoModel:
    """A causal Wan ready for the sampler: our own weights, or a core MODEL's diffusion_model."""

    name: str
    causal: CausalWan
    frames_per_block: int = 3
    patcher: Any = None  # the ComfyUI ModelPatcher when wrapped from a MODEL


@dataclass(frozen=True)
class SceneMemoryHandle:
    """What SCENE_MEMORY carries: a session in the registry, which one of that name, and its size when made.

    Nodes that take it check all three (runtime/registry.py `check`), so a handle whose session moved
    on, was freed or was replaced by another session of the same name is refused with a message.
    """

    session: str
    blocks: int
    session_id: str


def conditioning_tensor(conditioning, where: str) -> torch.Tensor:
    """The text embedding [B, L, C] out of ComfyUI's CONDITIONING ([[tensor, {...}], ...]) or a tensor."""
    if isinstance(conditioning, torch.Tensor):
        return conditioning
    try:
        tensor = conditioning[0][0]
    except (TypeError, IndexError, KeyError):
        tensor = None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 3:
        raise EchoError(f"{where}: expected a CONDITIONING from CLIP Text Encode (with the umt5 Wan text "
                        f"encoder), got {type(conditioning).__name__}")
    return tensor
