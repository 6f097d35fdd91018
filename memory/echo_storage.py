"""Storage of the Echo-Forcing memory: ring, anchor pool and one layer's work buffer (all layers in
one tensor each; nothing is stored twice).

  ring  - the scene's last W clean frames, scene frame f in slot f % W; after a switch the staged
          old-scene memory (o <= 3 frames) waits in the last o slots, which the young scene cannot
          reach before that memory is evicted;
  pool  - the scene's first A clean frames: the anchor pool and the recall-frame candidates;
  work  - ONE layer's assembled context (steady state, or growth with staged old memory), reused by
          every layer in turn: scratch, never saved.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..engine.layout import ANCHOR, COMPRESSED, CURRENT, RING, BlockLayout
from ..engine.memory_api import CacheGeometry
from ..engine.state import copy_into


def token_index(frames: list[int], frame_tokens: int, device) -> torch.Tensor:
    """Token indices of whole frames, in the given frame order."""
    f = torch.tensor(frames, dtype=torch.long)
    return (f[:, None] * frame_tokens + torch.arange(frame_tokens)).flatten().to(device)


def gather_tokens(source: torch.Tensor, index: torch.Tensor, out: torch.Tensor) -> None:
    """out [B, len(index), H, D] = source [B, N, H, D] at token `index` (written in place, no temporary when
    `out` is contiguous, i.e. batch 1)."""
    if out.is_contiguous():
        torch.index_select(source, 1, index, out=out)
    else:
        out.copy_(source.index_select(1, index))


def slot_runs(slots) -> list[tuple[int, int, int]]:
    """The block's frames in ring `slots` as runs of consecutive slots: (first slot, first frame of the block,
    frames). One run unless the block wraps around the ring's end."""
    runs: list[list[int]] = []
    for j, slot in enumerate(slots):
        if runs and runs[-1][0] + runs[-1][2] == slot:
            runs[-1][2] += 1
        else:
            runs.append([slot, j, 1])
    return [tuple(run) for run in runs]


@dataclass
class SteadyGather:
    """Index tables of one steady block: made at its first layer, read by every layer and pass."""

    layout: BlockLayout
    anchors: torch.Tensor  # pool token indices of the anchors, in context order
    recent: torch.Tensor  # ring token indices of the recent frames
    history: dict = field(default_factory=dict)  # layer -> (its selection, ring indices of [compressed | recent])
    parts: tuple | None = None  # the work buffers' [anchors], [compressed | recent], [block] views, K and V


class EchoStorage:
    def __init__(self, geometry: CacheGeometry, window: int, anchor_frames: int):
        g = geometry
        self.t, self.window, self.anchor_frames = g.frame_tokens, window, anchor_frames
        L, B, kv = g.num_layers, g.batch, (g.num_heads, g.head_dim)
        alloc = lambda *shape: torch.zeros(shape, dtype=g.dtype, device=g.device)  # noqa: E731
        self.ring_k, self.ring_v = alloc(L, B, window * self.t, *kv), alloc(L, B, window * self.t, *kv)
        self.pool_k = alloc(L, B, anchor_frames * self.t, *kv)
        self.pool_v = alloc(L, B, anchor_frames * self.t, *kv)
        self.work_k, self.work_v = alloc(B, window * self.t, *kv), alloc(B, window * self.t, *kv)
        self._gather: SteadyGather | None = None  # scratch of the current steady block

    def ring_keys(self, i: int, start: int = 0, end: int | None = None) -> torch.Tensor:
        """Layer i's ring keys [B, tokens, H, D] in the model's dtype (the stored tensor itself here)."""
        return self.ring_k[i][:, start:end]

    def slot(self, frame: int) -> int:
        """Ring slot of the current scene's frame."""
        return frame % self.window

    def stage_old(self, recall: tuple[torch.Tensor, torch.Tensor] | None, slots: list[int]) -> int:
        """Put the old scene's memory in the last o ring slots: its recall frame (`recall`: (k, v) of every
        layer, [L, B, T, H, D], on any device), then the ring frames at `slots` (its last frames, read
        before they are overwritten). One layer at a time, so a switch holds one layer's staged frames at
        once instead of every layer's. Returns o."""
        o = (recall is not None) + len(slots)
        for i in range(self.ring_k.shape[0]):
            for name, part in (("ring_k", 0), ("ring_v", 1)):
                frames = [self.read_frames(name, i, s) for s in slots]
                if recall is not None:
                    frames.insert(0, recall[part][i])
                for j, frame in enumerate(frames):
                    self.write_frames(name, i, self.window - o + j, frame)
        return o

    def read_frames(self, name: str, i: int, slot: int) -> torch.Tensor:
        """A copy of layer i's ring frame in `slot`, in the model's dtype."""
        return getattr(self, name)[i][:, slot * self.t:(slot + 1) * self.t].clone()

    def write_frames(self, name: str, i: int, slot: int, x: torch.Tensor) -> None:
        """Layer i's ring frame(s) from `slot` on = x [B, frames * T, H, D] (from any device)."""
        getattr(self, name)[i][:, slot * self.t:slot * self.t + x.shape[1]] = x

    def pool_frames(self, i: int, frames) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer i's anchor-pool frames stacked [C, B, T, H, D] (recall-frame candidates)."""
        t = self.t
        return tuple(torch.stack([pool[i][:, f * t:(f + 1) * t] for f in frames]) for pool in (self.pool_k, self.pool_v))

    # ------------------------------------------------------------------ per layer
    def growth_context(self, i: int, k, v, scene_frames: int, old_frames: int):
        """Stage the block in its free ring slots; the context is the ring's prefix, after the staged
        old memory (last o ring slots, assembled in front in the work buffer) when there is one."""
        t, o = self.t, old_frames
        end = scene_frames * t + k.shape[1]
        self.ring_k[i][:, end - k.shape[1]:end] = k
        self.ring_v[i][:, end - v.shape[1]:end] = v
        keys, values = self.ring_k[i][:, :end], self.ring_v[i][:, :end]
        if o:
            staged = (self.window - o) * t
            for work, ring, scene in ((self.work_k, self.ring_k[i], keys), (self.work_v, self.ring_v[i], values)):
                work[:, :o * t] = ring[:, staged:]
                work[:, o * t:o * t + end] = scene
            keys, values = self.work_k[:, :o * t + end], self.work_v[:, :o * t + end]
        return keys, values

    def steady_gather(self, layout: BlockLayout) -> SteadyGather:
        """The steady block's index tables, so a layer's context is three copies (anchors, compressed +
        recent, block) instead of one per frame."""
        if self._gather is None or self._gather.layout is not layout:
            kinds = [source.kind for source in layout.sources]
            a, r = kinds.count(ANCHOR), kinds.count(RING)
            c, n = kinds.count(COMPRESSED), kinds.count(CURRENT)
            if kinds != [ANCHOR] * a + [COMPRESSED] * c + [RING] * r + [CURRENT] * n:
                raise AssertionError(f"a steady layout is [anchors | compressed | recent | block], got {kinds}")
            tokens = lambda kind: token_index(  # noqa: E731
                [s.index for s in layout.sources if s.kind == kind], self.t, self.ring_k.device)
            self._gather = SteadyGather(layout, tokens(ANCHOR), tokens(RING))
        return self._gather

    def ring_gather(self, i: int, layout: BlockLayout, selected: torch.Tensor) -> torch.Tensor:
        """Layer i's ring token indices of [compressed | recent] ([B, n] with per-sample selection), made on
        the block's first pass and kept for its other passes."""
        tables = self.steady_gather(layout)
        kept = tables.history.get(i)
        if kept is None or kept[0] is not selected:
            both = torch.cat([selected, tables.recent.expand(*selected.shape[:-1], -1)], dim=-1)
            kept = tables.history[i] = (selected, both)
        return kept[1]

    def steady_context(self, i: int, layout: BlockLayout, selected: torch.Tensor, k, v):
        """Assemble [anchors | compressed tokens | recent frames | block] of layer i in the work buffer."""
        tables = self.steady_gather(layout)
        history = self.ring_gather(i, layout, selected)
        if tables.parts is None:  # the same slices for every layer and pass of the block
            a_end = len(tables.anchors)
            r_end = a_end + history.shape[-1]
            tables.parts = tuple((work[:, :a_end], work[:, a_end:r_end], work[:, r_end:])
                                 for work in (self.work_k, self.work_v))
        for (anchors_part, history_part, block_part), ring, pool, new in (
                (tables.parts[0], self.ring_k[i], self.pool_k[i], k), (tables.parts[1], self.ring_v[i], self.pool_v[i], v)):
            gather_tokens(pool, tables.anchors, anchors_part)
            if history.dim() == 2:  # per-sample selection
                for b in range(len(history)):
                    torch.index_select(ring[b], 0, history[b], out=history_part[b])
            else:
                gather_tokens(ring, history, history_part)
            block_part.copy_(new)
        return self.work_k, self.work_v

    def commit_ring(self, i: int, slots, k, v) -> None:
        t = self.t
        for slot, j, n in slot_runs(slots):  # one copy per run of slots
            self.ring_k[i][:, slot * t:(slot + n) * t] = k[:, j * t:(j + n) * t]
            self.ring_v[i][:, slot * t:(slot + n) * t] = v[:, j * t:(j + n) * t]

    def commit_pool(self, i: int, first_frame: int, frames: int, k, v) -> None:
        t, n = self.t, first_frame
        self.pool_k[i][:, n * t:(n + frames) * t] = k[:, :frames * t]
        self.pool_v[i][:, n * t:(n + frames) * t] = v[:, :frames * t]

    # ------------------------------------------------------------------ bookkeeping
    def tensors(self) -> dict[str, torch.Tensor]:
        return {"ring_k": self.ring_k, "ring_v": self.ring_v, "pool_k": self.pool_k, "pool_v": self.pool_v,
                "work_k": self.work_k, "work_v": self.work_v}

    def state_dict(self) -> dict:
        return {"ring_k": self.ring_k, "ring_v": self.ring_v, "pool_k": self.pool_k, "pool_v": self.pool_v}

    def load_state_dict(self, state: dict, owner: str) -> None:
        for name in ("ring_k", "ring_v", "pool_k", "pool_v"):
            copy_into(getattr(self, name), state[name], name, owner)
