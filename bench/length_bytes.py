"""Cache bytes against video length: 1, 10 and 60 minutes of latents, really generated.

Every bounded policy streams the same tiny one-token-per-frame model in lockstep (one block of each
in turn) through scene switches (smooth, cut, recall) for the whole length; at each checkpoint
we record each policy's cache bytes (and Echo-Forcing's recall-frame pool, kept on the CPU) and
the process's resident memory. Cache bytes depend only on the geometry, so flat bytes here mean flat
bytes at 1.3B too. The full cache cannot run this (it refuses past its size by design): its row is
the bytes it would need, frames x bytes per frame, at this geometry and at 1.3B.
"""
from __future__ import annotations

import math
import time

import torch

import loadpack  # noqa: F401
from echo_stream.engine import BlockStreamer
from echo_stream.engine.geometry import FPS, VAE_TEMPORAL_STRIDE
from echo_stream.memory import BOUNDED, make_memory
from geometry_bytes import WAN_1_3B, bytes_per_frame
from geometry_bytes import geometry as cache_geometry
from procmem import heap_stats, in_use_bytes, rss_bytes
from tiny_stream import HEIGHT, ONE_STEP, WIDTH, prompt_bank, tiny_config, tiny_model

LATENT_FPS = FPS / VAE_TEMPORAL_STRIDE  # latent frames per second of video
CYCLE = ("smooth", "cut", "recall")


def blocks_for_minutes(minutes: float, frames_per_block: int = 3) -> int:
    return math.ceil(minutes * 60 * LATENT_FPS / frames_per_block)


def _event(block: int, scene_blocks: int) -> tuple[int, dict]:
    """(scene number, next_block fields) of a block: a switch every `scene_blocks` blocks."""
    scene = block // scene_blocks
    if block == 0 or block % scene_blocks:
        return scene, {}
    transition = CYCLE[(scene - 1) % len(CYCLE)]
    extras = {"label": f"s{scene}"}
    if transition == "recall":
        extras["recall"] = f"s{scene - 2}" if scene >= 2 else None  # by label, two scenes back
    return scene, {"transition": transition, "extras": {k: v for k, v in extras.items() if v is not None}}


@torch.no_grad()
def against_length(minutes=(1, 10, 60), scene_blocks: int = 100, policies=BOUNDED, device="cpu",
                   progress=None) -> dict:
    """progress(minutes, blocks) is called at each checkpoint."""
    device = torch.device(device)
    cfg = tiny_config(layers=1, dim=24)
    model = tiny_model(cfg, device=device)
    prompts = prompt_bank(6, cfg)
    streams = {n: BlockStreamer(model, make_memory(n), width=WIDTH, height=HEIGHT, seed=0, settings=ONE_STEP)
               for n in policies}
    checkpoints = {blocks_for_minutes(m): m for m in minutes}
    rows, started = [], time.perf_counter()
    for block in range(max(checkpoints)):
        scene, fields = _event(block, scene_blocks)
        for streamer in streams.values():
            streamer.next_block(prompts[scene % len(prompts)], **fields)
        if block + 1 in checkpoints:
            row = {"minutes": checkpoints[block + 1], "blocks": block + 1, "latent_frames": 3 * (block + 1),
                   "scenes": scene + 1, "process_rss_bytes": rss_bytes(),
                   "heap_in_use_bytes": (heap_stats() or {}).get("in_use"),
                   **({"cuda_allocated_bytes": in_use_bytes(device)} if device.type == "cuda" else {}),
                   "cache_bytes": {n: s.memory.nbytes() for n, s in streams.items()}}
            if "echo_forcing" in streams:
                row["echo_pool_bytes_cpu"] = streams["echo_forcing"].memory.pool_nbytes()
            rows.append(row)
            if progress:
                progress(row["minutes"], row["blocks"])
    flat = {n: len({r["cache_bytes"][n] for r in rows}) == 1 for n in policies}
    tiny_frame = bytes_per_frame(streams[policies[0]].geometry)
    real_frame = bytes_per_frame(cache_geometry(WAN_1_3B, 30, 52))
    return {
        "model": {"dim": cfg.dim, "layers": cfg.num_layers, "width": WIDTH, "height": HEIGHT, "tokens_per_frame": 1,
                  "steps": 1},
        "scene_switch_every_blocks": scene_blocks, "transitions": list(CYCLE),
        "wall_s": round(time.perf_counter() - started, 2),
        "checkpoints": rows, "flat": flat,
        "full_cache_would_need": [{"minutes": r["minutes"], "bytes_here": r["latent_frames"] * tiny_frame,
                                   "bytes_wan_1_3b": r["latent_frames"] * real_frame} for r in rows],
    }
