"""The shape of a Wan2.1 DiT, read from a checkpoint's tensors (any size: 1.3B, 14B, tiny)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import CheckpointError

HEAD_DIM = 128  # every released Wan2.1 model uses 128-dim heads


@dataclass(frozen=True)
class WanConfig:
    dim: int = 1536
    ffn_dim: int = 8960
    num_heads: int = 12
    num_layers: int = 30
    in_dim: int = 16
    out_dim: int = 16
    text_dim: int = 4096
    freq_dim: int = 256
    text_len: int = 512
    patch_size: tuple[int, int, int] = (1, 2, 2)
    eps: float = 1e-6

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @classmethod
    def from_state_dict(cls, sd: dict, num_heads: int | None = None, source: str = "checkpoint") -> "WanConfig":
        """Infer the config from original-name tensors; num_heads defaults to dim // 128."""
        def shape(key):
            if key not in sd:
                raise CheckpointError(f"{source}: missing tensor '{key}', so this is not a Wan2.1 DiT")
            return tuple(sd[key].shape)

        pe = shape("patch_embedding.weight")
        dim, in_dim, patch = pe[0], pe[1], tuple(pe[2:])
        layers = {int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d+)\.", k))}
        if not layers:
            raise CheckpointError(f"{source}: no 'blocks.N.*' tensors found, so this is not a Wan2.1 DiT")
        heads = num_heads or (dim // HEAD_DIM if dim % HEAD_DIM == 0 else 0)
        if not heads or dim % heads:
            raise CheckpointError(
                f"{source}: hidden size {dim} is not a multiple of the 128-dim heads Wan uses; "
                f"pass num_heads explicitly for a custom model"
            )
        out_total = shape("head.head.weight")[0]
        return cls(
            dim=dim,
            ffn_dim=shape("blocks.0.ffn.0.weight")[0],
            num_heads=heads,
            num_layers=max(layers) + 1,
            in_dim=in_dim,
            out_dim=out_total // math.prod(patch),
            text_dim=shape("text_embedding.0.weight")[1],
            freq_dim=shape("time_embedding.0.weight")[1],
            patch_size=patch,
        )
