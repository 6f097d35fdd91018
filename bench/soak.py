"""Soak: a 24-hour-equivalent stream with the echo_forcing memory on a tiny model.

    nice python bench/soak.py                      # 108,334 blocks = 325,002 latent = 1.3M pixel frames
    python bench/soak.py --blocks 3000 --out FILE  # a shortened run

At least 1.3 million pixel frames (the 24 hours at 16 fps Echo-Infinity claims) through a Session,
the pack's runtime path, with a scene switch every `--scene-blocks` blocks (smooth, cut, recall by
label, recall by similarity; see soak_scenes.py). Model: one token per latent frame, 2 layers,
dim 32, the 4-step schedule (tiny_stream.py). Reports the process's resident memory and the cache
bytes after the first minute of video and at the end (with samples between), with glibc's count of
live heap bytes beside RSS (RSS also counts freed-but-kept heap pages: fragmentation, which the run
returns with malloc_trim only at the very end, to show it), the largest RoPE ids any block used,
blocks with NaN or inf, and the wall time. The JSON file is rewritten at every
sample with "complete": false, so an interrupted soak still leaves its figures.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine.geometry import pixel_frames
from echo_stream.memory.scene_pool import prompt_feature
from echo_stream.runtime.memory_choice import MemoryChoice
from echo_stream.runtime.script import SceneScript
from echo_stream.runtime.session import Session, SessionSpec
from procmem import heap_stats, rss_bytes, trim_heap
from soak_scenes import soak_scenes
from tiny_stream import HEIGHT, WIDTH, tiny_config, tiny_model

LATENT_FRAMES_24H = 325_000  # 1.3M pixel frames / 4
SECONDS_PER_BLOCK = 0.75  # 3 latent frames = 12 pixel frames at 16 fps
FIRST_MINUTE_BLOCKS = 80  # 240 latent frames


class Recorder:
    """Per-block checks and the samples of memory over the run."""

    def __init__(self, session: Session, sample_every: int, out: Path | None, meta: dict):
        self.session, self.memory = session, session.memory
        self.sample_every, self.out, self.meta = sample_every, out, meta
        self.samples: list[dict] = []
        self.bad_blocks: list[int] = []
        self.max_key_id = self.max_query_id = self.max_jump = -1
        self.max_id_at: dict = {}
        self.similar_recalls = {"checked": 0, "found_intended": 0, "misses": []}
        self.started = time.perf_counter()
        self.last_print = 0.0

    def block(self, report, total: int) -> None:
        if not torch.isfinite(report.latents).all():
            self.bad_blocks.append(report.block)
        layout = self.session.streamer.layout
        key_max, query_max = max(layout.key_frame_ids), max(layout.query_frame_ids)
        if key_max > self.max_key_id:
            self.max_id_at = {"block": layout.block, "scene_transition": report.scene.transition,
                              "phase": layout.phase}
        self.max_key_id = max(self.max_key_id, key_max)
        self.max_query_id = max(self.max_query_id, query_max)
        self.max_jump = max(self.max_jump, layout.jump)
        done = report.block + 1
        if done == FIRST_MINUTE_BLOCKS or done % self.sample_every == 0 or done == total:
            self.sample(done, total)
        self.progress(done, total)

    def check_similar_recall(self, scene) -> None:
        """After a similarity recall's first block: is the pool's best match the intended scene?"""
        best, _ = self.memory.pool.best_match(prompt_feature(scene.prompt))
        self.similar_recalls["checked"] += 1
        if best is not None and best.label == scene.intended:
            self.similar_recalls["found_intended"] += 1
        elif len(self.similar_recalls["misses"]) < 20:
            self.similar_recalls["misses"].append({"scene": scene.label, "intended": scene.intended,
                                                   "found": best.label if best else None})

    def sample(self, done: int, total: int) -> None:
        heap = heap_stats() or {}
        self.samples.append({
            "block": done, "video_minutes": round(done * SECONDS_PER_BLOCK / 60, 2),
            "process_rss_bytes": rss_bytes(), "heap_in_use_bytes": heap.get("in_use"),
            "heap_free_bytes": heap.get("free"), "python_blocks": sys.getallocatedblocks(),
            "cache_bytes": self.memory.nbytes(),
            "pool_bytes_cpu": self.memory.pool_nbytes(), "pool_scenes": len(self.memory.pool.entries),
            "wall_s": round(time.perf_counter() - self.started, 1)})
        if self.out is not None:
            write(self.out, self.result(done, total, complete=False))

    def progress(self, done: int, total: int) -> None:
        now = time.perf_counter() - self.started
        if now - self.last_print < 10 and done != total:
            return
        self.last_print = now
        rate = now / done
        print(f"soak: {done:,}/{total:,} blocks ({100 * done / total:.1f}%), {1000 * rate:.2f} ms/block, "
              f"ETA {(total - done) * rate / 60:.1f} min, RSS {(rss_bytes() or 0) / 2**20:.0f} MiB", file=sys.stderr)

    def result(self, done: int, total: int, complete: bool) -> dict:
        wall = time.perf_counter() - self.started
        start = next((s for s in self.samples if s["block"] == FIRST_MINUTE_BLOCKS), self.samples[0] if self.samples else None)
        end = self.samples[-1] if self.samples else None
        out = {**self.meta, "complete": complete, "blocks_done": done, "blocks_planned": total,
               "latent_frames": 3 * done, "pixel_frames": pixel_frames(3 * done),
               "video_hours": round(done * SECONDS_PER_BLOCK / 3600, 3),
               "scenes": len(self.session.scenes), "wall_s": round(wall, 1),
               "ms_per_block": round(1000 * wall / max(done, 1), 3),
               "nan_or_inf_blocks": len(self.bad_blocks), "first_bad_blocks": self.bad_blocks[:10],
               "max_key_rope_id": self.max_key_id, "max_query_rope_id": self.max_query_id,
               "max_rope_jump": self.max_jump, "max_key_id_at": self.max_id_at,
               "similarity_recalls": self.similar_recalls, "start": start, "end": end, "samples": self.samples}
        if start and end:
            rss = [s["process_rss_bytes"] for s in self.samples if s["block"] >= FIRST_MINUTE_BLOCKS]
            out["rss_change_start_to_end_pct"] = _pct(end["process_rss_bytes"], start["process_rss_bytes"])
            out["rss_max_over_start_pct"] = _pct(max(rss), start["process_rss_bytes"])
            if start["heap_in_use_bytes"] is not None:
                out["heap_in_use_change_start_to_end_pct"] = _pct(end["heap_in_use_bytes"], start["heap_in_use_bytes"])
            out["cache_bytes_flat"] = len({s["cache_bytes"] for s in self.samples}) == 1
        return out

    def after_trim(self, result: dict) -> dict:
        """At the very end (trimming earlier would hide the raw RSS): RSS once the heap's free pages are returned."""
        trim_heap()
        result["rss_after_malloc_trim_bytes"] = rss_bytes()
        if result.get("start"):
            result["rss_after_trim_change_from_start_pct"] = _pct(rss_bytes(), result["start"]["process_rss_bytes"])
        return result


def _pct(now: int, then: int) -> float:
    return round(100 * (now / then - 1), 2)


def write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


@torch.no_grad()
def run(blocks: int = math.ceil(LATENT_FRAMES_24H / 3), scene_blocks: int = 300, sample_every: int = 5000,
        device="cpu", out: Path | None = None) -> dict:
    if scene_blocks < 2:
        raise ValueError("scenes need at least 2 blocks (one continues the scene, one starts the next)")
    device = torch.device(device)
    cfg = tiny_config()
    model = tiny_model(cfg, device=device)
    session = Session("soak", model, SessionSpec(WIDTH, HEIGHT, seed=0, memory=MemoryChoice("echo_forcing")))
    meta = {"benchmark": "soak", "date": datetime.date.today().isoformat(), "device": str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "model": {"dim": cfg.dim, "layers": cfg.num_layers, "heads": cfg.num_heads, "width": WIDTH,
                      "height": HEIGHT, "tokens_per_frame": 1, "steps": list(session.spec.steps)},
            "policy": "echo_forcing", "scene_blocks": scene_blocks}
    rec = Recorder(session, sample_every, out, meta)
    scenes = soak_scenes(cfg)
    previous = None
    done = 0
    while done < blocks:
        scene = next(scenes)
        tail = 1 if previous is not None else 0  # the previous scene's last block continues it
        head = min(scene_blocks - 1, blocks - done - tail)
        if head <= 0:  # only the last block of the previous scene is left
            script = SceneScript.start(previous.prompt, SECONDS_PER_BLOCK)
        elif previous is None:
            script = SceneScript.start(scene.prompt, head * SECONDS_PER_BLOCK, label=scene.label)
        else:
            script = SceneScript.start(previous.prompt, SECONDS_PER_BLOCK).then(
                scene.prompt, head * SECONDS_PER_BLOCK, scene.transition, label=scene.label, recall=scene.recall)
        first_of_scene = done + tail

        def on_block(report, first=first_of_scene, scene=scene):
            rec.block(report, blocks)
            if report.block == first and scene.kind == "recall_similar":
                rec.check_similar_recall(scene)

        result = session.run(script, on_block=on_block)
        done += result.blocks_done
        previous = scene
    final = rec.after_trim(rec.result(done, blocks, complete=True))
    if out is not None:
        write(out, final)
    return final


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=math.ceil(LATENT_FRAMES_24H / 3),
                    help="blocks of 3 latent frames (default 108,334: >= 1.3M pixel frames)")
    ap.add_argument("--scene-blocks", type=int, default=300, help="blocks per scene (default 300 = 3.75 min of video)")
    ap.add_argument("--sample-every", type=int, default=5000, help="blocks between memory samples")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the tiny model runs best on 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", type=Path, help="result JSON (default bench/results/<date>-soak-<device>.json)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda was asked for, but this torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    out = args.out or Path(__file__).resolve().parent / "results" / f"{datetime.date.today().isoformat()}-soak-{args.device}.json"
    result = run(args.blocks, args.scene_blocks, args.sample_every, args.device, out)
    summary = {k: result[k] for k in ("blocks_done", "pixel_frames", "video_hours", "wall_s", "ms_per_block",
                                      "nan_or_inf_blocks", "max_key_rope_id", "max_query_rope_id",
                                      "rss_change_start_to_end_pct", "heap_in_use_change_start_to_end_pct",
                                      "rss_after_trim_change_from_start_pct", "cache_bytes_flat", "similarity_recalls")
               if k in result}
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
