"""A live run: the opening script, then the last scene carries on until Stop or the maximum length,
with steering commands applied at block boundaries.

At each boundary the run takes what is due on its channel (runtime/steering.py): a rewind puts the
session back at a scene start (runtime/rewind.py) and drops this run's blocks after it; a prompt is
encoded (by the caller's `encode`, e.g. the sampler's CLIP) and begins a new scene with its
transition from this block on; Stop ends the run cleanly, keeping every block. Scene starts leave
a rewind point. The run's result is what `Session.run` returns, so the sampler treats both alike.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

import torch

from ..engine.errors import EchoError
from .rewind import RewindPoints
from .script import Scene, SceneScript
from .session import BlockReport, PlannedScene, RunResult, Session, recall_target
from .steering import Command, LiveChannel


def max_live_blocks(seconds: float, frames_per_block: int) -> int:
    return max(1, int(seconds * 16 / (4 * frames_per_block)))


def command_scene(session: Session, command: Command, conditioning: torch.Tensor) -> PlannedScene:
    """The new scene a prompt command starts (checked against the session's timeline)."""
    if command.transition == "recall" and command.target is not None:
        target = recall_target(command.target)
        known = {r.label for r in session.scenes if r.label}
        if isinstance(target, int) and not 0 <= target < len(session.scenes):
            raise EchoError(f"recall of scene {target}: the session has scenes 0..{len(session.scenes) - 1}")
        if isinstance(target, str) and target not in known:
            raise EchoError(f"recall of {target!r}: no scene has that label (labels: {', '.join(sorted(known)) or 'none'})")
    seconds = session.spec.frames_per_block * 4 / 16
    transition = command.transition if session.scenes else "start"  # rewound before the first scene
    scene = Scene(conditioning, seconds, transition, command.label, command.target, text=command.text)
    return PlannedScene(scene, 1, transition, len(session.scenes))


def run_live(session: Session, script: SceneScript, channel: LiveChannel, encode: Callable[[str], torch.Tensor] | None,
             *, max_blocks: int, rewind: RewindPoints | None = None, on_block: Callable[[BlockReport], None] | None = None,
             should_stop: Callable[[], bool] | None = None,
             on_rewind: Callable[[Session], None] | None = None) -> RunResult:
    opening = deque((p, j) for p in session.plan(script) for j in range(p.blocks))
    first_block, started = session.blocks_done, time.perf_counter()
    blocks = session.run_blocks = []
    current: PlannedScene | None = None
    j = 0
    interrupted = stopped = False
    channel.block_done(session.blocks_done - 1, session.timeline())
    while len(blocks) < max_blocks:
        if should_stop is not None and should_stop():
            interrupted = True
            break
        applied = []
        for command in channel.due():
            if command.kind == "stop":
                stopped = True
                channel.record(command, session.blocks_done)
            elif command.kind == "rewind":
                before = session.blocks_done
                try:
                    at = rewind.rewind(session, int(command.target)) if rewind is not None else None
                    if at is None:
                        raise EchoError("rewind points are off for this run (rewind_points 0)")
                except EchoError as err:
                    channel.record(command, session.blocks_done, error=str(err))
                    continue
                if on_rewind is not None:
                    on_rewind(session)  # e.g. the session video goes on in a branch file
                del blocks[max(0, at - first_block):]
                first_block = min(first_block, at)
                opening.clear()
                current, j = None, 0
                channel.record(command, at, scene=int(command.target), dropped=before - at)
                channel.block_done(at - 1, session.timeline())
            else:
                try:
                    planned = command_scene(session, command, encode(command.text))
                except EchoError as err:
                    channel.record(command, session.blocks_done, error=str(err))
                    continue
                opening.clear()  # a command takes over from the opening script
                opening.append((planned, 0))
                applied.append((command, planned.record_index))
        if stopped:
            break
        if opening:
            current, j = opening.popleft()
        elif current is None and not session.scenes:  # rewound to the first scene: wait for its new prompt
            time.sleep(0.05)
            continue
        elif current is None:  # rewound: the scene before the rewind point carries on
            record = session.scenes[-1]
            current, j = PlannedScene(Scene(session.conditioning, 1.0), 1, None, record.index), 1
        else:
            j += 1
        if j == 0 and current.transition is not None and rewind is not None:
            rewind.take(session, current.record_index)
            channel.snapshots = rewind.describe()
        for command, scene in applied:
            channel.record(command, session.blocks_done, scene=scene)
        record, x0 = session.generate(current, j)
        blocks.append(x0.detach().to("cpu"))
        channel.block_done(session.blocks_done - 1, session.timeline())
        if on_block is not None:
            on_block(BlockReport(session.blocks_done - 1, len(blocks) - 1, max_blocks, record, x0,
                                 time.perf_counter() - started))
    latents = session.run_latents()
    return RunResult(latents, first_block, len(blocks), max_blocks, interrupted)
