"""Export For Core Causal Wan: a checkpoint our loader reads -> a file core's Load Diffusion Model
builds its causal Wan (WAN21_CausalAR, for Sampler AR Video) from."""
from __future__ import annotations

import os

import torch

from ..engine.errors import EchoError
from ..engine.export import export_for_core
from . import comfy
from .files import state_path
from .loaders import WEIGHTS
from .types import CATEGORY

DTYPES = {"keep": None, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
FOLDER = "diffusion_models"


class EchoExportForCore:
    DESCRIPTION = ("Writes a causal Wan checkpoint (Self-Forcing, CausVid, LongLive with its LoRA merged, Causal "
                   "Forcing, diffusers) as a safetensors in models/diffusion_models that core's Load Diffusion "
                   "Model loads as its own causal model (ComfyUI >= 0.21), for core's Sampler AR Video. Set that "
                   "sampler's num_frame_per_block to 3 for chunk-wise models, 1 for frame-wise ones.")
    CATEGORY = CATEGORY
    FUNCTION = "export"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("unet_name",)
    OUTPUT_TOOLTIPS = ("The written file's name as Load Diffusion Model lists it (press R to refresh lists).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model_name": (comfy.file_list(FOLDER), {
                "tooltip": "The checkpoint to export, in models/diffusion_models (e.g. self_forcing_dmd.pt)."}),
            "weights": (list(WEIGHTS), {
                "default": "EMA when present", "tooltip": "Training checkpoints hold EMA and training weights; "
                                                          "Causal Forcing's chunk-wise model is used non-EMA."}),
            "lora_name": (["none"] + comfy.file_list("loras"), {
                "default": "none", "tooltip": "A LoRA merged into the exported weights (LongLive's lora.pt)."}),
            "lora_strength": ("FLOAT", {"default": 1.0, "min": -4.0, "max": 4.0, "step": 0.05,
                                        "tooltip": "Scale of the merged LoRA."}),
            "weight_dtype": (list(DTYPES), {
                "default": "keep", "tooltip": "Dtype of the written weights; bf16 halves an fp32 file."}),
            "filename": ("STRING", {"default": "causal_wan_for_core",
                                    "tooltip": "Name of the file in models/diffusion_models (.safetensors is added; "
                                               "sub-folders allowed, nothing outside the folder)."}),
            "overwrite": ("BOOLEAN", {"default": False, "tooltip": "Replace a file of that name."}),
        }}

    def export(self, model_name, weights, lora_name, lora_strength, weight_dtype, filename, overwrite=False):
        if weights not in WEIGHTS:
            raise EchoError(f"unknown weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        if weight_dtype not in DTYPES:
            raise EchoError(f"unknown weight_dtype {weight_dtype!r}; use one of {', '.join(DTYPES)}")
        source = comfy.full_path(FOLDER, model_name)
        lora = None if lora_name in (None, "", "none") else comfy.full_path("loras", lora_name)
        folder = comfy.model_folder(FOLDER)
        out = state_path(folder, filename)
        report = export_for_core(source, out, lora=lora, lora_strength=lora_strength, dtype=DTYPES[weight_dtype],
                                 prefer_ema=WEIGHTS[weights], overwrite=bool(overwrite))
        name = os.path.relpath(report.path, os.path.realpath(folder)).replace(os.sep, "/")
        text = (f"wrote {name} ({report.tensors} tensors, {report.parameters / 1e6:.1f} M parameters, {report.dtype}) "
                f"to models/{FOLDER}; load it with Load Diffusion Model")
        return {"ui": {"text": [text]}, "result": (name,)}
