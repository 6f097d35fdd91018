"""The quality benchmark: what each memory policy preserves, recalls and forgets, on the toy world.

    python bench/quality.py                 # the bundled toy model, 3 seeds, scenes of 4 blocks (minutes)
    python bench/quality.py --seeds 8 --long 1000 --scene-blocks 8

Every policy runs the same scripts with the same seeds (batch 1, the stream's own sampler); every
generated block is read back into world terms (toyworld.readback), so each measure is an exact-match
share with a known chance level:

  recall_d{1,3,10}   A -> cut -> d other scenes (cuts) -> return to A (recall by label): the share of
                     returns whose look (palette, pattern), one block after the return,
                     equals A's settled look (its second block's: the model's first block of a new
                     scene is often unsettled). Chance: 1/16 (look = palette x pattern).
  recall_when_needed over the returns of all recall scripts whose previous block showed another look
                     than A's (recall_needed: how often that was so): the share that brought A's back
                     (recall_when_needed_pooled: pooled over seeds, with the counts)
  cut_clean          over those scripts' cuts: the share of first blocks after a cut whose instance
                     differs from the look before the cut (a fresh draw equals it with chance 1/16)
  smooth_carried     A -> smooth B -> smooth C: the share of switches after which the instance (one
                     block later) equals the one before the switch
  smooth_lag         blocks from a smooth switch until the category reads as the new prompt
  consistency_100    one scene of 100 blocks (and --long N): the share of blocks whose look equals
                     the scene's settled look (its second block's)
  category_match     share of blocks (after each scene's first) whose category reads as prompted
  clean_frames       share of blocks within 0.5 relative RMS of a clean world frame
  sink<N>_snapback   sink collapse, on each one-scene run of N blocks, over its blocks after the first
                     7 (21 frames: every window has rolled past the start by then): the share whose
                     latent is nearer to the stream's first block than to the block before it
  sink<N>_return     of those blocks whose look changed from the block before, the share whose new
                     look is the stream's first look (block 0's or 1's); sink<N>_return_chance: what
                     a change to a uniformly drawn other look would give (about 1/15 to 2/15)
  tf_*               the teacher-forced lens (toyworld.rollout.teacher_forced) on the recall and
                     smooth scripts: the memory holds the TRUE clip's blocks (written through the
                     stream's clean pass instead of the generated ones) and each block is denoised
                     from it; tf_look / tf_category: blocks inside a scene reading as the true look /
                     category; tf_recall: a return's first block showing the returned scene's true
                     look (tf_recall_pooled: pooled counts; chance 1/16); tf_carried: a smooth
                     switch's first block keeping the true look; tf_cut_clean: a cut's first block
                     showing another look than the true one before the cut

Paired differences against echo_forcing (same seed, same script) are reported with their standard
deviation over seeds; a difference is "within noise" when |mean| < 2 standard errors.
Writes bench/results/<date>-quality-cpu.json and a picture sheet PNG next to it (film strips around
each transition of the recall and smooth scripts, one row per policy, seed 0).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

import loadpack  # noqa: F401
from echo_stream.engine import full_cache, rolling_window
from echo_stream.memory import make_memory
from echo_stream.toyworld import CATEGORIES, Step
from echo_stream.toyworld.evaluate import (INSTANCE_CHANCE, block_measures, sink_measures, teacher_forced_outcomes,
                                           transition_outcomes)
from echo_stream.toyworld.model import DEFAULT_MODEL, load_toy_model
from echo_stream.toyworld.rollout import generate, teacher_forced

RESULTS = Path(__file__).resolve().parent / "results"
FULL_CACHE_MAX_FRAMES = 400  # the full cache runs a script only when it holds at most this many frames
POLICIES = {
    "echo_forcing": lambda frames: make_memory("echo_forcing"),
    "echo_forcing+true_spatial_ids": lambda frames: make_memory("echo_forcing", true_spatial_ids=True),
    "echo_forcing+decay_as_log_weight": lambda frames: make_memory("echo_forcing", decay_as_log_weight=True),
    "self_forcing_window": lambda frames: make_memory("self_forcing_window"),
    "longlive_recache": lambda frames: make_memory("longlive_recache"),
    "infinity_rope": lambda frames: make_memory("infinity_rope"),
    "echo_infinity_rope": lambda frames: make_memory("echo_infinity_rope"),
    "full_cache": lambda frames: full_cache(frames) if frames <= FULL_CACHE_MAX_FRAMES else None,
    "no_memory": lambda frames: rolling_window(3, 0),  # each block sees only itself
    "echo_forcing+fp8_e4m3": lambda frames: make_memory("echo_forcing", kv_storage="fp8_e4m3"),
}
OPT_IN = {"echo_forcing+fp8_e4m3"}  # named on --policies only (8-bit storage: issue 15's comparison run)
BASELINE = "echo_forcing"


def recall_script(distance: int, scene_blocks: int) -> list[Step]:
    """A, then `distance` other scenes each entered by a cut, then a return to A."""
    others = [c for c in CATEGORIES if c != "ocean"]
    steps = [Step("start", "ocean", scene_blocks)]
    steps += [Step("cut", others[k % len(others)], scene_blocks) for k in range(distance)]
    return steps + [Step("return", scene=0, blocks=2)]


def smooth_script(scene_blocks: int) -> list[Step]:
    return [Step("start", "desert", scene_blocks), Step("smooth", "forest", scene_blocks), Step("smooth", "night", scene_blocks)]


def scripts(scene_blocks: int, long_blocks: tuple[int, ...]) -> dict[str, list[Step]]:
    out = {f"recall_d{d}": recall_script(d, scene_blocks) for d in (1, 3, 10)}
    out["smooth"] = smooth_script(scene_blocks)
    for n in long_blocks:
        out[f"consistency_{n}"] = [Step("start", "meadow", n)]
    return out


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def measure_script(name: str, gen) -> dict:
    """The measures one generated script gives (one sample)."""
    readings = gen.readings[0]
    per_block = block_measures(gen.blocks, readings, reference="settled")
    outcomes = transition_outcomes(gen.blocks, readings, reference="settled")
    out = {"category_match": per_block["category_match"], "clean_frames": per_block["clean"]}
    if name.startswith("recall"):
        returns = [o for o in outcomes if o["transition"] == "return"]
        out[name] = _mean(o["recalled"] for o in returns)
        out["recall_needed"] = _mean(o["target_gone"] for o in returns)
        out["recall_when_needed"] = _mean(o["recalled"] for o in returns if o["target_gone"])
        out["returns_needed_n"] = sum(o["target_gone"] for o in returns)
        out["returns_needed_recalled_n"] = sum(o["recalled"] and o["target_gone"] for o in returns)
        out["cut_clean"] = _mean(o["clean"] for o in outcomes if o["transition"] == "cut")
    elif name == "smooth":
        out["smooth_carried"] = _mean(o["carried"] for o in outcomes if o["transition"] == "smooth")
        out["smooth_lag"] = _mean(o["lag_blocks"] for o in outcomes if o["transition"] == "smooth")
    else:
        out[name] = per_block["consistency"]
        n = name.split("_")[-1]
        for key, value in sink_measures(readings, gen.latent[0]).items():
            out[f"sink{n}_{key}"] = value
    return out


def measure_teacher_forced(model, steps, memory, seed: int) -> dict:
    """The teacher-forced lens on one script (one sample): tf_* measures."""
    clip, pred = teacher_forced(model, steps, memory, seed=seed)
    return {f"tf_{k}": v for k, v in teacher_forced_outcomes(clip, pred.readings[0]).items()}


def run(model, seeds: int, scene_blocks: int, long_blocks: tuple[int, ...], policies, log=None,
        teacher_forcing: bool = True) -> dict:
    plan = scripts(scene_blocks, long_blocks)
    rows, sheets = {}, {}
    for policy in policies:
        rows[policy] = []
        for seed in range(seeds):
            acc: dict[str, list] = {}
            for name, steps in plan.items():
                frames = 3 * sum(s.blocks for s in steps)
                memory = POLICIES[policy](frames)
                if memory is None:
                    continue
                started = time.perf_counter()
                gen = generate(model, steps, memory, seed=seed)
                for key, value in measure_script(name, gen).items():
                    acc.setdefault(key, []).append(value)
                if seed == 0 and name in ("recall_d3", "smooth"):
                    sheets.setdefault(name, {})[policy] = gen
                if log:
                    log(f"{policy:34s} seed {seed} {name:16s} {time.perf_counter() - started:6.1f} s")
                if teacher_forcing and not name.startswith("consistency"):
                    started = time.perf_counter()
                    for key, value in measure_teacher_forced(model, steps, POLICIES[policy](frames), seed).items():
                        acc.setdefault(key, []).append(value)
                    if log:
                        log(f"{policy:34s} seed {seed} {name + ' (tf)':16s} {time.perf_counter() - started:6.1f} s")
            rows[policy].append({k: sum(v) if k.endswith("_n") else _mean(v) for k, v in acc.items()})
    return {"per_seed": rows, "sheets": sheets}


def paired(per_seed: dict, baseline: str = BASELINE) -> dict:
    """Per policy and measure: mean, and the mean and spread of (policy - baseline) over seeds."""
    out = {}
    for policy, rows in per_seed.items():
        out[policy] = {}
        for key in rows[0]:
            vals = [r.get(key) for r in rows]
            base = [r.get(key) for r in per_seed[baseline]]
            entry = {"mean": _mean(vals)}
            diffs = [v - b for v, b in zip(vals, base) if v is not None and b is not None]
            if policy != baseline and diffs:
                m = sum(diffs) / len(diffs)
                sd = math.sqrt(sum((d - m) ** 2 for d in diffs) / (len(diffs) - 1)) if len(diffs) > 1 else None
                within = None if sd is None else abs(m) < 2 * sd / math.sqrt(len(diffs)) or (sd == 0 and m == 0)
                entry.update({"diff_vs_" + baseline: m, "diff_sd": sd, "within_noise": within})
            out[policy][key] = entry
        needed = sum(r.get("returns_needed_n", 0) for r in rows)
        brought = sum(r.get("returns_needed_recalled_n", 0) for r in rows)
        out[policy]["recall_when_needed_pooled"] = {"mean": brought / needed if needed else None,
                                                    "recalled": brought, "needed": needed}
        for key in [k for k in rows[0] if k.startswith("sink") and k.endswith("_returns_n")]:
            changes = sum(r.get(key.replace("_returns_n", "_changes_n"), 0) for r in rows)
            returns = sum(r.get(key, 0) for r in rows)
            out[policy][key.replace("_returns_n", "_return_pooled")] = {
                "mean": returns / changes if changes else None, "returns": returns, "changes": changes}
        if any("tf_recall_n" in r for r in rows):
            needed = sum(r.get("tf_recall_n", 0) for r in rows)
            brought = sum(r.get("tf_recalled_n", 0) for r in rows)
            out[policy]["tf_recall_pooled"] = {"mean": brought / needed if needed else None,
                                               "recalled": brought, "needed": needed}
    return out


MEASURES = ("recall_d1", "recall_d3", "recall_d10", "recall_needed", "recall_when_needed_pooled", "cut_clean", "smooth_carried", "smooth_lag", "consistency_100",
            "category_match", "clean_frames", "tf_look", "tf_category", "tf_recall_pooled", "tf_carried", "tf_cut_clean")


def table(summary: dict) -> str:
    keys = [k for k in MEASURES if any(k in v for v in summary.values())]
    keys += sorted({k for v in summary.values() for k in v if k.startswith("consistency_") and k not in keys})
    keys += sorted({k for v in summary.values() for k in v if k.startswith("sink") and not k.endswith("_n")
                    and not k.endswith("_return")})  # the pooled share stands for the per-seed mean
    lines = ["| policy | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for policy, entries in summary.items():
        cells = []
        for k in keys:
            e = entries.get(k)
            if e is None or e["mean"] is None:
                cells.append("–")
                continue
            cell = f"{e['mean']:.2f}"
            if "needed" in e:
                cell += f" ({e['recalled']}/{e['needed']})"
            if "changes" in e:
                cell += f" ({e['returns']}/{e['changes']})"
            if "diff_vs_" + BASELINE in e:
                d = e["diff_vs_" + BASELINE]
                cell += f" ({d:+.2f}{'' if e['within_noise'] is False else '~'})"
            cells.append(cell)
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="toy model (default: the bundled one)")
    ap.add_argument("--seeds", type=int, default=3, help="noise seeds per policy and script (default 3)")
    ap.add_argument("--scene-blocks", type=int, default=4, help="blocks per scene in the recall/smooth scripts (default 4)")
    ap.add_argument("--long", type=int, nargs="*", default=[100], help="lengths of the one-scene consistency runs")
    ap.add_argument("--policies", nargs="+", choices=list(POLICIES), default=[p for p in POLICIES if p not in OPT_IN],
                    help="policies to run (default: all but the opt-in " + ", ".join(sorted(OPT_IN)) + ")")
    ap.add_argument("--out", type=Path, help="JSON path (default bench/results/<date>-quality-cpu.json)")
    ap.add_argument("--no-teacher-forcing", action="store_true", help="skip the teacher-forced lens (tf_*)")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    if BASELINE not in args.policies:
        args.policies.insert(0, BASELINE)
    torch.set_num_threads(1)
    started = time.perf_counter()
    model = load_toy_model(args.model)
    result = run(model, args.seeds, args.scene_blocks, tuple(args.long), args.policies,
                 log=lambda s: print(s, file=sys.stderr, flush=True), teacher_forcing=not args.no_teacher_forcing)
    summary = paired(result["per_seed"])
    record = {
        "benchmark": "quality", "date": datetime.date.today().isoformat(),
        "device": f"CPU {platform.processor() or platform.machine()}, 1 thread", "torch": torch.__version__,
        "model": str(args.model.name), "seeds": args.seeds, "scene_blocks": args.scene_blocks,
        "long_blocks": args.long, "instance_chance": INSTANCE_CHANCE, "category_chance": 1 / len(CATEGORIES),
        "baseline": BASELINE, "summary": summary, "per_seed": result["per_seed"],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(record, indent=1)
    print(text)
    print(table(summary), file=sys.stderr)
    if not args.no_save:
        path = args.out or RESULTS / f"{record['date']}-quality-cpu.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        from quality_sheet import picture_sheet

        sheet = picture_sheet(result["sheets"], path.with_suffix(".png"))
        print(f"wrote {path} and {sheet}", file=sys.stderr)
    return record


if __name__ == "__main__":
    main()
