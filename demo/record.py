"""What the demo keeps of each block while it runs: the memory layout, captions, timing, checks."""
from __future__ import annotations

import statistics

import torch

from ..memory.scene_pool import prompt_feature
from ..runtime.session import BlockReport, Session
from .script import SCENES


class BlockLog:
    def __init__(self, session: Session, prompts: dict, fps: float):
        self.session, self.prompts, self.fps = session, prompts, fps
        self.rows: list[dict] = []  # each block's layout record (BlockLayout.record())
        self.captions: list[tuple[str, str]] = []  # (text, transition) per latent frame
        self.block_times: list[float] = []
        self.cache_sizes: set[int] = set()
        self.similarity_recalls: list[dict] = []
        self.finite = True
        self._elapsed = 0.0

    def on_block(self, report: BlockReport) -> None:
        memory, layout = self.session.memory, self.session.streamer.layout
        self.rows.append(layout.record())
        self.block_times.append(report.elapsed - self._elapsed)
        self._elapsed = report.elapsed
        self.finite &= bool(torch.isfinite(report.latents).all())
        self.cache_sizes.add(memory.nbytes())
        scene, planned = report.scene, SCENES[report.scene.index]
        if scene.blocks == 1 and planned.transition == "recall" and planned.recall is None:
            # what recall by similarity found: the scene whose recall frame the layout stages
            labels = {r.index: r.label for r in self.session.scenes}
            _, sim = memory.pool.best_match(prompt_feature(self.prompts[planned.prompt]))
            self.similarity_recalls.append({"scene": planned.label, "found": labels.get(layout.old_scene),
                                            "similarity": round(sim, 4)})
        frames = report.latents.shape[2]
        for j in range(frames):
            seconds = (report.block * frames + j) / self.fps
            self.captions.append((f"{scene.label} · {scene.transition} · {seconds:5.2f} s", scene.transition))

    def summary(self, wall: float, pixel_frames: int) -> dict:
        return {
            "finite": self.finite, "cache_bytes": max(self.cache_sizes),
            "cache_bytes_constant": len(self.cache_sizes) == 1,
            "similarity_recalls": self.similarity_recalls,
            "max_rope_id": {"keys": max(max(r["key_frame_ids"]) for r in self.rows),
                            "queries": max(max(r["query_frame_ids"]) for r in self.rows)},
            "timing": {"total_s": round(wall, 3), "first_block_s": round(self.block_times[0], 4),
                       "median_block_s": round(statistics.median(self.block_times), 5),
                       "pixel_fps": round(pixel_frames / wall, 2)},
        }
