"""Echo-Forcing storage in 8-bit floating point: the ring and the anchor pool as float8 e4m3 with one
float32 scale per token and head, dequantised into the per-layer work buffer.

Each stored key/value vector (head_dim numbers of one token in one head) is divided by its own scale,
amax / 448 (e4m3's largest finite value), and rounded to e4m3: 3 mantissa bits, a relative rounding
error of at most 1/16 per number, the vector's largest entry kept exactly in range. Stored: 1 byte per
number plus 4 bytes per 128 numbers (Wan's head_dim), instead of 2 in bf16. The block being generated
is never rounded: its exact K/V go straight into the work buffer, after the dequantised history; only
what is kept for later blocks (ring, pool) is stored in 8 bits. The context is therefore always
assembled in the work buffer (one layer's window in the model's dtype), growth phase included.
"""
from __future__ import annotations

import torch

from ..engine.layout import BlockLayout
from ..engine.memory_api import CacheGeometry
from ..engine.state import copy_into, require
from ..engine.errors import EchoError
from .echo_storage import EchoStorage, slot_runs

FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0  # largest finite e4m3fn value
SCALED = ("ring_k", "ring_v", "pool_k", "pool_v")


def quantize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [..., D] -> (e4m3 [..., D], float32 scale [...]) with x ~= e4m3 * scale per vector."""
    xf = x.float()
    scale = xf.abs().amax(dim=-1).clamp(min=1e-12) / FP8_MAX
    return (xf / scale[..., None]).to(FP8), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (q.float() * scale[..., None]).to(dtype)


def dequantize_into(out: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> None:
    """out = dequantize(q, scale, out.dtype), written straight into `out` (a work-buffer slice)."""
    if out.dtype == torch.float32 and out.is_contiguous():
        torch.mul(q.float(), scale[..., None], out=out)
    else:
        out.copy_(q.float() * scale[..., None])


class Fp8EchoStorage(EchoStorage):
    def __init__(self, geometry: CacheGeometry, window: int, anchor_frames: int):
        g = geometry
        self.t, self.window, self.anchor_frames, self.dtype = g.frame_tokens, window, anchor_frames, g.dtype
        L, B, H, D = g.num_layers, g.batch, g.num_heads, g.head_dim
        store = lambda n: torch.zeros((L, B, n * self.t, H, D), dtype=FP8, device=g.device)  # noqa: E731
        scales = lambda n: torch.zeros((L, B, n * self.t, H), dtype=torch.float32, device=g.device)  # noqa: E731
        self.ring_k, self.ring_v = store(window), store(window)
        self.pool_k, self.pool_v = store(anchor_frames), store(anchor_frames)
        self.scale = {"ring_k": scales(window), "ring_v": scales(window), "pool_k": scales(anchor_frames),
                      "pool_v": scales(anchor_frames)}
        self.work_k = torch.zeros((B, window * self.t, H, D), dtype=g.dtype, device=g.device)
        self.work_v = torch.zeros_like(self.work_k)
        self._gather = None

    # ------------------------------------------------------------------ 8-bit reads and writes
    # i: a layer, or slice(None) for every layer; where: token positions. Stores are [L, B, N, H, D],
    # scales [L, B, N, H], so one index serves both.
    def _put(self, name: str, i, where: slice, x: torch.Tensor) -> None:
        q, s = quantize(x)
        getattr(self, name)[i, :, where] = q
        self.scale[name][i, :, where] = s

    def _get(self, name: str, i, where: slice) -> torch.Tensor:
        return dequantize(getattr(self, name)[i, :, where], self.scale[name][i, :, where], self.dtype)

    def _frame(self, f: int) -> slice:
        return slice(f * self.t, (f + 1) * self.t)

    def ring_keys(self, i: int, start: int = 0, end: int | None = None) -> torch.Tensor:
        return self._get("ring_k", i, slice(start, end))

    def read_frames(self, name: str, i: int, slot: int) -> torch.Tensor:
        return self._get(name, i, self._frame(slot))

    def write_frames(self, name: str, i: int, slot: int, x: torch.Tensor) -> None:
        x = x.to(self.ring_k.device, self.dtype)
        self._put(name, i, slice(slot * self.t, slot * self.t + x.shape[1]), x)

    def pool_frames(self, i: int, frames):
        return tuple(torch.stack([self._get(name, i, self._frame(f)) for f in frames]) for name in ("pool_k", "pool_v"))

    # ------------------------------------------------------------------ per layer
    def growth_context(self, i: int, k, v, scene_frames: int, old_frames: int):
        """[staged old memory | the scene's frames] dequantised, then the block's exact K/V; the block is
        also stored (8-bit) in its ring slots, as the bf16 storage does."""
        t, o, n = self.t, old_frames, k.shape[1]
        end = scene_frames * t + n
        self._put("ring_k", i, slice(end - n, end), k)
        self._put("ring_v", i, slice(end - n, end), v)
        staged = slice((self.window - o) * t, self.window * t)
        for work, name, new in ((self.work_k, "ring_k", k), (self.work_v, "ring_v", v)):
            store, scale = getattr(self, name)[i], self.scale[name][i]
            if o:
                dequantize_into(work[:, :o * t], store[:, staged], scale[:, staged])
            dequantize_into(work[:, o * t:o * t + end - n], store[:, :end - n], scale[:, :end - n])
            work[:, o * t + end - n:o * t + end] = new
        return self.work_k[:, :o * t + end], self.work_v[:, :o * t + end]

    def steady_context(self, i: int, layout: BlockLayout, selected: torch.Tensor, k, v):
        anchors = self.steady_gather(layout).anchors
        history = self.ring_gather(i, layout, selected)
        a_end = len(anchors)
        r_end = a_end + history.shape[-1]
        for work, ring, pool, new in ((self.work_k, "ring_k", "pool_k", k), (self.work_v, "ring_v", "pool_v", v)):
            self._gather_dequantized(work[:, :a_end], pool, i, anchors)
            if history.dim() == 2:  # per-sample selection
                store, scale = getattr(self, ring)[i], self.scale[ring][i]
                for b in range(len(history)):
                    dequantize_into(work[b, a_end:r_end], store[b].index_select(0, history[b]),
                                    scale[b].index_select(0, history[b]))
            else:
                self._gather_dequantized(work[:, a_end:r_end], ring, i, history)
            work[:, r_end:] = new
        return self.work_k, self.work_v

    def _gather_dequantized(self, out: torch.Tensor, name: str, i: int, index: torch.Tensor) -> None:
        dequantize_into(out, getattr(self, name)[i].index_select(1, index), self.scale[name][i].index_select(1, index))

    def commit_ring(self, i: int, slots, k, v) -> None:
        t = self.t
        for slot, j, n in slot_runs(slots):
            self._put("ring_k", i, slice(slot * t, (slot + n) * t), k[:, j * t:(j + n) * t])
            self._put("ring_v", i, slice(slot * t, (slot + n) * t), v[:, j * t:(j + n) * t])

    def commit_pool(self, i: int, first_frame: int, frames: int, k, v) -> None:
        t, n = self.t, first_frame
        self._put("pool_k", i, slice(n * t, (n + frames) * t), k[:, :frames * t])
        self._put("pool_v", i, slice(n * t, (n + frames) * t), v[:, :frames * t])

    # ------------------------------------------------------------------ bookkeeping
    def tensors(self) -> dict[str, torch.Tensor]:
        return {**super().tensors(), **{f"{n}_scale": s for n, s in self.scale.items()}}

    def state_dict(self) -> dict:
        return {**super().state_dict(), **{f"{n}_scale": s for n, s in self.scale.items()}}

    def load_state_dict(self, state: dict, owner: str) -> None:
        require(state, [f"{n}_scale" for n in SCALED], owner + " (8-bit storage)")
        for name in SCALED:
            if state[name].dtype != FP8:
                raise EchoError(f"{owner} state: {name} is {state[name].dtype}, not 8-bit; it was saved with "
                                f"kv_storage='model': load it with that setting")
            copy_into(getattr(self, name), state[name], name, owner)
            copy_into(self.scale[name], state[f"{name}_scale"], f"{name}_scale", owner)
