"""The toy causal Wan: its size, a fresh one for training, and the bundled trained default.

The model is our own `WanDiT` (original Wan names) with Wan's 16 latent channels, 4096-dim text
input and 2x2 patches, only small: dim 64, 2 heads of 32, 4 layers. Its weights are saved in the
original Wan layout, so `engine.load_causal_wan(path, num_heads=2)` reads them like any checkpoint;
the head count (which Wan's tensors do not record for heads other than 128 wide) is also in the
file's metadata and in the JSON record next to it.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..engine import CausalWan, WanConfig, WanDiT, load_causal_wan
from ..engine.errors import EchoError

TOY_CONFIG = WanConfig(dim=64, ffn_dim=256, num_heads=2, num_layers=4)
MODEL_DIR = Path(__file__).resolve().parent / "model"
DEFAULT_MODEL = MODEL_DIR / "toyworld_wan.safetensors"
DEFAULT_RECORD = MODEL_DIR / "toyworld_wan.json"


def new_toy_model(seed: int = 0, config: WanConfig = TOY_CONFIG) -> CausalWan:
    """A freshly initialised toy model (parameters drawn from `seed` on the CPU)."""
    torch.manual_seed(seed)
    return CausalWan(WanDiT(config), config)


def record_path(model_path) -> Path:
    return Path(model_path).with_suffix(".json")


def load_toy_model(path=None, *, device="cpu", dtype: torch.dtype | None = None) -> CausalWan:
    """The trained toy model (default: the one bundled with the pack) as a CausalWan in eval mode."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise EchoError(f"{path}: no toy model there; train one with `python -m echo_stream toyworld train`")
    heads = TOY_CONFIG.num_heads
    record = record_path(path)
    if record.is_file():
        heads = json.loads(record.read_text())["config"]["model"]["num_heads"]
    return load_causal_wan(path, num_heads=heads, device=device, dtype=dtype)
