"""Session memory: what freeing, parking and bringing a session back cost and give back.

    python bench/session_memory.py [--device cuda] [--blocks 12] [--out FILE]

For each preset, a session on a small model (dim 256, 4 layers, 320x192) makes `blocks` blocks with a
hard cut halfway, then reports as JSON:
  cache_bytes      the policy's own buffers (what the sampler reserves)
  held_bytes       all tensor storage the session holds, by device (cache, text K/V, run latents, ...)
  state_bytes      its state dict (what a parked session keeps on the CPU and a v2 file holds)
  park             seconds to park it and the device bytes released (measured: allocator on cuda,
                   a census of live tensor storage on the CPU)
  back_s           seconds to bring it back; `continues_exactly`: 2 more blocks equal a never-parked twin
  free             bytes Free Scene Memory reported and the bytes the process measurably got back
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

from engine_bench import SMALL, build_model, sync  # noqa: E402 (also loads the pack)

from echo_stream.runtime.memory_choice import MemoryChoice  # noqa: E402
from echo_stream.runtime.registry import SessionRegistry  # noqa: E402
from echo_stream.runtime.script import SceneScript  # noqa: E402
from echo_stream.runtime.session import Session, SessionSpec  # noqa: E402

PRESETS = ["echo_forcing", "self_forcing_window", "longlive_recache", "infinity_rope", "echo_infinity_rope"]
BLOCK_SECONDS = 0.75  # one block of 3 latent frames


def device_bytes(device: torch.device) -> dict[tuple, int]:
    """Live tensor storage on `device`: the allocator's count on cuda, a garbage-collector census on the CPU."""
    gc.collect()
    if device.type == "cuda":
        sync(device)
        return {("allocated",): torch.cuda.memory_allocated(device)}
    found = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), torch.Tensor) and obj.device.type == "cpu":
            storage = obj.untyped_storage()
            found[(storage.data_ptr(),)] = storage.nbytes()
    return found


def released(before: dict, after: dict) -> int:
    if ("allocated",) in before:
        return before[("allocated",)] - after[("allocated",)]
    return sum(n for key, n in before.items() if key not in after)


def scripts(text_dim: int, blocks: int):
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(1, 64, text_dim, generator=g) for _ in range(2))
    half = blocks // 2
    first = SceneScript.start(a, half * BLOCK_SECONDS).then(b, (blocks - half) * BLOCK_SECONDS, "cut")
    return first, SceneScript.start(b, 2 * BLOCK_SECONDS)


@torch.no_grad()
def measure(model, preset: str, blocks: int, device: torch.device) -> dict:
    first, more = scripts(model.config.text_dim, blocks)
    spec = SessionSpec(320, 192, seed=0, memory=MemoryChoice(preset))
    registry = SessionRegistry(live_cap=8)
    session = registry.put(Session("bench", model, spec))
    twin = Session("twin", model, spec)
    session.run(first)
    twin.run(first)
    out = {"cache_bytes": session.cache_bytes()}
    from echo_stream.runtime.held_tensors import held_bytes
    out["held_bytes"] = held_bytes(session)
    del session
    before = device_bytes(device)
    t0 = time.perf_counter()
    registry.park("bench", "benchmark")
    sync(device)
    park_s = time.perf_counter() - t0
    out["park"] = {"seconds": round(park_s, 4), "device_bytes_released": released(before, device_bytes(device))}
    out["state_bytes"] = registry.peek("bench").state.nbytes()
    t0 = time.perf_counter()
    back = registry.require("bench")
    sync(device)
    out["back_s"] = round(time.perf_counter() - t0, 4)
    out["continues_exactly"] = torch.equal(back.run(more).latents, twin.run(more).latents)
    del back
    before = device_bytes(device)
    freed = registry.free("bench")
    out["free"] = {"reported_bytes": freed.total, "reported_by_device": freed.bytes_by_device,
                   "device_bytes_released": released(before, device_bytes(device))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    model = build_model(SMALL, device, torch.float32)
    result = {"device": str(device), "model": "dim 256, 4 layers", "size": "320x192", "blocks": args.blocks,
              "presets": {p: measure(model, p, args.blocks, device) for p in PRESETS}}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
