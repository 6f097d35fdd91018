"""What 8-bit storage of the Echo memory costs: attention error and bytes (issue 15, item 3).

    python bench/kv_storage.py [--blocks 24] [--out FILE]

  attention  teacher-forced: one Echo-Forcing stream (fp32 model and storage) runs a script with a
             smooth switch and a cut; at every self-attention call of every layer, the context's
             history (everything but the block being generated, which the 8-bit storage never rounds)
             is rounded as bf16 storage and as fp8 e4m3 storage (one scale per token and head) would
             hold it, and the attention outputs are compared: fp8 against bf16 storage (the question),
             and both against the exact fp32 context (the scale of bf16's own rounding).
  stream     end to end: the same script with the model in bf16, storage "model" (bf16) against
             "fp8_e4m3"; relative difference of each block's latents.
  bytes      cache bytes at the Wan2.1-1.3B geometry (832x480, bf16 model), both storages.
  time       what the rounding costs per block: both storages on one fp32 model, steady streams
             alternated block by block, fp8 / model ratio of process CPU time per adjacent pair.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine import AttentionContext, BlockStreamer, LayerMemory, MemoryPolicy, WanConfig
from echo_stream.engine.attention import attend_context
from echo_stream.engine.rope import Rotary, apply_rotary
from echo_stream.memory import EchoConfig, EchoForcingMemory
from echo_stream.memory.fp8_storage import dequantize, quantize
from engine_bench import build_model
from geometry_bytes import WAN_1_3B, geometry
from progress import Progress, machine, quantiles
from report import emit
from wrapped_policy import WrappedPolicy

MODEL = WanConfig(dim=256, ffn_dim=512, num_heads=2, num_layers=4, text_dim=64, freq_dim=64, text_len=32)
WIDTH, HEIGHT = 160, 96  # 10 x 6 tokens per latent frame; head_dim 128 as in Wan


def script(blocks: int):
    """(prompt, transition) per block: a scene, a smooth switch at 1/2, a cut at 3/4."""
    switch, cut = blocks // 2, 3 * blocks // 4
    return [(0 if b < switch else 1 if b < cut else 2, "smooth" if b == switch else "cut" if b == cut else None)
            for b in range(blocks)]


def prompts(cfg):
    g = torch.Generator().manual_seed(11)
    return [torch.randn(1, 16, cfg.text_dim, generator=g) for _ in range(3)]


def run(model, memory, blocks: int) -> list[torch.Tensor]:
    streamer = BlockStreamer(model, memory, width=WIDTH, height=HEIGHT, seed=0)
    bank = prompts(model.config)
    return [streamer.next_block(bank[p], **({"transition": t} if t else {})) for p, t in script(blocks)]


def rel(a, b) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-30)).item()


def rounded(x: torch.Tensor, keep: int, how: str) -> torch.Tensor:
    """x [B, N, H, D] with all but the last `keep` tokens as `how` storage would return them."""
    hist = x[:, :x.shape[1] - keep]
    hist = hist.to(torch.bfloat16).float() if how == "bf16" else dequantize(*quantize(hist), torch.float32)
    return torch.cat([hist, x[:, x.shape[1] - keep:]], dim=1)


class Probe(WrappedPolicy):
    """Wraps a policy; at each context call, the attention error of rounded histories."""

    def __init__(self, inner: MemoryPolicy):
        super().__init__(inner)
        self.errors = {"fp8_vs_bf16": [], "bf16_vs_fp32": [], "fp8_vs_fp32": []}

    def wrap_layer(self, index: int) -> LayerMemory:
        return ProbeLayer(self, index)


class ProbeLayer(LayerMemory):
    def __init__(self, probe, i):
        self.probe, self.i = probe, i

    def context(self, q, k, v) -> AttentionContext:
        ctx = self.probe.inner.layer(self.i).context(q, k, v)
        keep = k.shape[1]
        keys = ctx.keys
        if ctx.keys_rotated:  # storage rounds keys before RoPE: rotate the policy's roped keys back
            keys = apply_rotary(keys, Rotary(ctx.key_rotary.cos, -ctx.key_rotary.sin))

        def attend(how):
            if how == "fp32":
                return attend_context(q, ctx)
            c = AttentionContext(rounded(keys, keep, how), rounded(ctx.values, keep, how), ctx.key_rotary,
                                 ctx.query_rotary, ctx.key_scale, ctx.logit_bias)
            return attend_context(q, c)

        exact, bf16, fp8 = attend("fp32"), attend("bf16"), attend("fp8")
        e = self.probe.errors
        e["fp8_vs_bf16"].append(rel(fp8, bf16))
        e["bf16_vs_fp32"].append(rel(bf16, exact))
        e["fp8_vs_fp32"].append(rel(fp8, exact))
        return ctx

    def commit(self, q, k, v):
        self.probe.inner.layer(self.i).commit(q, k, v)


def paired_cost(model, rounds: int) -> dict:
    """Per-block CPU-time ratio fp8 / model storage, from adjacent pairs of steady blocks."""
    bank = prompts(model.config)
    streams = [BlockStreamer(model, EchoForcingMemory(EchoConfig(kv_storage=s)), width=WIDTH, height=HEIGHT, seed=0)
               for s in ("model", "fp8_e4m3")]
    for streamer in streams:
        for _ in range(9):  # past the steady layout (block 7)
            streamer.next_block(bank[0])

    def cpu(streamer):
        c0 = time.process_time()
        streamer.next_block(bank[0])
        return time.process_time() - c0

    ratios, before = [], cpu(streams[0])
    for _ in range(rounds):
        fp8 = cpu(streams[1])
        after = cpu(streams[0])
        ratios += [fp8 / before, fp8 / after]
        before = after
    return quantiles(ratios)


def bytes_at_1_3b() -> dict:
    g = geometry(WAN_1_3B, 30, 52)
    out = {}
    for name, storage in (("echo_forcing", "model"), ("echo_forcing_fp8", "fp8_e4m3")):
        memory = EchoForcingMemory(EchoConfig(kv_storage=storage))
        memory.setup(g)
        parts = memory.tensors()
        out[name] = {"bytes": memory.nbytes(), "GB": round(memory.nbytes() / 1e9, 3),
                     "parts_bytes": {k: t.numel() * t.element_size() for k, t in parts.items()}}
    return out


@torch.no_grad()
def measure(blocks: int = 24, say=print) -> dict:
    started = time.perf_counter()
    out = {"benchmark": "kv_storage", "date": time.strftime("%Y-%m-%d"), "machine_start": machine(),
           "model": {"dim": MODEL.dim, "layers": MODEL.num_layers, "heads": MODEL.num_heads,
                     "head_dim": MODEL.head_dim, "width": WIDTH, "height": HEIGHT, "random_weights": True},
           "blocks": blocks, "script": "scene 0, smooth switch at blocks/2, cut at 3*blocks/4"}
    say("attention", f"teacher-forced probe, fp32 model, {blocks} blocks")
    model = build_model(MODEL, torch.device("cpu"), torch.float32)
    probe = Probe(EchoForcingMemory())
    run(model, probe, blocks)
    out["attention_rel_error"] = {k: quantiles(v) | {"mean": round(statistics.mean(v), 6)}
                                  for k, v in probe.errors.items()}
    say("stream", "bf16 model: storage model (bf16) against fp8_e4m3, end to end")
    model = build_model(MODEL, torch.device("cpu"), torch.bfloat16)
    ref = run(model, EchoForcingMemory(), blocks)
    got = run(model, EchoForcingMemory(EchoConfig(kv_storage="fp8_e4m3")), blocks)
    per_block = [round(rel(a, b), 5) for a, b in zip(got, ref)]
    out["stream_rel_difference_per_block"] = per_block
    out["stream_rel_difference"] = quantiles(per_block)
    out["wan_1_3b_bytes"] = bytes_at_1_3b()
    say("time", f"fp32 model, storage model against fp8_e4m3, {max(4, blocks // 2)} paired rounds")
    out["time_ratio_fp8_to_model_storage"] = paired_cost(build_model(MODEL, torch.device("cpu"), torch.float32),
                                                         max(4, blocks // 2))
    out["wall_s"] = round(time.perf_counter() - started, 1)
    out["machine_end"] = machine()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=24)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.blocks < 12:
        ap.error("--blocks must be at least 12 (steady state, a switch and a cut)")
    torch.set_num_threads(1)
    progress = Progress("kv_storage")
    result = measure(args.blocks, say=progress.say)
    result["load_1min_by_stage"] = progress.stage_loads()
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
