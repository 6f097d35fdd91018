"""Scene-memory benchmark: cost and fidelity of Echo-Forcing against the baselines.

    python bench/memory_bench.py [--device cuda] [--out FILE]

Reports, as one JSON document:
  time        per-block time of every policy on the same model, blocks interleaved across policies
              so machine noise hits all alike; ratio to the Self-Forcing 21-frame window;
  flat        Echo-Forcing cache bytes against video length, with scene switches (must be flat);
  wan_1_3b    cache bytes at the real 1.3B geometry (832x480, bf16) against the released code's ~25 GB;
  fidelity    over a long rollout, the relative error of each policy's attention output against a
              full-history oracle (every past frame, true positions), all at a 21-frame budget.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from engine_bench import WAN_1_3B, build_model, sync  # noqa: E402 (also loads the pack)

from echo_stream.engine import (AttentionContext, BlockStreamer, LayerMemory, MemoryPolicy, WanConfig,  # noqa: E402
                                grid_positions, rolling_window)
from echo_stream.engine.geometry import cache_geometry  # noqa: E402
from echo_stream.engine.attention import attend_context  # noqa: E402
from report import emit  # noqa: E402
from wrapped_policy import WrappedPolicy  # noqa: E402
from echo_stream.memory import (BOUNDED, EchoConfig, EchoForcingMemory, InfinityRope, LongLiveRecache,  # noqa: E402
                                make_memory)

RELEASED_BYTES = 25.2e9  # notes §7.3: 6.0 + 9.1 + 6.0 + 3.5 + 0.6 GB
SMALL = WanConfig(dim=256, ffn_dim=512, num_heads=2, num_layers=4, text_dim=64, freq_dim=64)
FIDELITY = WanConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=3, text_dim=32, freq_dim=32)


def timed_policies(model, width, height, blocks, device) -> dict:
    names = list(BOUNDED)
    cond = torch.randn(1, 512, model.config.text_dim, generator=torch.Generator().manual_seed(0))
    streams = {n: BlockStreamer(model, make_memory(n), width=width, height=height, seed=0) for n in names}
    times = {n: [] for n in names}
    for _ in range(blocks):
        for name, streamer in streams.items():  # interleaved: one block of each in turn
            t0 = time.perf_counter()
            streamer.next_block(cond)
            sync(device)
            times[name].append(time.perf_counter() - t0)
    steady = {n: statistics.median(ts[8:]) for n, ts in times.items()}  # Echo rolls from block 7 on
    base = steady["self_forcing_window"]
    return {n: {"per_block_s": round(s, 5), "ratio_to_rolling_window": round(s / base, 4),
                "cache_bytes": streams[n].memory.nbytes()} for n, s in steady.items()}


@torch.no_grad()
def bytes_against_length(checkpoints=(10, 100, 400)) -> dict:
    cfg = WanConfig(dim=64, ffn_dim=64, num_heads=2, num_layers=2, text_dim=16, freq_dim=16)
    model = build_model(cfg, torch.device("cpu"), torch.float32)
    memory = EchoForcingMemory()
    streamer = BlockStreamer(model, memory, width=48, height=32, seed=0)
    prompts = [torch.randn(1, 8, cfg.text_dim, generator=torch.Generator().manual_seed(s)) for s in range(4)]
    cycle = ["smooth", "cut", "recall", "smooth"]
    out = {}
    for block in range(max(checkpoints)):
        scene = block // 30  # a switch every 30 blocks, cycling through the transitions
        transition = cycle[scene % 4] if block % 30 == 0 and block else None
        streamer.next_block(prompts[scene % 4], transition=transition)
        if block + 1 in checkpoints:
            out[f"{block + 1}_blocks"] = {"cache_bytes": memory.nbytes(), "pool_bytes": memory.pool_nbytes(),
                                          "scenes": memory.scenes.scenes_started}
    sizes = {v["cache_bytes"] for v in out.values()}
    out["flat"] = len(sizes) == 1
    return out


def bytes_at_wan_1_3b() -> dict:
    g = cache_geometry(WAN_1_3B, width=832, height=480, dtype=torch.bfloat16, device="meta")
    out = {}
    for name in BOUNDED:
        memory = make_memory(name)
        memory.setup(g)
        out[name] = {"bytes": memory.nbytes(), "GB": round(memory.nbytes() / 1e9, 3)}
    out["echo_forcing"]["fraction_of_released"] = round(out["echo_forcing"]["bytes"] / RELEASED_BYTES, 4)
    out["released_echo_forcing_GB"] = RELEASED_BYTES / 1e9
    out["pool_entry_bytes_off_gpu"] = 2 * WAN_1_3B.num_layers * 1560 * WAN_1_3B.dim * 2
    return out


class OracleProbe(WrappedPolicy):
    """Wraps a policy; on every clean pass compares its attention output with attention over the
    full history (every committed frame at its true frame index)."""

    def __init__(self, inner: MemoryPolicy):
        super().__init__(inner)
        self.errors: list[float] = []

    def setup(self, geometry):
        self.past = [[] for _ in range(geometry.num_layers)]  # every committed block's K/V, per layer
        super().setup(geometry)

    def wrap_layer(self, index: int) -> LayerMemory:
        return _ProbeLayer(self, index)

    def begin_block(self, event):
        self.event = event
        return self.inner.begin_block(event)


class _ProbeLayer(LayerMemory):
    def __init__(self, probe, i):
        self.probe, self.i = probe, i

    def context(self, q, k, v):
        self._ctx = self.probe.inner.layer(self.i).context(q, k, v)
        return self._ctx

    def commit(self, q, k, v):
        p, g = self.probe, self.probe.geometry
        p.inner.layer(self.i).commit(q, k, v)
        past = p.past[self.i]
        keys = torch.cat([h[0] for h in past] + [k], dim=1)
        values = torch.cat([h[1] for h in past] + [v], dim=1)
        start = p.event.start_frame
        frames = keys.shape[1] // g.frame_tokens
        rot = g.rotary.rotary(grid_positions(range(frames), g.grid_h, g.grid_w))
        qrot = g.rotary.rotary(grid_positions(range(start, start + p.event.num_frames), g.grid_h, g.grid_w))
        oracle = attend_context(q, AttentionContext(keys, values, rot, qrot))
        got = attend_context(q, self._ctx)
        p.errors.append(float((got - oracle).norm() / oracle.norm()))
        past.append((k.clone(), v.clone()))


@torch.no_grad()
def attention_fidelity(blocks: int = 60) -> dict:
    model = build_model(FIDELITY, torch.device("cpu"), torch.float32)
    cond = torch.randn(1, 8, FIDELITY.text_dim, generator=torch.Generator().manual_seed(1))
    policies = {
        "echo_forcing": lambda: EchoForcingMemory(),
        "echo_forcing_true_spatial_ids": lambda: EchoForcingMemory(EchoConfig(true_spatial_ids=True)),
        "self_forcing_window_21": lambda: rolling_window(21),
        "longlive_sink_3_window_21": lambda: LongLiveRecache(21, 3),
        "infinity_rope_sink_1_window_21": lambda: InfinityRope(21, 1),
    }
    out = {}
    for name, make in policies.items():
        probe = OracleProbe(make())
        streamer = BlockStreamer(model, probe, width=64, height=64, seed=0)
        for _ in range(blocks):
            streamer.next_block(cond)
        late = probe.errors[-FIDELITY.num_layers * 20:]  # the last 20 blocks, all layers
        out[name] = {"mean_rel_error_last_20_blocks": round(statistics.mean(late), 5)}
    out["blocks"] = blocks
    out["budget_frames"] = 21
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--blocks", type=int, default=None, help="timed blocks per policy (default 16 CPU, 24 CUDA)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.blocks is not None and args.blocks < 9:
        ap.error(f"--blocks must be at least 9 (times are taken from block 8 on, Echo's steady state), got {args.blocks}")
    device = torch.device(args.device)
    if device.type == "cuda":
        cfg, dtype, width, height = WAN_1_3B, torch.bfloat16, 832, 480
        name = torch.cuda.get_device_name(device)
    else:
        cfg, dtype, width, height = SMALL, torch.float32, 320, 192
        name = f"CPU, {torch.get_num_threads()} threads"
    model = build_model(cfg, device, dtype)
    result = {
        "benchmark": "memory",
        "date": time.strftime("%Y-%m-%d"),
        "device": name,
        "time": {"model": {"dim": cfg.dim, "layers": cfg.num_layers, "width": width, "height": height},
                 "policies": timed_policies(model, width, height, args.blocks or (24 if device.type == "cuda" else 16),
                                            device)},
        "flat": bytes_against_length(),
        "wan_1_3b": bytes_at_wan_1_3b(),
        "fidelity": attention_fidelity(),
    }
    emit(result, args.out)
    echo = result["time"]["policies"]["echo_forcing"]
    print(f"echo_forcing / rolling window per block: {echo['ratio_to_rolling_window']:.3f}; "
          f"1.3B cache {result['wan_1_3b']['echo_forcing']['GB']} GB = "
          f"{100 * result['wan_1_3b']['echo_forcing']['fraction_of_released']:.1f}% of the released code",
          file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
