"""How well generated video reads back as the script asked: the toy world's quality measures.

All measures compare read-back codes (exact matches of discrete codebook values), so chance levels
are known: 1/8 for a category, 1/16 for an instance's look (palette x pattern). The sprite's motion
is measured on its own (valid_motion): instance comparisons use the look, which one frame shows.
"""
from __future__ import annotations

from .clips import Clip, Step
from .instances import NUM_CODES
from .readback import BlockReading
from .rollout import Generated, ScriptBlock

CLEAN_RESIDUAL = 0.5  # a block whose frames lie within this relative distance of a clean world frame
INSTANCE_CHANCE = 1 / (NUM_CODES[0] * NUM_CODES[1])  # an exact match of (palette, pattern)


def _share(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def scene_starts(blocks: list[ScriptBlock]) -> list[int]:
    return [i for i, b in enumerate(blocks) if b.transition != "continue"]


def settled_block(start: int, end: int) -> int:
    """The block whose look stands for a scene running over blocks [start, end): its second block when
    it has one. The model's first block of a new scene is often still unsettled (another look than
    the blocks after it, which copy the second), so the second block is the scene's look."""
    return min(start + 1, end - 1)


def reference_block(start: int, end: int, reference: str) -> int:
    """The block a scene's look is taken from: "first" (its first block) or "settled" (settled_block)."""
    if reference not in ("first", "settled"):
        raise ValueError(f"reference must be 'first' or 'settled', got {reference!r}")
    return start if reference == "first" else settled_block(start, end)


def block_measures(blocks: list[ScriptBlock], readings: list[BlockReading], lag: int = 1,
                   reference: str = "first") -> dict:
    """Per-sample measures of one generated script.

    category_match: blocks whose category reads as prompted (the first `lag` blocks of each scene
    excluded, where a smooth switch may still be turning); clean: blocks within CLEAN_RESIDUAL of a
    clean world frame; consistency: blocks of a scene whose look (palette, pattern) equals the scene's
    look in its reference block ("first", or "settled": its second block, see settled_block)."""
    starts = scene_starts(blocks) + [len(blocks)]
    category, consistency = [], []
    for a, b in zip(starts, starts[1:]):
        category += [readings[i].category == blocks[i].category for i in range(min(a + lag, b), b)]
        ref = reference_block(a, b, reference)
        consistency += [readings[i].look == readings[ref].look for i in range(ref + 1, b)]
    return {"category_match": _share(category),
            "clean": _share(r.residual < CLEAN_RESIDUAL for r in readings),
            "consistency": _share(consistency),
            "valid_motion": _share(r.instance.motion >= 0 for r in readings),
            "blocks": len(blocks)}


def transition_outcomes(blocks: list[ScriptBlock], readings: list[BlockReading], settle: int = 1,
                        reference: str = "first") -> list[dict]:
    """For each transition of the script: what the block `settle` blocks after it reads as.

    smooth: carried (instance equals the one before the switch) and lag (blocks until the category
    reads as prompted); cut: clean (instance differs from the one before the cut; equal by chance
    with probability INSTANCE_CHANCE); return: recalled (instance equals the target scene's look in its
    reference block: "first" or "settled", see block_measures) and
    target_gone (the block before the return showed another look, so the return needed memory)."""
    starts = scene_starts(blocks) + [len(blocks)]
    settled = {a: reference_block(a, b, reference) for a, b in zip(starts, starts[1:])}
    first_block: dict[int, int] = {}
    out = []
    for i, blk in enumerate(blocks):
        if blk.transition == "start":
            first_block[blk.scene] = i
            continue
        if blk.transition == "continue":
            continue
        j = min(i + settle, len(blocks) - 1)
        before = readings[i - 1].look
        row = {"block": i, "transition": blk.transition, "scene": blk.scene}
        lag = next((k for k in range(i, len(blocks)) if readings[k].category == blk.category
                    and (k + 1 == len(blocks) or blocks[k + 1].transition == "continue")), None)
        row["lag_blocks"] = None if lag is None else lag - i
        if blk.transition == "smooth":
            row["carried"] = readings[j].look == before
        elif blk.transition == "cut":
            row["clean"] = readings[j].look != before
        else:
            target = readings[settled[first_block[blk.scene]]].look
            row["recalled"] = readings[j].look == target
            row["target_gone"] = before != target  # the look had changed, so only memory can bring it back
        first_block.setdefault(blk.scene, i)
        out.append(row)
    return out


def sink_measures(readings: list[BlockReading], latent, window: int = 7, frames_per_block: int = 3) -> dict:
    """Sink collapse: does a long rollout snap back to its first frames? Over the blocks after the
    first `window` (by then every window policy has rolled past its start):

    snapback: blocks whose latent is nearer (mean square) to the stream's first block than to the
    block before them; return: of the blocks whose look changed from the block before, those whose new
    look is the stream's first look (block 0's or its settled block 1's), with return_chance the
    share a change drawn uniformly from the other looks would give; returns_n / changes_n: counts."""
    n = len(readings)
    first_looks = {readings[0].look, readings[min(1, n - 1)].look}
    block = [latent[:, k * frames_per_block:(k + 1) * frames_per_block] for k in range(n)]
    after = range(min(window, n), n)
    snap = [float((block[i] - block[0]).pow(2).mean()) < float((block[i] - block[i - 1]).pow(2).mean()) for i in after]
    changes = [i for i in after if readings[i].look != readings[i - 1].look]
    chance = [len(first_looks - {readings[i - 1].look}) / (1 / INSTANCE_CHANCE - 1) for i in changes]
    returns = [readings[i].look in first_looks for i in changes]
    return {"snapback": _share(snap), "return": _share(returns), "return_chance": _share(chance),
            "returns_n": sum(returns), "changes_n": len(changes)}


def teacher_forced_outcomes(clip: Clip, readings: list[BlockReading]) -> dict:
    """The teacher-forced lens: `readings` are the model's denoised blocks when its memory holds the
    true clip's blocks before each (rollout.teacher_forced). Per kind of block, the share that reads
    as the truth: look (blocks inside a scene: the true look), category (same blocks), recall (a
    return's first block: the returned scene's true look, over returns whose true previous look was
    another), carried (a smooth switch's first block: the true carried look), cut_clean (a cut's first
    block: another look than the true one before the cut; the new look itself is the model's draw)."""
    truth = [clip.scenes[s] for s in clip.block_scene]
    look = [(t.instance.palette, t.instance.pattern) for t in truth]
    rows: dict[str, list[bool]] = {"look": [], "category": [], "recall": [], "carried": [], "cut_clean": []}
    for i, kind in enumerate(clip.block_transition):
        if kind == "continue":
            rows["look"].append(readings[i].look == look[i])
            rows["category"].append(readings[i].category == truth[i].category)
        elif kind == "return" and look[i - 1] != look[i]:
            rows["recall"].append(readings[i].look == look[i])
        elif kind == "smooth":
            rows["carried"].append(readings[i].look == look[i])
        elif kind == "cut":
            rows["cut_clean"].append(readings[i].look != look[i - 1])
    out = {k: _share(v) for k, v in rows.items()}
    out["recall_n"], out["recalled_n"] = len(rows["recall"]), sum(rows["recall"])
    return out


def summarize(gen: Generated, lag: int = 1) -> dict:
    """Measures averaged over the samples of a generation."""
    per = [block_measures(gen.blocks, r, lag) for r in gen.readings]
    keys = [k for k in per[0] if k != "blocks"]
    summary = {k: _share(v for p in per for v in ([p[k]] if p[k] is not None else [])) for k in keys}
    outcomes = [o for r in gen.readings for o in transition_outcomes(gen.blocks, r)]
    for kind, key in (("smooth", "carried"), ("cut", "clean"), ("return", "recalled")):
        summary[f"{kind}_{key}"] = _share(o[key] for o in outcomes if o["transition"] == kind)
    return summary


DEMO_STEPS = [Step("start", "ocean", 4), Step("smooth", "forest", 4), Step("cut", "lava", 4), Step("return", scene=0, blocks=4)]
