"""Per-block time of one memory preset from two source trees of the pack, alternated block by block.

    python bench/ab_trees.py /path/to/other/tree [--preset echo_forcing] [--pairs 24]

Both trees are imported in one process (the other under another package name) and run the same
stream on the same random model; each round runs one block of each, so machine load hits both alike.
Prints JSON: median per-block seconds of each tree, and the median and spread of the per-pair ratio.
Used for before/after figures of hot-path changes (one thread, as the CI machine has).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import statistics
import subprocess
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
import loadpack  # noqa: E402,F401  (this tree as echo_stream)
import echo_stream  # noqa: E402


def tree_label(root: pathlib.Path) -> str:
    """The other tree as the results may name it: its git commit when it is a checkout's top, else its
    folder's name (never this machine's path)."""
    try:
        git = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return root.name
    lines = git.stdout.split()
    if git.returncode == 0 and len(lines) == 2 and pathlib.Path(lines[0]).resolve() == root.resolve():
        return f"commit {lines[1]}"
    return root.name  # not a checkout, or a folder inside another one (its commit would not be this tree's)


def load_tree(root: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def streamer(pack, preset: str, cfg_fields: dict, width: int, height: int):
    engine = importlib.import_module(f"{pack.__name__}.engine")
    memory = importlib.import_module(f"{pack.__name__}.memory")
    torch.manual_seed(0)  # the same random weights in both trees
    cfg = engine.WanConfig(**cfg_fields)
    model = engine.CausalWan(engine.WanDiT(cfg).eval(), cfg)
    return engine.BlockStreamer(model, memory.make_memory(preset), width=width, height=height, seed=0)


@torch.no_grad()
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=pathlib.Path, help="root of the other tree (e.g. from git archive)")
    ap.add_argument("--preset", default="echo_forcing")
    ap.add_argument("--pairs", type=int, default=24, help="timed block pairs after the warm-up")
    ap.add_argument("--warmup", type=int, default=8, help="untimed blocks (echo_forcing is steady from block 7)")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=192)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    fields = dict(dim=256, ffn_dim=512, num_heads=2, num_layers=4, text_dim=64, freq_dim=64)
    other = load_tree(args.other.resolve(), "echo_stream_other")
    streams = {"this": streamer(echo_stream, args.preset, fields, args.width, args.height),
               "other": streamer(other, args.preset, fields, args.width, args.height)}
    cond = torch.randn(1, 16, fields["text_dim"], generator=torch.Generator().manual_seed(1))
    times = {name: [] for name in streams}
    outputs_equal = True
    for block in range(args.warmup + args.pairs):
        out = {}
        for name, s in (streams.items() if block % 2 else reversed(list(streams.items()))):
            t0 = time.perf_counter()
            out[name] = s.next_block(cond)
            if block >= args.warmup:
                times[name].append(time.perf_counter() - t0)
        outputs_equal &= torch.equal(out["this"], out["other"])
    ratios = [a / b for a, b in zip(times["this"], times["other"])]
    result = {"benchmark": "ab_trees", "preset": args.preset, "other": tree_label(args.other), "threads": 1,
              "model": fields, "width": args.width, "height": args.height, "pairs": args.pairs,
              "median_block_s": {k: round(statistics.median(v), 5) for k, v in times.items()},
              "ratio_this_to_other": {"median": round(statistics.median(ratios), 4),
                                      "p25": round(statistics.quantiles(ratios, n=4)[0], 4),
                                      "p75": round(statistics.quantiles(ratios, n=4)[2], 4)},
              "outputs_identical": outputs_equal}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
