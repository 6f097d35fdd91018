"""The quality benchmark on a tiny plan: every measure is computed, paired and written with its sheet."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import quality  # noqa: E402


def test_quality_benchmark_writes_measures_pairs_and_a_sheet(tmp_path):
    out = tmp_path / "q-quality.json"
    record = quality.main(["--seeds", "2", "--scene-blocks", "2", "--long", "3",
                           "--policies", "echo_forcing", "no_memory", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["summary"] == json.loads(json.dumps(record["summary"]))
    echo, alone = saved["summary"]["echo_forcing"], saved["summary"]["no_memory"]
    for key in ("recall_d1", "recall_d3", "recall_d10", "cut_clean", "smooth_carried", "consistency_3"):
        assert 0 <= echo[key]["mean"] <= 1 and "diff_vs_echo_forcing" in alone[key]
    assert len(saved["per_seed"]["no_memory"]) == 2
    pooled = alone["recall_when_needed_pooled"]
    assert 0 <= pooled["recalled"] <= pooled["needed"] <= 2 * 3  # 3 recall scripts per seed, one return each
    assert out.with_suffix(".png").stat().st_size > 1000
