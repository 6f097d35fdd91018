"""The block layout: what `MemoryPolicy.begin_block` settled for one block, as one public record.

Per-layer memory reads it to assemble the attention set; tests, charts, the demo and benchmarks read
it to see what a block did. The layout is frozen. What only the first pass of each layer can know
(the compressed tokens it selected, the drift gate it measured, RoPE and old-memory weights derived
from those) goes into that layer's `LayerRecord`, which is filled once and then read-only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .errors import EchoError
from .rope import Rotary

# where a context frame comes from
ANCHOR = "anchor"  # the scene's anchor pool (its first clean frames); index = pool frame
RING = "ring"  # the scene's recent frames in the ring; index = ring slot
COMPRESSED = "compressed"  # tokens selected from the older history; index = compressed frame 0..C-1
OLD = "old"  # the previous scene's staged memory (recall frame, last frames); index = ring slot
CURRENT = "current"  # the block's own frames; index = frame within the block
CACHE = "cache"  # a whole-frame cache slot (frame caches); index = slot
TOKEN_GROUPS = {ANCHOR: "anchors", COMPRESSED: "compressed", RING: "recent", CURRENT: "current", OLD: "old",
                CACHE: "recent"}


@dataclass(frozen=True)
class FrameSource:
    kind: str
    index: int
    frame: int | None = None  # the frame it holds (scene-local for scene memories, absolute for caches)


class LayerRecord:
    """What one layer's first pass of the block settled; filled once, then read-only."""

    __slots__ = ("_values",)

    def __init__(self):
        self._values: dict | None = None

    def fill(self, *, selected: torch.Tensor | None = None, gate=None, key_rotary: Rotary | None = None,
             key_scale: torch.Tensor | None = None, logit_bias: torch.Tensor | None = None) -> None:
        if self._values is not None:
            raise EchoError("a layer record is filled once per block")
        self._values = {"selected": selected, "gate": gate, "key_rotary": key_rotary, "key_scale": key_scale,
                        "logit_bias": logit_bias}

    @property
    def filled(self) -> bool:
        return self._values is not None

    def _get(self, name):
        return None if self._values is None else self._values[name]

    @property
    def selected(self) -> torch.Tensor | None:
        """Ring token indices of the compressed history ([C*T], or [B, C*T] per sample)."""
        return self._get("selected")

    @property
    def gate(self):
        """The drift gate g measured on this layer's first pass (1.0 when the gate is off)."""
        return self._get("gate")

    @property
    def key_rotary(self) -> Rotary | None:
        """This layer's own key RoPE (true spatial ids of its selected tokens), else the layout's."""
        return self._get("key_rotary")

    @property
    def key_scale(self) -> torch.Tensor | None:
        return self._get("key_scale")

    @property
    def logit_bias(self) -> torch.Tensor | None:
        return self._get("logit_bias")


@dataclass(frozen=True)
class BlockLayout:
    block: int  # the block index of the stream
    phase: str  # "growth" / "steady" (scene memory), "window" (frame caches), "recache"
    key_frame_ids: tuple[int, ...]  # temporal RoPE id of each context frame, in context order
    query_frame_ids: tuple[int, ...]
    sources: tuple[FrameSource, ...]  # where each context frame comes from, in context order
    frame_tokens: int
    key_rotary: Rotary = field(repr=False, compare=False)
    query_rotary: Rotary = field(repr=False, compare=False)
    layers: tuple[LayerRecord, ...] = field(default=(), repr=False, compare=False)
    scene: int | None = None
    label: str | None = None
    transition: str | None = None  # how the scene began, on its first block only
    jump: int = 0  # RoPE jump added to the block's own ids
    anchor_ids: tuple[int, ...] | None = None  # anchor pool frame in each anchor slot (steady phase)
    old_scene: int | None = None  # the scene whose recall frame is staged (old-scene memory)
    old_weights: torch.Tensor | None = field(default=None, repr=False, compare=False)  # [L, T] or [L, B, T]
    old_rates: torch.Tensor | None = field(default=None, repr=False, compare=False)  # per block, once known

    @property
    def steady(self) -> bool:
        return self.phase == "steady"

    def tokens(self) -> dict[str, int]:
        """Context tokens by group: anchors, compressed, recent, current, old."""
        counts = dict.fromkeys(("anchors", "compressed", "recent", "current", "old"), 0)
        for source in self.sources:
            counts[TOKEN_GROUPS[source.kind]] += self.frame_tokens
        return counts

    def old_weight(self) -> float | None:
        """Mean weight of the staged old-scene memory (a host sync: for records and charts)."""
        return None if self.old_weights is None else float(self.old_weights.mean())

    def record(self) -> dict:
        """A JSON-able summary (demo, charts, soak)."""
        return {"block": self.block, "scene": self.scene, "label": self.label, "transition": self.transition,
                "phase": self.phase, "key_frame_ids": list(self.key_frame_ids),
                "query_frame_ids": list(self.query_frame_ids), "jump": self.jump,
                "anchor_ids": None if self.anchor_ids is None else list(self.anchor_ids),
                "tokens": self.tokens(), "old_weight": self.old_weight(), "old_scene": self.old_scene}
