"""`python -m echo_stream toyworld <train|check>`: train the toy model, or check what it generates."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..engine.errors import EchoError

DESCRIPTION = """\
The toy world: a procedural multi-scene video world in Wan's latent layout and a small causal Wan
trained on it (the pack's embedded default model).

  train   train from scratch, seeded, for a fixed number of steps (about 10 minutes of one CPU
          thread for the default 900); writes toyworld_wan.safetensors (original Wan names) and
          toyworld_wan.json (config, loss curve, seconds, machine) into --out
  check   generate a short script (start, smooth switch, cut, return) with a model and report how
          the frames read back: category as prompted, clean frames, instance consistency,
          what carried over the smooth switch, whether the cut was clean and the return recalled
"""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m echo_stream toyworld", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train the toy model from scratch")
    tr.add_argument("--out", type=Path, default=Path("toyworld_model"), help="output folder (default ./toyworld_model)")
    tr.add_argument("--max-steps", type=int, default=900, help="optimizer steps (default 900); fixes the schedule")
    tr.add_argument("--seed", type=int, default=0, help="seed of the weights, clips and noise (default 0)")
    tr.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest on a small shared CPU)")
    tr.add_argument("--quiet", action="store_true", help="no progress lines")
    ck = sub.add_parser("check", help="generate a short script and read it back")
    ck.add_argument("--model", type=Path, help="a toyworld_wan.safetensors (default: the bundled model)")
    ck.add_argument("--memory", default="echo_forcing", help="memory preset (default echo_forcing)")
    ck.add_argument("--seeds", type=int, default=4, help="noise seeds to average over (default 4)")
    return ap


def _train(args) -> int:
    from .train import TrainConfig, save, train

    if args.max_steps < 1:
        raise EchoError(f"--max-steps must be at least 1, got {args.max_steps}")
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    model, record = train(TrainConfig(seed=args.seed, max_steps=args.max_steps, threads=args.threads), log=log)
    path = save(model, record, args.out)
    print(f"trained {record['steps']} steps in {record['seconds']:.0f} s, final loss {record['final_loss']:.4f}",
          file=sys.stderr)
    print(path)
    return 0


def _check(args) -> int:
    import torch

    from ..memory import make_memory
    from .evaluate import DEMO_STEPS, summarize
    from .model import load_toy_model
    from .rollout import generate

    torch.set_num_threads(1)
    model = load_toy_model(args.model)
    rows = [summarize(generate(model, DEMO_STEPS, make_memory(args.memory), seed=s)) for s in range(args.seeds)]
    mean = {k: sum(r[k] for r in rows if r[k] is not None) / max(1, sum(r[k] is not None for r in rows)) for k in rows[0]}
    print(json.dumps({"memory": args.memory, "seeds": args.seeds, "mean": mean}, indent=1))
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return _train(args) if args.command == "train" else _check(args)
    except EchoError as err:
        print(f"toyworld: {err}", file=sys.stderr)
        return 2
