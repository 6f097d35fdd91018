"""Live steering latency: from a command's arrival to the first block generated under it.

    python bench/steer_latency.py [--device cuda] [--commands 12] [--out FILE]

A live run (runtime/live.py) of a small model (dim 256, 4 layers, 320x192, echo_forcing) is steered by
a thread that sends a prompt command at a random moment of a block (uniform over one block time
after the previous command took effect). For each command it records the blocks that finished
between its arrival and its block (`latency_blocks`: 0 = the very next block) and the milliseconds
from its arrival to the end of the first block made under it (`latency_ms`: the rest of the block
in progress, the text encoding, then a whole block). The text encoder here is a hash-seeded
embedding (no umt5 on a test machine), so a real CLIP's encode time comes on top. Rewind points
(a CPU snapshot at each scene start) are on, as in the node's default, and their cost is reported.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

from engine_bench import SMALL, build_model, sync  # noqa: E402 (also loads the pack)

from echo_stream.runtime.live import run_live  # noqa: E402
from echo_stream.runtime.memory_choice import MemoryChoice  # noqa: E402
from echo_stream.runtime.rewind import RewindPoints  # noqa: E402
from echo_stream.runtime.script import SceneScript  # noqa: E402
from echo_stream.runtime.session import Session, SessionSpec  # noqa: E402
from echo_stream.runtime.steering import Command, LiveChannel, parse_prompt  # noqa: E402

TRANSITIONS = ["smooth", "cut", "smooth", "auto"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--commands", type=int, default=12)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device(args.device)
    model = build_model(SMALL, device, torch.float32 if device.type == "cpu" else torch.bfloat16)

    def encode(text: str) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        return torch.randn(1, 64, SMALL.text_dim, generator=torch.Generator().manual_seed(seed))

    spec = SessionSpec(args.width, args.height, 0, 1, 3, (1000.0, 750.0, 500.0, 250.0), memory=MemoryChoice("echo_forcing"))
    session = Session("bench", model, spec)
    channel = LiveChannel("bench")
    points = RewindPoints(session.id, limit=4)
    block_times: list[float] = []
    last = [time.perf_counter()]
    snapshot_s: list[float] = []
    take = points.take

    def timed_take(s, scene):
        t = time.perf_counter()
        take(s, scene)
        snapshot_s.append(time.perf_counter() - t)
    points.take = timed_take

    def on_block(report):
        sync(device)
        now = time.perf_counter()
        block_times.append(now - last[0])
        last[0] = now

    rng = random.Random(args.seed)
    warmup = 4

    def sender():
        while len(block_times) < warmup:
            time.sleep(0.001)
        for i in range(args.commands):
            median = statistics.median(block_times[1:] or block_times)
            time.sleep(rng.uniform(0, median))
            command = channel.submit(parse_prompt({"text": f"scene number {i}", "transition": TRANSITIONS[i % 4]}))
            while not any(a["id"] == command.id and a["latency_ms"] is not None for a in channel.status()["applied"]):
                time.sleep(0.001)
            time.sleep(rng.uniform(0, median))
        channel.submit(Command("stop"))

    thread = threading.Thread(target=sender)
    thread.start()
    script = SceneScript.start(encode("the opening"), 3.0, text="the opening")
    result = run_live(session, script, channel, encode, max_blocks=10_000, rewind=points, on_block=on_block)
    thread.join()
    applied = [a for a in channel.status()["applied"] if a["kind"] == "prompt"]
    ms = [a["latency_ms"] for a in applied]
    blocks = [a["latency_blocks"] for a in applied]
    steady = block_times[1:]
    out = {
        "device": str(device), "model": "dim 256, 4 layers", "size": f"{args.width}x{args.height}",
        "memory": "echo_forcing", "commands": len(applied), "blocks": result.blocks_done,
        "block_ms": {"median": round(statistics.median(steady) * 1000, 1), "max": round(max(steady) * 1000, 1)},
        "latency_blocks": {"mean": statistics.mean(blocks), "max": max(blocks), "all": blocks},
        "latency_ms": {"median": round(statistics.median(ms), 1), "mean": round(statistics.mean(ms), 1),
                       "max": round(max(ms), 1), "all": [round(x, 1) for x in ms]},
        "latency_in_block_times": round(statistics.median(ms) / (statistics.median(steady) * 1000), 2),
        "rewind_points": {"kept": len(points.describe()), "bytes_each": points.describe()[-1]["bytes"],
                          "snapshot_ms_median": round(statistics.median(snapshot_s) * 1000, 1)},
        "note": "text encoding is a hash-seeded embedding; a real CLIP's encode time adds to latency_ms",
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
