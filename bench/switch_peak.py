"""Memory a scene switch of the Echo memory takes for a moment, beyond the cache itself.

    python bench/switch_peak.py [--layers 10 30] [--out FILE]

At a switch the memory finishes the old scene (its recall frame, fused from anchor-pool frames, goes to
the scene pool) and stages old-scene frames (the recall frame and the old scene's last frames) in the
ring. This drives an EchoForcingMemory straight through its policy API with random K/V (no model) at
832x480 (1,560 tokens a frame), Wan-1.3B's 30 layers but 2 heads of 128 (a tenth of 1.3B's width, so
it fits a CPU run), bf16 on the CPU: scene A to its steady state, then a smooth switch to B. It reports
the process's resident-memory high-water mark during the switch above what was resident before it
(bench/procmem.py); less the new scene-pool entry, which stays, that is the switch's transient memory.
Run at two depths, it shows whether that grows with the number of layers. JSON on stdout (and --out FILE).
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine import BlockEvent, CacheGeometry
from echo_stream.engine.rope import RotaryEmbedding
from echo_stream.memory import EchoForcingMemory
from procmem import PeakMeter
from progress import machine
from report import emit


def geometry(layers: int, heads: int, device, grid: tuple[int, int]) -> CacheGeometry:
    return CacheGeometry(num_layers=layers, num_heads=heads, head_dim=128, grid_h=grid[0], grid_w=grid[1],
                         frames_per_block=3, batch=1, dtype=torch.bfloat16, device=torch.device(device),
                         rotary=RotaryEmbedding(128))


def block(memory: EchoForcingMemory, g: CacheGeometry, event: BlockEvent, gen: torch.Generator) -> None:
    memory.begin_block(event)
    shape = (g.batch, g.block_tokens, g.num_heads, g.head_dim)
    for i in range(g.num_layers):
        q, k, v = (torch.randn(shape, generator=gen, device=g.device).to(g.dtype) for _ in range(3))
        memory.layer(i).context(q, k, v)
        memory.layer(i).commit(q, k, v)
    memory.end_block()


@torch.no_grad()
def measure(layers: int, heads: int = 2, device="cpu", grid: tuple[int, int] = (30, 52)) -> dict:
    """One switch at this depth and width (the GPU check runs it at 1.3B's 30 layers and 12 heads on CUDA,
    where the allocator's peak is exact)."""
    g = geometry(layers, heads, device, grid)
    memory = EchoForcingMemory()
    memory.setup(g)
    gen = torch.Generator(device=g.device).manual_seed(0)  # K/V made where the memory is
    prompts = torch.Generator().manual_seed(1)
    prompt_a, prompt_b = torch.randn(1, 4, 8, generator=prompts), torch.randn(1, 4, 8, generator=prompts)
    blocks = 9  # past the steady layout (block 7)
    for j in range(blocks):
        block(memory, g, BlockEvent(j, 3 * j, 3, conditioning=prompt_a), gen)
    frame_bytes = g.frame_tokens * g.num_heads * g.head_dim * g.dtype.itemsize * 2  # K and V of one layer
    meter = PeakMeter(g.device)
    t0 = time.perf_counter()
    with meter:
        memory.begin_block(BlockEvent(blocks, 3 * blocks, 3, prompt_changed=True, transition="smooth",
                                      conditioning=prompt_b))
    seconds = time.perf_counter() - t0
    staged = memory.layout.old_frames
    entry = memory.pool.entries[-1]
    entry_bytes = sum(x.numel() * x.element_size() for x in (entry.k, entry.v))
    entry_here = entry.k.device == g.device  # the pool waits on the CPU by default: not in a GPU's peak
    return {
        "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "cpu": platform.processor() or platform.machine(),
        "geometry": {"layers": layers, "heads": heads, "head_dim": 128, "tokens_per_frame": g.frame_tokens,
                     "dtype": "bfloat16", "device": str(g.device)},
        "cache_bytes": memory.nbytes(),
        "staged_old_frames": staged,
        "frame_bytes_one_layer": frame_bytes,
        "switch_frames_every_layer_bytes": (staged + 3) * frame_bytes * layers,  # staged + 3 recall candidates
        "switch_peak_bytes_above_start": meter.peak, "peak_exact": meter.exact,
        "pool_entry_bytes": entry_bytes,  # the finished scene's recall frame: kept, not transient
        "pool_entry_device": str(entry.k.device),
        "switch_transient_bytes": meter.peak - (entry_bytes if entry_here else 0),
        "switch_seconds": round(seconds, 3),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[10, 30])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    result = {"benchmark": "switch_peak", "runs": [measure(layers) for layers in args.layers]}
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
