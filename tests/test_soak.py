"""The soak: a short one in the default suite (the code path), a few thousand blocks behind `slow`."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soak  # noqa: E402
from soak_scenes import soak_scenes  # noqa: E402
from tiny_stream import tiny_config  # noqa: E402

# growth-phase ids: staged old frames (<= 3) + scene frames + the block, + a cut's 45-id jump
ID_BOUND = 21 + 45


def check(result, blocks, scene_blocks):
    assert result["complete"] and result["blocks_done"] == blocks
    assert result["scenes"] == -(-blocks // scene_blocks)
    assert result["nan_or_inf_blocks"] == 0
    assert result["cache_bytes_flat"]
    assert result["max_key_rope_id"] <= ID_BOUND and result["max_query_rope_id"] <= ID_BOUND
    assert result["max_rope_jump"] == 45  # a cut happened and its jump was used
    recalls = result["similarity_recalls"]
    assert recalls["checked"] >= 1 and recalls["found_intended"] == recalls["checked"], recalls


def test_scene_schedule_cycles_through_every_transition():
    scenes = soak_scenes(tiny_config())
    first = [next(scenes) for _ in range(13)]
    assert [s.kind for s in first[:7]] == ["start", "smooth", "cut", "recall_label", "smooth", "cut", "recall_similar"]
    assert first[3].recall == "s1" and first[6].intended == "s2" and first[12].intended == "s8"
    assert first[3].prompt is first[1].prompt


def test_short_soak_runs_through_sessions_and_reports(tmp_path):
    out = tmp_path / "soak.json"
    result = soak.run(blocks=200, scene_blocks=20, sample_every=100, out=out)
    check(result, 200, 20)
    assert [s["block"] for s in result["samples"]] == [80, 100, 200]
    assert result["start"]["block"] == 80 and result["end"]["block"] == 200
    assert out.exists() and '"complete": true' in out.read_text()
    assert result["end"]["heap_in_use_bytes"] > 0 and result["end"]["python_blocks"] > 0
    assert result["rss_after_malloc_trim_bytes"] > 0


@pytest.fixture
def slow_selected(request):
    if "slow" not in (request.config.getoption("markexpr") or "").replace("not slow", ""):
        pytest.skip("a 3000-block soak (about 25 s): run with -m slow")


@pytest.mark.slow
def test_soak_3000_blocks_memory_flat_and_ids_bounded(slow_selected, tmp_path):
    result = soak.run(blocks=3000, scene_blocks=100, sample_every=1000, out=tmp_path / "soak.json")
    check(result, 3000, 100)
    assert abs(result["rss_change_start_to_end_pct"]) < 5, result["samples"]
    assert abs(result["heap_in_use_change_start_to_end_pct"]) < 2, result["samples"]  # live C heap: flat
    assert result["end"]["pool_scenes"] == 29
