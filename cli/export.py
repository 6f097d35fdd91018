"""`python -m echo_stream export`: a causal Wan checkpoint -> a file core's Load Diffusion Model
builds its causal Wan (WAN21_CausalAR, for SamplerARVideo) from."""
from __future__ import annotations

import argparse
import sys

import torch

from ..engine.errors import EchoError
from ..engine.export import export_for_core

DTYPES = {"keep": None, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

DESCRIPTION = """\
Write a causal Wan2.1 checkpoint as a ComfyUI safetensors that core's Load Diffusion Model loads as its
causal model (ComfyUI >= 0.21), for core's Sampler AR Video. Reads whatever the pack's loader reads:
Self-Forcing / CausVid / LongLive / Causal Forcing .pt, original or ComfyUI safetensors, a diffusers
folder. A LoRA (LongLive's lora.pt) is merged in. Put the result in ComfyUI's models/diffusion_models.
Core's sampler takes frames per block as its own input: 3 for chunk-wise models, 1 for frame-wise.
"""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m echo_stream export", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="the checkpoint (.pt/.pth/.safetensors) or diffusers folder")
    ap.add_argument("out", help="the file to write, ending in .safetensors")
    ap.add_argument("--lora", help="a LoRA to merge in (LongLive's lora.pt, or a safetensors LoRA)")
    ap.add_argument("--lora-strength", type=float, default=1.0, help="scale of the merged LoRA (default 1)")
    ap.add_argument("--non-ema", action="store_true",
                    help="take the training weights ('generator') instead of the EMA ones; Causal Forcing's "
                         "chunk-wise checkpoint is meant to be used this way")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="keep",
                    help="weight dtype of the file (default: keep the stored one; bf16 halves an fp32 file)")
    ap.add_argument("--num-heads", type=int, help="attention heads where hidden size // 128 does not give them")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        report = export_for_core(args.source, args.out, lora=args.lora, lora_strength=args.lora_strength,
                                 dtype=DTYPES[args.dtype], prefer_ema=not args.non_ema, num_heads=args.num_heads,
                                 overwrite=args.overwrite)
    except EchoError as err:
        print(f"export: {err}", file=sys.stderr)
        return 2
    cfg = report.config
    print(f"wrote {report.path}: {report.tensors} tensors, {report.parameters / 1e6:.1f} M parameters, "
          f"{report.dtype}; Wan2.1 dim {cfg.dim}, {cfg.num_layers} layers; metadata config "
          f"{report.metadata['config']}", file=sys.stderr)
    return 0
