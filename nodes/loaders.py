"""Model nodes: load a causal Wan checkpoint ourselves, or wrap a core MODEL."""
from __future__ import annotations

import os

import torch

from ..engine.errors import EchoError
from ..engine.loader import load_causal_wan
from ..engine.transformer import CausalWan
from . import comfy
from .comfy_attention import attention_backend
from .types import CATEGORY, ECHO_MODEL, EchoModel

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
WEIGHTS = {"EMA when present": True, "non-EMA (generator)": False}
FRAMES_PER_BLOCK = {"default": 3, "min": 1, "max": 8,
                    "tooltip": "Latent frames per block the model was trained with: 3 for Self-Forcing, "
                               "LongLive and CausVid chunk-wise models, 1 for frame-wise models."}


def auto_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class EchoCausalModelLoader:
    DESCRIPTION = ("Loads a causal (autoregressive) Wan2.1 text-to-video model: Self-Forcing, CausVid, "
                   "LongLive or Causal Forcing .pt files, or original, ComfyUI or diffusers safetensors. The format is "
                   "detected from the file. LongLive's LoRA can be merged in.")
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["self forcing", "causal forcing", "longlive", "causvid", "causal wan", "autoregressive model"]
    FUNCTION = "load"
    RETURN_TYPES = (ECHO_MODEL,)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The causal Wan model, for the Streaming Sampler.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model_name": (comfy.file_list("diffusion_models"), {
                "tooltip": "A causal Wan2.1 checkpoint in models/diffusion_models, e.g. self_forcing_dmd.pt."}),
            "weight_dtype": (["auto", "bf16", "fp16", "fp32"], {
                "default": "auto", "tooltip": "Storage and compute dtype; auto = bf16 on GPUs that support it, "
                                             "else fp16, and fp32 on the CPU."}),
            "lora_name": (["none"] + comfy.file_list("loras"), {
                "default": "none", "tooltip": "Optional LoRA merged into the weights (LongLive ships one)."}),
            "lora_strength": ("FLOAT", {"default": 1.0, "min": -4.0, "max": 4.0, "step": 0.05,
                                        "tooltip": "Scale of the merged LoRA."}),
            "frames_per_block": ("INT", FRAMES_PER_BLOCK),
        }, "optional": {
            "weights": (list(WEIGHTS), {"default": "EMA when present", "tooltip": (
                "Training checkpoints hold EMA and training weights. Causal Forcing's chunk-wise model is used "
                "non-EMA; its frame-wise and Causal Forcing++ models, Self-Forcing and LongLive use EMA.")}),
        }}

    def load(self, model_name, weight_dtype="auto", lora_name="none", lora_strength=1.0, frames_per_block=3,
             weights="EMA when present"):
        device = comfy.torch_device()
        dtype = auto_dtype(device) if weight_dtype == "auto" else DTYPES.get(weight_dtype)
        if dtype is None:
            raise EchoError(f"unknown weight_dtype {weight_dtype!r}; use auto, bf16, fp16 or fp32")
        path = comfy.full_path("diffusion_models", model_name)
        lora = None if lora_name in (None, "", "none") else comfy.full_path("loras", lora_name)
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        comfy.reserve(size, device)  # room for the weights next to ComfyUI's own models
        if weights not in WEIGHTS:
            raise EchoError(f"unknown weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        causal = load_causal_wan(path, dtype=dtype, device=device, lora=lora, lora_strength=lora_strength,
                                 prefer_ema=WEIGHTS[weights], attention=attention_backend())
        return (EchoModel(os.path.basename(model_name), causal, int(frames_per_block)),)


class EchoCausalModelFromMODEL:
    DESCRIPTION = ("Uses a core MODEL (Load Diffusion Model, after LoRA loaders, or core's causal Wan) as a "
                   "causal Wan: the engine runs over that model's own modules, and ComfyUI's model "
                   "management places the weights (fp8, lowvram and LoRA patches keep working).")
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["causal wan", "autoregressive video", "self forcing model"]
    FUNCTION = "wrap"
    RETURN_TYPES = (ECHO_MODEL,)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The wrapped model, for the Streaming Sampler.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("MODEL", {"tooltip": "A Wan2.1 text-to-video MODEL with causal (Self-Forcing, LongLive, "
                                           "CausVid) weights."}),
            "frames_per_block": ("INT", FRAMES_PER_BLOCK),
        }}

    def wrap(self, model, frames_per_block=3):
        base = getattr(model, "model", None)
        dit = getattr(base, "diffusion_model", None)
        if dit is None or not hasattr(dit, "blocks") or not hasattr(dit, "patch_embedding"):
            raise EchoError("this MODEL is not a Wan2.1 diffusion model (no blocks / patch_embedding); load a "
                            "causal Wan checkpoint with Load Diffusion Model or Load Causal Video Model")
        if getattr(dit, "img_emb", None) is not None:
            raise EchoError("this is an image-to-video Wan model; the Streaming Sampler needs a text-to-video "
                            "causal Wan (Self-Forcing, LongLive, CausVid)")
        dtype = getattr(base, "manual_cast_dtype", None) or base.get_dtype()
        causal = CausalWan(dit, compute_dtype=dtype, device=comfy.torch_device(), attention=attention_backend())
        name = getattr(getattr(base, "model_config", None), "__class__", type(base)).__name__
        return (EchoModel(f"MODEL:{name}", causal, int(frames_per_block), patcher=model),)
