"""Block-causal Wan2.1 forward over any module tree that uses the original Wan names.

`CausalWan` wraps our own `WanDiT` or the `diffusion_model` of a ComfyUI MODEL; it only calls
submodules by name (blocks.N.self_attn.q, norm3, ffn, modulation, head.head, ...).
Two entry points:
  forward_full  - one whole-sequence pass with absolute RoPE and an optional mask (the reference);
  forward_block - one block of latent frames against a memory policy (the streaming path).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SDPA, AttentionBackend, attend, attend_context, attend_full
from .config import WanConfig
from .errors import InputShapeError
from .memory_api import MemoryPolicy
from .rope import RotaryEmbedding, grid_positions


@dataclass
class TextContext:
    """Per-layer cross-attention K/V for one prompt, computed once and reused every block."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    source: torch.Tensor  # the conditioning it was made from (identity tells a new prompt)

    @property
    def batch(self) -> int:
        return self.kv[0][0].shape[0]

    def select(self, index: torch.Tensor) -> "TextContext":
        """The prompts at `index` (a 1-D index into this context's batch), e.g. one per sample
        picked from a table of prompts prepared once."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.kv[0][0].device)
        return TextContext(kv=[(k[index], v[index]) for k, v in self.kv], source=self.source[index.to(self.source.device)])


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Wan's sinusoidal embedding [cos, sin] of raw timesteps (any shape) -> [..., dim], float32."""
    half = dim // 2
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angles = t.to(torch.float64)[..., None] * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1).float()


class CausalWan:
    def __init__(self, dit: nn.Module, config: WanConfig | None = None, *,
                 compute_dtype: torch.dtype | None = None, device: torch.device | None = None,
                 attention: AttentionBackend | None = None):
        """compute_dtype/device: for module trees whose weights are stored in another dtype or partly
        offloaded (a ComfyUI MODEL with fp8 weights or lowvram); default: the patch embedding's.
        attention: the streamed path's self- and cross-attention (default torch SDPA; nodes/ passes
        ComfyUI's optimized attention)."""
        self.dit = dit
        self.attention = attention or SDPA
        self._compute_dtype, self._device = compute_dtype, None if device is None else torch.device(device)
        config = config or getattr(dit, "config", None)
        if config is None:  # e.g. a ComfyUI diffusion_model: read the sizes from its parameters
            config = WanConfig.from_state_dict(dict(dit.named_parameters()),
                                               num_heads=getattr(dit, "num_heads", None), source="model")
        self.config = config
        self.rotary = RotaryEmbedding(config.head_dim)

    @property
    def dtype(self) -> torch.dtype:
        return self._compute_dtype or self.dit.patch_embedding.weight.dtype

    @property
    def device(self) -> torch.device:
        return self._device or self.dit.patch_embedding.weight.device

    # ---------------------------------------------------------------- inputs
    def latent_grid(self, x: torch.Tensor) -> tuple[int, int, int]:
        """Validate a latent [B, C, F, H, W] and return its token grid (F, h, w)."""
        cfg = self.config
        if x.dim() != 5:
            raise InputShapeError(
                f"expected a video latent [batch, {cfg.in_dim}, frames, height/8, width/8], got shape {tuple(x.shape)}"
            )
        if x.shape[1] != cfg.in_dim:
            raise InputShapeError(
                f"latent has {x.shape[1]} channels but this model takes {cfg.in_dim} "
                f"(Wan2.1 latents have 16; use the Wan2.1 VAE's latent layout)"
            )
        pt, ph, pw = cfg.patch_size
        if x.shape[2] % pt or x.shape[3] % ph or x.shape[4] % pw:
            raise InputShapeError(
                f"latent frames/height/width {tuple(x.shape[2:])} must be multiples of the patch {cfg.patch_size}; "
                f"pick a pixel width and height that are multiples of 16"
            )
        return x.shape[2] // pt, x.shape[3] // ph, x.shape[4] // pw

    def prepare_text(self, cond: torch.Tensor) -> TextContext:
        """Text conditioning [B, L <= 512, text_dim] -> per-layer cross-attention K/V."""
        cfg = self.config
        if cond.dim() != 3 or cond.shape[-1] != cfg.text_dim:
            raise InputShapeError(
                f"text conditioning must be [batch, tokens, {cfg.text_dim}] (umT5-XXL embeddings), "
                f"got shape {tuple(cond.shape)}"
            )
        if cond.shape[1] > cfg.text_len:
            raise InputShapeError(f"text conditioning has {cond.shape[1]} tokens; Wan takes at most {cfg.text_len}")
        # Wan pads the prompt with zero tokens to text_len; they all embed alike, so embed one and repeat it
        # (the same values as embedding the padded tensor, without text_len x text_dim x dim multiplies)
        cond = cond.to(self.device, self.dtype)
        ctx = self.dit.text_embedding(F.pad(cond, (0, 0, 0, 1)))
        if cfg.text_len > cond.shape[1]:
            ctx = torch.cat([ctx[:, :-1], ctx[:, -1:].expand(-1, cfg.text_len - cond.shape[1], -1)], dim=1)
        else:
            ctx = ctx[:, :-1]
        b, heads = ctx.shape[0], cfg.num_heads
        kv = []
        for blk in self.dit.blocks:
            attn = blk.cross_attn
            k = attn.norm_k(attn.k(ctx)).view(b, -1, heads, cfg.head_dim)
            v = attn.v(ctx).view(b, -1, heads, cfg.head_dim)
            kv.append((k, v))
        return TextContext(kv=kv, source=cond)

    # ---------------------------------------------------------------- pieces
    def _embed(self, x: torch.Tensor, t: torch.Tensor):
        grid = self.latent_grid(x)
        b = x.shape[0]
        tokens = self.dit.patch_embedding(x.to(self.device, self.dtype)).flatten(2).transpose(1, 2)
        t = torch.as_tensor(t, device=self.device, dtype=torch.float32)
        if t.dim() == 1 and t.numel() == b:
            t = t[:, None]  # one timestep per batch element
        t = t.expand(b, grid[0]) if t.dim() < 2 or t.shape == (b, 1) else t
        if t.shape != (b, grid[0]):
            raise InputShapeError(f"timesteps must be a scalar, [batch] or [batch, frames]; got {tuple(t.shape)}")
        e = self.dit.time_embedding(timestep_embedding(t, self.config.freq_dim).to(self.dtype))
        e0 = self.dit.time_projection(e).unflatten(-1, (6, self.config.dim))
        return tokens, grid, e, e0

    def _qkv(self, attn: nn.Module, h: torch.Tensor):
        b, n, _ = h.shape
        heads, hd = self.config.num_heads, self.config.head_dim
        q = attn.norm_q(attn.q(h)).view(b, n, heads, hd)
        k = attn.norm_k(attn.k(h)).view(b, n, heads, hd)
        v = attn.v(h).view(b, n, heads, hd)
        return q, k, v

    def _cross(self, attn: nn.Module, x: torch.Tensor, kv) -> torch.Tensor:
        b, n, _ = x.shape
        k, v = kv
        q = attn.norm_q(attn.q(x)).view(b, n, self.config.num_heads, self.config.head_dim)
        if k.dim() == 5:  # per-block prompts [B|1, blocks, L, H, D]: block j's tokens attend to prompt j
            blocks = k.shape[1]
            q = q.view(b * blocks, n // blocks, *q.shape[2:])
            k, v = (y.expand(b, *y.shape[1:]).reshape(b * blocks, *y.shape[2:]) for y in (k, v))
        elif k.shape[0] != b:
            k, v = k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)
        return attn.o(attend(q, k, v, backend=self.attention).reshape(b, n, -1))

    def _blocks(self, x, grid, e0, text: TextContext, self_attention: Callable) -> torch.Tensor:
        b, n, dim = x.shape
        frames = grid[0]
        for i, blk in enumerate(self.dit.blocks):
            mod = (blk.modulation.to(e0.device, e0.dtype).unsqueeze(0) + e0).unsqueeze(3)  # [B, F, 6, 1, dim]
            shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(2)
            per_frame = lambda y: y.view(b, frames, -1, dim)  # noqa: E731
            h = (blk.norm1(per_frame(x)) * (1 + scale1) + shift1).view(b, n, dim)
            y = self_attention(i, blk.self_attn, h)
            x = x + (per_frame(y) * gate1).view(b, n, dim)
            x = x + self._cross(blk.cross_attn, blk.norm3(x), text.kv[i])
            h = (blk.norm2(per_frame(x)) * (1 + scale2) + shift2).view(b, n, dim)
            x = x + (per_frame(blk.ffn(h)) * gate2).view(b, n, dim)
        return x

    def _head(self, x, grid, e) -> torch.Tensor:
        b, frames, gh, gw = x.shape[0], *grid
        head = self.dit.head
        shift, scale = (head.modulation.to(e.device, e.dtype).unsqueeze(0) + e.unsqueeze(2)).unsqueeze(3).unbind(2)
        out = head.head(head.norm(x.view(b, frames, gh * gw, -1)) * (1 + scale) + shift)
        pt, ph, pw = self.config.patch_size
        c = self.config.out_dim
        out = out.view(b, frames, gh, gw, pt, ph, pw, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return out.reshape(b, c, frames * pt, gh * ph, gw * pw)

    def _text(self, text, batch: int) -> TextContext:
        ctx = text if isinstance(text, TextContext) else self.prepare_text(text)
        if ctx.batch not in (1, batch):
            raise InputShapeError(f"text conditioning batch {ctx.batch} does not match latent batch {batch}")
        return ctx

    def _block_text(self, texts, batch: int, frames: int, frames_per_block: int) -> TextContext:
        """One prompt per block -> a TextContext whose K/V are stacked per block [B|1, blocks, L, H, D]."""
        blocks = len(texts)
        if frames % frames_per_block or frames // frames_per_block != blocks:
            raise InputShapeError(
                f"per-block prompts: {blocks} prompts for {frames} frames in blocks of {frames_per_block}; "
                f"give one prompt per block (frames must be a multiple of frames_per_block)"
            )
        ctxs = [self._text(text, batch) for text in texts]
        common = max(c.batch for c in ctxs)
        kv = []
        for i in range(len(ctxs[0].kv)):
            k = torch.stack([c.kv[i][0].expand(common, -1, -1, -1) for c in ctxs], dim=1)
            v = torch.stack([c.kv[i][1].expand(common, -1, -1, -1) for c in ctxs], dim=1)
            kv.append((k, v))
        return TextContext(kv=kv, source=ctxs[0].source)

    # ---------------------------------------------------------------- entry points
    def forward_full(self, x, t, text, *, mask: torch.Tensor | None = None, frame_offset: int = 0,
                     frames_per_block: int = 3) -> torch.Tensor:
        """Whole-sequence forward with absolute RoPE from `frame_offset`.

        text: one prompt for the whole sequence (conditioning [B, L, text_dim] or a TextContext), or a
        list/tuple of them, one per block of `frames_per_block` frames (per-block prompts: block j's
        tokens cross-attend to prompt j, as a stream switching prompts between blocks does).
        mask: [N, N] bool, True = attend (or [B, 1, N, N] for a mask per sample).
        """
        tokens, grid, e, e0 = self._embed(x, t)
        if isinstance(text, (list, tuple)):
            ctx = self._block_text(text, x.shape[0], grid[0], frames_per_block)
        else:
            ctx = self._text(text, x.shape[0])
        frames, gh, gw = grid
        rot = self.rotary.rotary(grid_positions(torch.arange(frames) + frame_offset, gh, gw), self.device)
        if mask is not None:
            mask = mask.to(self.device)

        def self_attention(i, attn, h):
            q, k, v = self._qkv(attn, h)
            return attn.o(attend_full(q, k, v, rot, mask))

        return self._head(self._blocks(tokens, grid, e0, ctx, self_attention), grid, e)

    def forward_block(self, x, t, text, memory: MemoryPolicy, *, write: bool) -> torch.Tensor:
        """One block of frames attending over `memory`; `write=True` is the clean pass that commits K/V."""
        tokens, grid, e, e0 = self._embed(x, t)
        ctx = self._text(text, x.shape[0])

        def self_attention(i, attn, h):
            q, k, v = self._qkv(attn, h)
            layer = memory.layer(i)
            out = attend_context(q, layer.context(q, k, v), self.attention)
            if write:
                layer.commit(q, k, v)
            return attn.o(out)

        return self._head(self._blocks(tokens, grid, e0, ctx, self_attention), grid, e)
