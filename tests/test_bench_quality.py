"""The quality benchmark on a tiny plan: every measure is computed, paired and written with its sheet."""
import json
import sys
from pathlib import Path

import torch

from echo_stream.toyworld import Step, play
from echo_stream.toyworld.evaluate import sink_measures, teacher_forced_outcomes
from echo_stream.toyworld.rollout import read_blocks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import quality  # noqa: E402


def test_quality_benchmark_writes_measures_pairs_and_a_sheet(tmp_path):
    out = tmp_path / "q-quality.json"
    record = quality.main(["--seeds", "2", "--scene-blocks", "2", "--long", "9",
                           "--policies", "echo_forcing", "no_memory", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["summary"] == json.loads(json.dumps(record["summary"]))
    echo, alone = saved["summary"]["echo_forcing"], saved["summary"]["no_memory"]
    for key in ("recall_d1", "recall_d3", "recall_d10", "cut_clean", "smooth_carried", "consistency_9",
                "sink9_snapback", "tf_look", "tf_category", "tf_carried", "tf_cut_clean"):
        assert 0 <= echo[key]["mean"] <= 1 and "diff_vs_echo_forcing" in alone[key]
    assert len(saved["per_seed"]["no_memory"]) == 2
    pooled = alone["recall_when_needed_pooled"]
    assert 0 <= pooled["recalled"] <= pooled["needed"] <= 2 * 3  # 3 recall scripts per seed, one return each
    tf = alone["tf_recall_pooled"]
    assert 0 <= tf["recalled"] <= tf["needed"] <= 2 * 3
    sink = alone["sink9_return_pooled"]
    assert 0 <= sink["returns"] <= sink["changes"] <= 2 * 2  # blocks 7 and 8 of 9, 2 seeds
    assert out.with_suffix(".png").stat().st_size > 1000


def test_teacher_forced_outcomes_score_the_true_clip_as_true():
    steps = [Step("start", "ocean", 2), Step("smooth", "forest", 2), Step("cut", "lava", 2), Step("return", scene=0, blocks=2)]
    clip = play(steps, torch.Generator().manual_seed(1))
    truth = teacher_forced_outcomes(clip, read_blocks(clip.latent))
    assert truth["look"] == truth["category"] == truth["carried"] == 1.0
    cut_changed = clip.scenes[2].instance.codes[:2] != clip.scenes[1].instance.codes[:2]
    assert truth["cut_clean"] == float(cut_changed)
    assert truth["recall_n"] == int(cut_changed) and truth["recalled_n"] == truth["recall_n"]
    frozen = read_blocks(clip.latent[:, :3].repeat(1, 8, 1, 1))  # the first block shown again and again
    assert teacher_forced_outcomes(clip, frozen)["carried"] == 1.0 and teacher_forced_outcomes(clip, frozen)["category"] < 1


def test_sink_measures_see_a_rollout_snap_back_to_its_first_block():
    a = play([Step("start", "ocean", 1)], torch.Generator().manual_seed(2)).latent
    b = play([Step("start", "forest", 1)], torch.Generator().manual_seed(3)).latent
    drifting = torch.cat([a] * 2 + [b] * 8, dim=1)  # 10 blocks: a a b b b b b b b b
    snapping = torch.cat([a] * 2 + [b] * 6 + [a] * 2, dim=1)  # ... back to a at block 8 (block 9 equals both)
    drift = sink_measures(read_blocks(drifting), drifting)
    assert drift["snapback"] == 0.0 and drift["changes_n"] == 0 and drift["return"] is None
    snap = sink_measures(read_blocks(snapping), snapping)
    assert snap["snapback"] == 1 / 3 and snap["returns_n"] == snap["changes_n"] == 1 and snap["return"] == 1.0
    assert 0 < snap["return_chance"] <= 2 / 15
