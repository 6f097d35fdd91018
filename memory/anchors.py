"""Bidirectional rolling anchors (notes §3.2): the anchor slots show a sliding window over the endless
palindromic traversal 0..A-1, A-1..0, 0..A-1, ... of the scene's first A clean frames."""
from __future__ import annotations


def inserted_block(scene_start: int, window: int, anchors: int, block: int) -> list[int]:
    """Anchor-pool frame ids inserted by the roll of the block starting at scene-local `scene_start`."""
    r = scene_start - (window - anchors)
    if (r // anchors) % 2:  # backward pass: frames reversed
        right = anchors - (r % anchors)
        return list(range(right - 1, right - block - 1, -1))
    left = r % anchors
    return list(range(left, left + block))


def roll_anchors(current: list[int] | None, scene_start: int, window: int, anchors: int, block: int) -> list[int]:
    """Anchor ids after the roll at `scene_start`: drop the oldest block, append the inserted one.
    Before the first roll the anchor slots hold the scene's frames 0..A-1 as the cache grew."""
    current = list(range(anchors)) if current is None else current
    return current[block:] + inserted_block(scene_start, window, anchors, block)
