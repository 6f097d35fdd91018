"""Decode Wan 2.1 latents one frame per call with a feature cache carried across blocks and runs.

This is the original Wan rule (Wan's `WanVAE_.decode`, diffusers' `AutoencoderKLWan._decode`): every
causal conv keeps the last CACHE_T=2 frames it saw; when a call brings fewer, the last cached frame is
kept in front of them; the first temporal upsample passes latent 0 through unchanged ("Rep"). Decoding
latent by latent with one cache therefore performs exactly the operations of one whole-video decode,
however the latents are split into blocks and runs. Core ComfyUI's `WanVAE.decode` keeps a different,
per-call cache (frame 0, then pairs), so we never reuse its cache, only its modules.

The functions take the module tree (anything with `conv2` and `decoder.{conv1,middle,upsamples,head}`
under the original names: our `WanVAEDecoder` or core's `comfy.ldm.wan.vae.WanVAE`) and never call the
causal convs' own forward, whose signatures differ between implementations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CACHE_T = 2
REPLICATE = "Rep"  # the original marker: the temporal upsample saw latent 0 and did not double it

_EMPTY, _REP, _TENSOR = 0, 1, 2


def pixel_frames_for(latent_frames: int, first_latent: int = 0) -> int:
    """Pixel frames that latents [first_latent, first_latent + latent_frames) of one video decode to."""
    if latent_frames <= 0:
        return 0
    return 4 * latent_frames - (3 if first_latent == 0 else 0)


class FeatureCache:
    """The per-layer causal memory of one video's decode (the original `feat_cache` list).

    A slot is empty (None), the REPLICATE marker, or the last <= 2 input frames of one causal conv.
    `latent_frames` counts the latents decoded so far, which fixes how many pixel frames the next gives.
    """

    def __init__(self):
        self.slots: list = []
        self.latent_frames = 0

    def reset(self) -> None:
        self.slots = []
        self.latent_frames = 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors only (safetensors-ready): the slot kinds, the cached frames, the latent count."""
        kinds = [_EMPTY if s is None else _REP if isinstance(s, str) else _TENSOR for s in self.slots]
        state = {"latent_frames": torch.tensor([self.latent_frames], dtype=torch.int64),
                 "slot_kinds": torch.tensor(kinds, dtype=torch.int64)}
        for i, slot in enumerate(self.slots):
            if isinstance(slot, torch.Tensor):
                state[f"slot.{i}"] = slot.detach().cpu().clone(memory_format=torch.contiguous_format)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        try:
            kinds = [int(k) for k in state["slot_kinds"].tolist()]
            latent_frames = int(state["latent_frames"].item())
            slots = [None if k == _EMPTY else REPLICATE if k == _REP else state[f"slot.{i}"]
                     for i, k in enumerate(kinds)]
        except KeyError as missing:
            raise ValueError(f"the saved VAE decoder state lacks {missing}; it was not written by "
                             "FeatureCache.state_dict() (save the session again with this version)") from None
        self.slots, self.latent_frames = slots, latent_frames


class _Walk:
    """One decoder call's pass over the cache slots, in the fixed order the layers run."""

    def __init__(self, cache: FeatureCache):
        self.cache = cache
        self.index = 0

    def take(self) -> int:
        if self.index == len(self.cache.slots):
            self.cache.slots.append(None)
        self.index += 1
        return self.index - 1


def causal_conv(conv: nn.Conv3d, x: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
    """Conv3d padded (kernel-1) frames in the past (cached frames first, zeros for the rest).

    Every causal conv of the Wan decoder has stride 1 and padding (k-1)/2 per axis, so the padding is
    read from the kernel size, whichever way an implementation stored it.
    """
    kt, kh, kw = conv.kernel_size
    pad_t = kt - 1
    if past is not None and pad_t > 0:
        past = past[:, :, -pad_t:].to(x)
        x = torch.cat([past, x], dim=2)
        pad_t -= past.shape[2]
    x = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2, pad_t, 0))
    weight = conv.weight.to(x)
    bias = conv.bias.to(x) if conv.bias is not None else None
    return F.conv3d(x, weight, bias, conv.stride, 0, conv.dilation, conv.groups)


def _conv2d(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The module's 2-D conv with its weights cast to x (its own forward may not cast them)."""
    bias = conv.bias.to(x) if conv.bias is not None else None
    return F.conv2d(x, conv.weight.to(x), bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def _cached_conv(conv: nn.Conv3d, x: torch.Tensor, walk: _Walk) -> torch.Tensor:
    slot = walk.take()
    past = walk.cache.slots[slot]
    keep = x[:, :, -CACHE_T:]
    if keep.shape[2] < CACHE_T and isinstance(past, torch.Tensor):
        keep = torch.cat([past[:, :, -1:].to(keep), keep], dim=2)  # "cache last frame of last two chunk"
    out = causal_conv(conv, x, past if isinstance(past, torch.Tensor) else None)
    walk.cache.slots[slot] = keep.clone(memory_format=torch.contiguous_format)  # a view would pin all of x
    return out


def _residual_block(block: nn.Module, x: torch.Tensor, walk: _Walk) -> torch.Tensor:
    shortcut = block.shortcut
    identity = causal_conv(shortcut, x) if isinstance(shortcut, nn.Conv3d) else x
    for layer in block.residual:
        x = _cached_conv(layer, x, walk) if isinstance(layer, nn.Conv3d) else layer(x)
    return x + identity


def _attention_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    b, c, t, h, w = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    qkv = _conv2d(block.to_qkv, block.norm(frames)).reshape(b * t, 1, c * 3, h * w).permute(0, 1, 3, 2)
    q, k, v = qkv.contiguous().chunk(3, dim=-1)
    out = F.scaled_dot_product_attention(q, k, v).squeeze(1).permute(0, 2, 1).reshape(b * t, c, h, w)
    out = _conv2d(block.proj, out).reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)
    return out + x


def _resample(block: nn.Module, x: torch.Tensor, walk: _Walk) -> torch.Tensor:
    b, c, t, h, w = x.shape
    if block.mode == "upsample3d":
        slot = walk.take()
        past = walk.cache.slots[slot]
        if past is None:
            walk.cache.slots[slot] = REPLICATE  # latent 0 gives one frame, not two
        else:
            keep = x[:, :, -CACHE_T:]
            if keep.shape[2] < CACHE_T:
                front = torch.zeros_like(keep) if isinstance(past, str) else past[:, :, -1:].to(keep)
                keep = torch.cat([front, keep], dim=2)
            x = causal_conv(block.time_conv, x, None if isinstance(past, str) else past)
            walk.cache.slots[slot] = keep.clone(memory_format=torch.contiguous_format)
            x = x.reshape(b, 2, c, t, h, w)
            x = torch.stack((x[:, 0], x[:, 1]), 3).reshape(b, c, t * 2, h, w)
    elif block.mode != "upsample2d":
        raise ValueError(f"a decoder Resample must upsample; got mode {block.mode!r}")
    t = x.shape[2]
    x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    for layer in block.resample:  # nearest-exact 2x upsample, then a conv halving the channels
        x = _conv2d(layer, x) if isinstance(layer, nn.Conv2d) else layer(x)
    return x.reshape(b, t, *x.shape[1:]).permute(0, 2, 1, 3, 4)


def _layer(layer: nn.Module, x: torch.Tensor, walk: _Walk) -> torch.Tensor:
    if hasattr(layer, "residual"):
        return _residual_block(layer, x, walk)
    if hasattr(layer, "to_qkv"):
        return _attention_block(layer, x)
    if hasattr(layer, "mode"):
        return _resample(layer, x, walk)
    raise TypeError(f"unexpected layer {type(layer).__name__} in a Wan 2.1 VAE decoder")


@torch.no_grad()
def decode_latent_frame(tree: nn.Module, z: torch.Tensor, cache: FeatureCache) -> torch.Tensor:
    """[B, z_dim, 1, h, w] VAE-space latent -> [B, 3, 1 or 4, 8h, 8w] unclamped pixels in about [-1, 1]."""
    if z.ndim != 5 or z.shape[2] != 1:
        raise ValueError(f"decode_latent_frame takes one latent frame [B, C, 1, h, w], got {tuple(z.shape)}")
    decoder = tree.decoder
    walk = _Walk(cache)
    x = causal_conv(tree.conv2, z)
    x = _cached_conv(decoder.conv1, x, walk)
    for layer in decoder.middle:
        x = _layer(layer, x, walk)
    for layer in decoder.upsamples:
        x = _layer(layer, x, walk)
    for layer in decoder.head:
        x = _cached_conv(layer, x, walk) if isinstance(layer, nn.Conv3d) else layer(x)
    cache.latent_frames += 1
    return x


def _first_parameter(tree: nn.Module) -> torch.Tensor:
    return next(tree.decoder.parameters())


class StreamingDecoder:
    """One video's decoder: feed latent blocks in order; its `cache` is the state a session keeps."""

    def __init__(self, tree: nn.Module, cache: FeatureCache | None = None,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None):
        for name in ("conv2", "decoder"):
            if not hasattr(tree, name):
                raise TypeError(f"{type(tree).__name__} is not a Wan 2.1 VAE module tree (no `{name}`); "
                                "pass a WanVAEDecoder or a core Wan VAE's first_stage_model")
        self.tree = tree
        self.cache = cache if cache is not None else FeatureCache()
        weight = _first_parameter(tree)
        self.dtype = dtype or weight.dtype
        self.device = torch.device(device) if device is not None else weight.device
        self.z_dim = tree.conv2.weight.shape[0]

    def decode(self, latents: torch.Tensor):
        """Yield [B, 3, n, H, W] pixel pieces in [-1, 1], one per latent frame of [B, z_dim, T, h, w]."""
        if latents.ndim != 5 or latents.shape[1] != self.z_dim:
            raise ValueError(f"expected VAE latents [B, {self.z_dim}, T, h, w], got {tuple(latents.shape)}; "
                             "a Wan 2.1 VAE decodes 16-channel latents (Wan 2.2's 48-channel ones need its own VAE)")
        for t in range(latents.shape[2]):
            z = latents[:, :, t:t + 1].to(device=self.device, dtype=self.dtype)
            yield decode_latent_frame(self.tree, z, self.cache).clamp_(-1.0, 1.0)

    def decode_all(self, latents: torch.Tensor) -> torch.Tensor:
        """The whole block at once (for short blocks; long videos should consume `decode` piece by piece)."""
        return torch.cat(list(self.decode(latents)), dim=2)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.cache.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.cache.load_state_dict(state)


def lookback_latents(tree: nn.Module) -> int:
    """How many past latent frames can still reach the cache: the decoder's causal receptive field.

    Every causal conv of kernel k looks k-1 frames back at its own frame rate, which each temporal
    upsample doubles, so the field in latent frames is the sum of (k-1)/rate over the layers in order.
    Decoding the last `lookback_latents` latents through an empty cache therefore rebuilds the cache a
    whole-video decode would hold (the start's special cases fall outside the field), which lets a
    saved session keep a few latents instead of the full-resolution cache.
    """
    field, rate = 0.0, 1

    def conv(module: nn.Module) -> None:
        nonlocal field
        field += (module.kernel_size[0] - 1) / rate

    def block(layer: nn.Module) -> None:
        nonlocal rate
        if hasattr(layer, "residual"):
            for part in layer.residual:
                if isinstance(part, nn.Conv3d):
                    conv(part)
        elif getattr(layer, "mode", None) == "upsample3d":
            conv(layer.time_conv)
            rate *= 2

    conv(tree.decoder.conv1)
    for layer in [*tree.decoder.middle, *tree.decoder.upsamples]:
        block(layer)
    for part in tree.decoder.head:
        if isinstance(part, nn.Conv3d):
            conv(part)
    return int(field) + 2  # rounded up, plus one latent of margin
