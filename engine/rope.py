"""Wan's 3D rotary position embedding, applied from explicit per-token (t, h, w) ids.

head_dim d is split into a temporal part of d - 4*(d//6) dims and two spatial parts of
2*(d//6) dims each (44/42/42 for d = 128). Each axis has its own frequency schedule
theta^(-2j/d_axis); pairs are adjacent reals (x[2i], x[2i+1]). Callers (the memory policies)
decide the ids, so positions can be relative, jumped or recycled without touching the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


def axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Real dims per axis (t, h, w) for a head of `head_dim`."""
    spatial = 2 * (head_dim // 6)
    temporal = head_dim - 2 * spatial
    if head_dim % 2 or temporal % 2 or spatial == 0:
        raise ValueError(f"head_dim {head_dim} cannot be split into Wan's 3D RoPE axes")
    return temporal, spatial, spatial


@dataclass(frozen=True)
class Rotary:
    """cos/sin of every token's rotation angles, [N, head_dim/2] float32, and the same as one complex
    number per pair (`cis`, complex64), which is what `apply_rotary` multiplies by."""

    cos: torch.Tensor
    sin: torch.Tensor
    cis: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "cis", torch.complex(self.cos, self.sin))

    def __len__(self) -> int:
        return self.cos.shape[0]


class RotaryEmbedding:
    """Turns [N, 3] integer (t, h, w) ids into a `Rotary`; stateless apart from the frequencies."""

    def __init__(self, head_dim: int, theta: float = 10000.0):
        self.head_dim = head_dim
        self.theta = theta
        self.freqs = [
            theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d) for d in axis_dims(head_dim)
        ]

    def rotary(self, positions: torch.Tensor, device=None) -> Rotary:
        """positions: [N, 3] (t, h, w). Angles are formed in float64 so large ids stay exact."""
        pos = positions.to(device="cpu", dtype=torch.float64)
        angles = torch.cat([pos[:, a, None] * self.freqs[a] for a in range(3)], dim=1)
        return Rotary(angles.cos().float().to(device), angles.sin().float().to(device))


def grid_positions(frame_ids, height: int, width: int) -> torch.Tensor:
    """[F*height*width, 3] ids for whole frames with the given temporal ids, row-major (f, h, w)."""
    t = torch.as_tensor(frame_ids, dtype=torch.long).reshape(-1)
    f = t.numel()
    tt = t.view(f, 1, 1).expand(f, height, width)
    hh = torch.arange(height).view(1, height, 1).expand(f, height, width)
    ww = torch.arange(width).view(1, 1, width).expand(f, height, width)
    return torch.stack([tt, hh, ww], dim=-1).reshape(-1, 3)


# Pairs per head that the CPU's vector kernels cover whole (AVX2 and AVX-512 hold 4 and 8 complex floats a
# vector, two vectors a step; checked bit for bit on AVX2). Elsewhere a scalar tail remains, which may fuse
# a*c - b*d into one multiply-add and round differently from the real formula (seen at head_dim 24: 1 ulp).
WHOLE_VECTOR_PAIRS = 16


def apply_rotary(x: torch.Tensor, rot: Rotary) -> torch.Tensor:
    """Rotate x [B, N, H, D] by rot ([N, D/2]); computed in float32, returned in x's dtype.

    Each pair (x[2i], x[2i+1]) is one complex number times cos + i sin: one complex multiply over the
    tensor instead of four real multiplies, two adds and a stack; 3-6x faster on the CPU. The CPU's vector
    kernel forms the same products and sums, so its float32 results equal the real formula's bit for bit
    (tested at head_dim 128); on CUDA the compiler may fuse a multiply and an add (within an ulp; the GPU
    check reports it). Head sizes whose pair count the vector kernels do not cover whole (small test
    models) take the real formula, so their outputs stay bit for bit as they were."""
    b, n, h, d = x.shape
    if len(rot) != n:
        raise ValueError(f"rotary covers {len(rot)} tokens but the tensor has {n}")
    if (d // 2) % WHOLE_VECTOR_PAIRS:
        return rotate_pairs_real(x, rot)
    pairs = torch.view_as_complex(x.float().reshape(b, n, h, d // 2, 2))
    return torch.view_as_real(pairs * rot.cis.view(1, n, 1, d // 2)).reshape(b, n, h, d).to(x.dtype)


def rotate_pairs_real(x: torch.Tensor, rot: Rotary) -> torch.Tensor:
    """The rotation written out in real arithmetic (x0 cos - x1 sin, x0 sin + x1 cos)."""
    b, n, h, d = x.shape
    x0, x1 = x.float().reshape(b, n, h, d // 2, 2).unbind(-1)
    cos = rot.cos.view(1, n, 1, d // 2)
    sin = rot.sin.view(1, n, 1, d // 2)
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).reshape(b, n, h, d).to(x.dtype)


def rotate_in_place(x: torch.Tensor, rot: Rotary) -> torch.Tensor:
    """`apply_rotary` written back into x (a policy's own work buffer): the same values, no new tensor
    where x is float32 and the complex path applies."""
    b, n, h, d = x.shape
    if x.dtype != torch.float32 or (d // 2) % WHOLE_VECTOR_PAIRS or not x.is_contiguous() or len(rot) != n:
        return x.copy_(apply_rotary(x, rot))
    pairs = torch.view_as_complex(x.view(b, n, h, d // 2, 2))
    torch.mul(pairs, rot.cis.view(1, n, 1, d // 2), out=pairs)
    return x
