"""Toy World nodes: try the pack in ComfyUI without downloading anything.

The bundled toy-world model (toyworld/model) streams 64x64 videos of 8 scene categories; a toy
prompt is a category's fixed embedding (no text encoder), and a toy latent renders straight to
pictures with the world's fixed latent-to-RGB map (no VAE).
"""
from __future__ import annotations

import torch

from ..engine.errors import EchoError
from ..toyworld import CATEGORIES, category_index, prompt_embedding, render_rgb, rgb_factors
from . import comfy
from .types import CATEGORY, ECHO_MODEL, EchoModel

TOY_CATEGORY = CATEGORY + "/Toy World"
TOY_MODEL_NAME = "toyworld"


class EchoToyModelLoader:
    DESCRIPTION = ("Loads the toy-world model bundled with the pack (a small causal Wan trained on a procedural "
                   "world of 8 scene categories; about 1 MB, nothing to download). Use it with Toy Prompt and "
                   "Render Toy Latent at 64x64; the live preview shows its frames as pictures.")
    CATEGORY = TOY_CATEGORY
    SEARCH_ALIASES = ["toy model", "no download model", "demo model"]
    FUNCTION = "load"
    RETURN_TYPES = (ECHO_MODEL,)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The toy-world model, for the Streaming Sampler (64x64, 3 frames per block).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def load(self):
        from ..toyworld.model import load_toy_model

        causal = load_toy_model(device=comfy.torch_device(), dtype=torch.float32)
        return (EchoModel(TOY_MODEL_NAME, causal, 3, rgb_factors=rgb_factors()),)


class EchoToyPrompt:
    DESCRIPTION = ("A toy-world prompt: the fixed embedding of one scene category, as a CONDITIONING for the "
                   "scene script nodes (what CLIP Text Encode gives a real Wan).")
    CATEGORY = TOY_CATEGORY
    SEARCH_ALIASES = ["toy category", "toy conditioning", "demo prompt"]
    FUNCTION = "encode"
    RETURN_TYPES = ("CONDITIONING",)
    RETURN_NAMES = ("conditioning",)
    OUTPUT_TOOLTIPS = ("The category's prompt embedding [1, 4, 4096], for Scene Start, Prompt Switch, Hard Cut, "
                       "Scene Recall.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"category": (list(CATEGORIES), {"default": CATEGORIES[0],
                                                             "tooltip": "The scene category the toy model paints."})}}

    def encode(self, category):
        return ([[prompt_embedding(category_index(category)), {"pooled_output": None}]],)


class EchoToyRender:
    DESCRIPTION = ("Renders a toy-world LATENT (from the Streaming Sampler with the toy model) to IMAGE frames "
                   "with the world's fixed latent-to-RGB map: no VAE needed.")
    CATEGORY = TOY_CATEGORY
    SEARCH_ALIASES = ["toy render", "toy latent to image", "render without vae"]
    FUNCTION = "render"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("Every latent frame as a picture, samples one after another.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "samples": ("LATENT", {"tooltip": "Toy-world video latents [B, 16, T, H, W] from the Streaming Sampler."}),
            "scale": ("INT", {"default": 8, "min": 1, "max": 64,
                              "tooltip": "Pixels per latent pixel (8 = the size a VAE would decode to)."}),
        }}

    def render(self, samples, scale=8):
        latent = samples.get("samples") if isinstance(samples, dict) else None
        if not isinstance(latent, torch.Tensor) or latent.dim() != 5 or latent.shape[1] != 16:
            shape = tuple(latent.shape) if isinstance(latent, torch.Tensor) else type(latent).__name__
            raise EchoError(f"Render Toy Latent needs a video LATENT [batch, 16, frames, height, width] from the "
                            f"Streaming Sampler; got {shape}")
        # the sampler's LATENT is in the VAE's space (Wan21.process_out); the world lives in the model's space
        model_space = comfy.from_vae_latents(latent.float().cpu())
        frames = torch.cat([render_rgb(sample, int(scale)) for sample in model_space])
        return (frames.float() / 255.0,)
