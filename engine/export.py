"""Write any causal Wan checkpoint we read as a file ComfyUI core builds its own causal Wan from.

Core (>= 0.21) builds `WAN21_CausalAR` (CausalWanModel, for its SamplerARVideo) only when the
safetensors metadata says so: `comfy/model_detection.py` merges `json.loads(metadata["config"])
["transformer"]` into the Wan config it detects from the tensors, and `causal_ar: true` selects
`WAN21_CausalAR_T2V`. Every key of that object becomes a constructor argument of core's model, so
only `causal_ar` and the sizes core cannot read from the tensors (and assumes otherwise) go in.
Frames per block are not a model property in core: SamplerARVideo's `num_frame_per_block` sets them.

The tensors keep the original Wan names without a prefix, as in Comfy-Org's repackaged
`split_files/diffusion_models` files (core's loader also accepts `model.diffusion_model.`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import check_wan_state_dict
from .config import HEAD_DIM, WanConfig
from .errors import CheckpointError
from .loader import load_state_dict
from .lora import merge_lora

# what core's Wan detection assumes for sizes it does not read from the tensors
CORE_ASSUMES = {"freq_dim": 256, "text_dim": 4096, "patch_size": [1, 2, 2]}
SUFFIX = ".safetensors"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    tensors: int
    parameters: int
    dtype: str
    config: WanConfig
    metadata: dict


def core_transformer_config(cfg: WanConfig) -> dict:
    """The `transformer` object of metadata["config"]: causal_ar plus what core would get wrong."""
    ours = {"freq_dim": cfg.freq_dim, "text_dim": cfg.text_dim, "patch_size": list(cfg.patch_size)}
    transformer = {"causal_ar": True}
    if cfg.num_heads != cfg.dim // HEAD_DIM:  # core takes dim // 128 heads
        transformer["num_heads"] = cfg.num_heads
    transformer.update({k: v for k, v in ours.items() if v != CORE_ASSUMES[k]})
    return transformer


def core_metadata(cfg: WanConfig, provenance: dict) -> dict[str, str]:
    return {"config": json.dumps({"transformer": core_transformer_config(cfg)}),
            "echo_stream_export": json.dumps(provenance, sort_keys=True)}


def export_for_core(
    source,
    out_path,
    *,
    lora=None,
    lora_strength: float = 1.0,
    lora_alpha: float | None = None,
    dtype: torch.dtype | None = None,
    prefer_ema: bool = True,
    num_heads: int | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Read `source` as our loader does (LoRA merged), write `out_path` for core's Load Diffusion Model.

    dtype None keeps the stored dtype. The file is written next to its final name and renamed, so an
    interrupted export leaves no half-written model under that name.
    """
    from safetensors.torch import save_file

    out_path = Path(out_path)
    if out_path.suffix != SUFFIX:
        raise CheckpointError(f"{out_path}: the exported file must end in {SUFFIX}")
    if out_path.exists() and not overwrite:
        raise CheckpointError(f"{out_path} already exists; choose another name (nothing was written)")
    source_path = Path(source)
    if out_path.exists() and source_path.exists() and out_path.resolve() == source_path.resolve():
        raise CheckpointError(f"{out_path}: the export would overwrite its own source; choose another name")
    sd = load_state_dict(source, prefer_ema=prefer_ema)
    cfg = check_wan_state_dict(sd, source, num_heads=num_heads)
    if lora is not None:
        merge_lora(sd, Path(lora), strength=lora_strength, alpha=lora_alpha)
    tensors = {k: v.to(dtype=dtype or v.dtype).contiguous() for k, v in sorted(sd.items())}
    stored = sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()})
    provenance = {"source": source_path.name, "weights": "ema when present" if prefer_ema else "generator",
                  "lora": Path(lora).name if lora is not None else None,
                  "lora_strength": float(lora_strength) if lora is not None else None, "dtype": "/".join(stored)}
    metadata = core_metadata(cfg, provenance)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ExportReport(out_path, len(tensors), sum(t.numel() for t in tensors.values()), "/".join(stored), cfg,
                        metadata)
