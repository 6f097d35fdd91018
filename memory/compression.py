"""Drift-gated phase compression (notes §3.3): keep the history tokens whose keys the scene's typical
query would attend to over the coming frames.

For a pre-RoPE key k and the calibrated complex query mean q, per head h and frequency pair f,
A = |q||k| and phi = arg(q conj(k)). With temporal distance D = t_last + 1 - t_k and future offsets d:
  base(h, d) = sum_{f temporal} A cos(w_f (D + d) + phi) + sum_{f spatial} A cos(phi)
  extra(h)   = sum_f (m_f - |q_f|) |k_f|            (magnitude compensation, >= 0)
  score(h, d) = base + g * extra,   g = exp(-lambda (1 - cos(q_recent, q)))   (drift gate)
fused by mean (or max) over d then h. Since A cos(x + phi) = Re(q conj(k) e^{ix}), the base term is a
dot product of the real key with a per-(frame, d, h) weight vector: no [tokens, heads, offsets, pairs]
tensor is ever formed.
"""
from __future__ import annotations

import torch

from ..engine.rope import axis_dims


def as_pairs(x: torch.Tensor) -> torch.Tensor:
    """[..., D] real -> [..., D/2] complex (adjacent reals are one pair, as in Wan's RoPE)."""
    return torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2).contiguous())


class QueryCalibration:
    """Per-layer running complex mean and mean magnitude of pre-RoPE queries (clean passes)."""

    def __init__(self, num_layers: int, heads: int, head_dim: int, device):
        shape = (num_layers, heads, head_dim // 2)
        self.sum = torch.zeros(shape, dtype=torch.complex64, device=device)
        self.abs_sum = torch.zeros(shape, dtype=torch.float32, device=device)
        self.count = torch.zeros(num_layers, dtype=torch.float64)
        self.mean: torch.Tensor | None = None  # finalised q-bar [L, H, P] complex
        self.abs_mean: torch.Tensor | None = None  # m-bar [L, H, P]

    @property
    def ready(self) -> bool:
        return self.mean is not None

    def reset(self) -> None:
        self.sum.zero_()
        self.abs_sum.zero_()
        self.count.zero_()
        self.mean = self.abs_mean = None

    def add(self, layer: int, q: torch.Tensor) -> None:
        """q [B, N, H, D] pre-RoPE."""
        qc = as_pairs(q)
        self.sum[layer] += qc.sum(dim=(0, 1))
        self.abs_sum[layer] += qc.abs().sum(dim=(0, 1))
        self.count[layer] += q.shape[0] * q.shape[1]

    def finalise(self) -> None:
        n = self.count.clamp(min=1).to(torch.float32).to(self.sum.device).view(-1, 1, 1)
        self.mean = self.sum / n
        self.abs_mean = self.abs_sum / n


def drift_gate(q_recent: torch.Tensor, q_mean: torch.Tensor, lam: float) -> torch.Tensor:
    """exp(-lambda (1 - cos)) between the current block's complex query mean and the calibrated one:
    a 0-dim float64 tensor on their device (no host sync; float64 as the scalar formula was)."""
    a, b = torch.view_as_real(q_recent).flatten(), torch.view_as_real(q_mean).flatten()
    cos = torch.nn.functional.cosine_similarity(a, b, dim=0).clamp(-1, 1).double()
    return torch.exp(-lam * (1.0 - cos))


def temporal_pairs(head_dim: int) -> int:
    return axis_dims(head_dim)[0] // 2


def phase_rotations(distances: torch.Tensor, offsets, head_dim: int, device) -> torch.Tensor:
    """e^{i w_f (D + d)} [F, O, pt] complex64 for frames at temporal distances D and future offsets d."""
    pt = temporal_pairs(head_dim)
    omega = 10000.0 ** (-torch.arange(pt, dtype=torch.float64) * 2 / (2 * pt))  # = RoPE's temporal freqs
    offs = torch.tensor(list(offsets), dtype=torch.float64)
    angle = omega.view(1, 1, pt) * (distances.double().view(-1, 1, 1).cpu() + offs.view(1, -1, 1))  # [F, O, pt]
    return torch.polar(torch.ones_like(angle), angle).to(torch.complex64).to(device)


def phase_scores(keys: torch.Tensor, distances: torch.Tensor, q_mean: torch.Tensor, abs_mean: torch.Tensor,
                 gate, offsets, fusion: str = "sum", compensate: bool = True,
                 rotations: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of candidate keys.

    keys [F, T, H, D] pre-RoPE (one sample, F candidate frames of T tokens); distances [F] the
    temporal distance D of each frame; q_mean [H, P] complex; abs_mean [H, P]; gate a number or a
    0-dim tensor. `rotations`: `phase_rotations(distances, offsets, ...)` when the caller has them.
    Returns [F, T].
    """
    frames, tokens, heads, head_dim = keys.shape
    pairs = head_dim // 2
    pt = temporal_pairs(head_dim)
    offsets = list(offsets)
    rot = rotations if rotations is not None else phase_rotations(distances, offsets, head_dim, keys.device)
    # weight w[F, O, H, P] such that base = Re(sum_P conj(k) * w) = sum(k_re w_re + k_im w_im)
    w = q_mean.view(1, 1, heads, pairs).expand(frames, len(offsets), heads, pairs).clone()
    w[..., :pt] = w[..., :pt] * rot.view(frames, len(offsets), 1, pt)
    w_real = torch.view_as_real(w).reshape(frames, len(offsets), heads, head_dim)
    k = keys.float()
    base = torch.einsum("fthd,fohd->ftoh", k, w_real)  # [F, T, O, H]
    if compensate:
        kabs = k.view(frames, tokens, heads, pairs, 2).pow(2).sum(-1).sqrt()  # |k| per pair [F, T, H, P]
        extra = torch.einsum("fthp,hp->fth", kabs, (abs_mean - q_mean.abs()).float())
        base = base + gate * extra.unsqueeze(2)
    if fusion == "max":
        return base.amax(dim=(2, 3))
    return base.mean(dim=(2, 3))


def magnitude_term(keys: torch.Tensor, q_mean: torch.Tensor, abs_mean: torch.Tensor) -> torch.Tensor:
    """The magnitude compensation `extra` of keys [F, T, H, D] averaged over heads, [F, T] (the drift gate
    not applied). It depends on the key and the scene's calibration only, so a memory computes it once per
    stored frame instead of once per block."""
    frames, tokens, heads, head_dim = keys.shape
    pairs = head_dim // 2
    squares = keys.float().square().view(frames * tokens, heads, pairs, 2)
    kabs = (squares[..., 0] + squares[..., 1]).sqrt()  # |k| per pair (a sum over a size-2 dim is slow on the CPU)
    weight = (abs_mean - q_mean.abs()).float().reshape(heads * pairs, 1)
    return (kabs.reshape(frames * tokens, heads * pairs) @ weight).view(frames, tokens) / heads


def mean_phase_weight(q_mean: torch.Tensor, mean_rotation: torch.Tensor) -> torch.Tensor:
    """The real weight [F, H*D] whose dot product with a key is its `base` score averaged over the offsets
    and heads: base is linear in the rotation, so the mean over offsets is taken on the rotations
    (`mean_rotation` [F, pt]: `phase_rotations(...).mean(dim=1)`) instead of on the scores. q_mean [..., H, P]
    (several layers at once) gives [..., F, H*D]."""
    *lead, heads, pairs = q_mean.shape
    frames, pt = mean_rotation.shape
    w = q_mean.unsqueeze(-3).expand(*lead, frames, heads, pairs).clone()
    w[..., :pt] = w[..., :pt] * mean_rotation.view(frames, 1, pt)
    return torch.view_as_real(w).reshape(*lead, frames, heads * pairs * 2) / heads


def mean_phase_scores(keys: torch.Tensor, weight: torch.Tensor, magnitude: torch.Tensor | None, gate) -> torch.Tensor:
    """`phase_scores(..., fusion="sum")` from its two parts: keys [F, T, H, D], weight [F, H*D] from
    `mean_phase_weight`, magnitude [F, T] from `magnitude_term` (None without compensation). [F, T].
    The per-key form of what the selector keeps (`mean_phase_rows`): the reference its tests and
    `bench/score_timing.py` compare it with."""
    frames, tokens = keys.shape[:2]
    # a dot product per key (vecdot: several times faster than a batched matrix-vector product on the CPU)
    base = torch.linalg.vecdot(keys.float().reshape(frames, tokens, -1), weight.unsqueeze(1))
    return base if magnitude is None else base + gate * magnitude


def mean_phase_rows(keys: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The phase part of `mean_phase_scores` for keys [F, T, H, D] at several distances per frame: weights
    [F, K, H*D] (`mean_phase_weight` rows) -> [F, K, T]. One matrix product per frame for all K distances
    (no [F, K, T, H*D] temporary; `bench/score_timing.py` times the selector's path): the same sums in another
    order, so equal to `mean_phase_scores`' to float rounding."""
    frames, tokens = keys.shape[:2]
    return torch.bmm(weights, keys.float().reshape(frames, tokens, -1).transpose(1, 2))


def select_top(scores: torch.Tensor, count: int, blocked: torch.Tensor | None = None) -> torch.Tensor:
    """Indices (ascending, i.e. chronological) of the `count` best scores; blocked entries excluded."""
    flat = scores.flatten()
    if blocked is not None:
        flat = flat.masked_fill(blocked.flatten(), float("-inf"))  # a new tensor: the scores stay as they are
    count = min(count, flat.numel())
    return torch.topk(flat, count).indices.sort().values
