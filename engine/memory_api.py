"""The interface between the transformer and a KV memory policy.

Per block the stream calls `begin_block(event)`, which returns the block's `BlockLayout` (RoPE ids,
where each context frame comes from, ...: engine/layout.py), then runs several forwards of the block;
inside each, self-attention layer i asks `policy.layer(i).context(q, k, v)` for what to attend over.
`context` may only stage the block's own K/V (in the slots it will hold); on the clean write pass
`commit(q, k, v)` makes them final. After the block the stream calls `end_block()`.

Keys are handed over *before* RoPE; the policy returns position ids (as `Rotary`) for its keys
and for the queries, so relative ids, anchors, recall frames and RoPE jumps are all policy
decisions. Optional per-token weights scale keys and values (Echo-Forcing's decay) or add a
log-bias to the logits.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from .layout import BlockLayout
from .rope import Rotary, RotaryEmbedding


@dataclass(frozen=True)
class CacheGeometry:
    """Everything a policy needs to size its buffers; no weights involved."""

    num_layers: int
    num_heads: int
    head_dim: int
    grid_h: int  # tokens per latent frame = grid_h * grid_w
    grid_w: int
    frames_per_block: int
    batch: int
    dtype: torch.dtype
    device: torch.device
    rotary: RotaryEmbedding = field(repr=False, compare=False)

    @property
    def frame_tokens(self) -> int:
        return self.grid_h * self.grid_w

    @property
    def block_tokens(self) -> int:
        return self.frames_per_block * self.frame_tokens


@dataclass
class BlockEvent:
    """What the stream tells the policy before a block: where it is and what changed."""

    index: int  # block index since the stream began
    start_frame: int  # absolute latent frame index of the block's first frame
    num_frames: int
    prompt_changed: bool = False  # the conditioning differs from the previous block's
    transition: str | None = None  # scene policies: "smooth", "cut", "recall", "auto"
    scene_index: int | None = None  # the caller's index of the block's scene; None: scenes numbered in order
    conditioning: torch.Tensor | None = None  # the raw text conditioning of this block
    prompt_feature: torch.Tensor | None = None  # the scene's prompt feature for recall by similarity
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. {"recall": label or index}


@dataclass
class AttentionContext:
    """What one self-attention layer attends over for the current forward.

    keys/values: [B, N, H, D], keys before RoPE (unless `keys_rotated`: the policy applied key_rotary
    itself, in a buffer of its own). key_rotary covers the N keys, query_rotary the
    block's queries. key_scale ([N] or [B, N]) multiplies roped keys and values; logit_bias
    ([N] or [B, N]) is added to the logits. Both are optional.
    """

    keys: torch.Tensor
    values: torch.Tensor
    key_rotary: Rotary
    query_rotary: Rotary
    key_scale: torch.Tensor | None = None
    logit_bias: torch.Tensor | None = None
    keys_rotated: bool = False


class LayerMemory(ABC):
    @abstractmethod
    def context(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionContext:
        """q, k, v of the current block ([B, N_block, H, D], pre-RoPE); returns the attention set."""

    def commit(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Called after `context` on the clean write pass; the block's K/V are final."""


class MemoryPolicy(ABC):
    """A bounded (or explicitly unbounded) KV memory with a per-block lifecycle."""

    geometry: CacheGeometry | None = None

    @abstractmethod
    def setup(self, geometry: CacheGeometry) -> None:
        """Allocate buffers for this geometry. Called once before the first block."""

    @abstractmethod
    def begin_block(self, event: BlockEvent) -> BlockLayout:
        """Settle the block's layout (layers read it; so do tests, charts and tools)."""

    @abstractmethod
    def layer(self, index: int) -> LayerMemory: ...

    def end_block(self) -> None:
        """Called after the block's write pass."""

    @abstractmethod
    def tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor the policy holds (for byte accounting and state saving)."""

    @abstractmethod
    def state_dict(self) -> dict:
        """What defines the stream from here on (see engine/state.py): no scratch, work buffers or history.
        Tensors may be the live buffers: copy them before the policy runs on."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` into this freshly set-up policy (same configuration and geometry)."""

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors().values())


class Recaching(ABC):
    """An optional capability (LongLive's KV re-cache): before a block, the policy may ask for the last
    N clean latent frames to be run again under the new prompt. The stream keeps the newest
    `max_recache_frames` clean frames only for policies that have this capability."""

    max_recache_frames: int

    @abstractmethod
    def recache_request(self, event: BlockEvent) -> int:
        """How many of the newest clean frames to re-encode before `event`'s block (0 = none)."""

    @abstractmethod
    def begin_recache(self, start_frame: int, num_frames: int) -> BlockLayout:
        """The next forward (write=True) re-encodes frames [start, start+num) in place."""

    def end_recache(self) -> None:
        """The re-cache forward is done."""


def recache_frames(policy: MemoryPolicy) -> int:
    """How many clean frames a stream must keep for `policy` (0 without the re-cache capability)."""
    return policy.max_recache_frames if isinstance(policy, Recaching) else 0
