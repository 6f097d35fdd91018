"""Streaming Wan 2.1 VAE decode in pure torch (no ComfyUI import).

`modules` holds the decoder half of the Wan 2.1 VAE under its original names (as in Wan's
`wan/modules/vae.py` and ComfyUI's `comfy/ldm/wan/vae.py`); `streaming` drives any module tree with
those names one latent frame per call with a persistent feature cache; `loader` builds the tree from
`wan_2.1_vae.safetensors`; `latent_space` converts the diffusion model's normalised latents.
"""
from .latent_space import WAN21_LATENT_MEAN, WAN21_LATENT_STD, model_to_vae_space
from .loader import load_wan21_vae_decoder
from .modules import VaeConfig, WanVAEDecoder
from .streaming import FeatureCache, StreamingDecoder, decode_latent_frame, pixel_frames_for

__all__ = [
    "FeatureCache", "StreamingDecoder", "VaeConfig", "WanVAEDecoder", "WAN21_LATENT_MEAN", "WAN21_LATENT_STD",
    "decode_latent_frame", "load_wan21_vae_decoder", "model_to_vae_space", "pixel_frames_for",
]
