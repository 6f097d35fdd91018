"""Difference-aware memory decay (notes §6.1): per spatial position p, d = 1 - cos(k_new[p], k_old[p])
over all heads' dims, min-max normalised; r = r_max - (r_max - r_min) * d_hat. Positions that changed
a lot forget fast."""
from __future__ import annotations

import torch


def difference_rates(k_new: torch.Tensor, k_old: torch.Tensor, rate_min: float, rate_max: float,
                     per_sample: bool = False) -> torch.Tensor:
    """k_new, k_old [B, T, H, D] -> rates [T] (batch-averaged difference) or [B, T] (per sample)."""
    d = 1 - torch.nn.functional.cosine_similarity(k_new.float().flatten(2), k_old.float().flatten(2), dim=-1)
    if not per_sample:
        d = d.mean(dim=0, keepdim=True)
    lo, hi = d.amin(dim=-1, keepdim=True), d.amax(dim=-1, keepdim=True)
    span = hi - lo
    d_hat = torch.where(span < 1e-6, torch.zeros_like(d), (d - lo) / span.clamp(min=1e-6))
    rates = (rate_max - (rate_max - rate_min) * d_hat).clamp(rate_min, rate_max)
    return rates if per_sample else rates[0]
