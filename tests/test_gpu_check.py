"""bench/gpu_check.py without a GPU: its dry run goes through every step (the CUDA-marked tests in a
subprocess, the paired measurement, the JSON) at a tiny size on the CPU; without CUDA and without
--dry-run it refuses with a message."""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import gpu_check  # noqa: E402
import policy_timing  # noqa: E402


def test_dry_run_writes_one_json_with_tests_policies_and_the_echo_overhead(tmp_path):
    out = tmp_path / "gpu.json"
    result = gpu_check.main(["--dry-run", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    tests = saved["tests"]
    assert tests["returncode"] == 0 and tests["passed"], tests
    counts = tests["counts"]  # skipped without CUDA, passed on a GPU machine
    assert counts.get("skipped", 0) + counts.get("passed", 0) == 7 and not counts.get("failed"), tests
    assert set(saved["policies"]) == set(policy_timing.POLICIES)
    for name, entry in saved["policies"].items():
        assert entry["pixel_fps"] > 0 and entry["finite"] and "peak_bytes_above_start" in entry, name
    echo = saved["echo_overhead"]
    assert echo["ratio_to_rolling_window"] == saved["policies"]["echo_forcing"]["ratio_to_rolling_window"]
    assert echo["spread"]["n"] == 2 and saved["dry_run"] and len(saved["machine"]["start"]["load_average"]) == 3
    assert gpu_check.default_path(saved).name.endswith("-gpu-check-cpu-dry-run.json")
    switch = saved["switch_memory"]  # the recall frame and the old scene's last 2 frames staged
    assert switch["staged_old_frames"] == 3 and switch["geometry"]["layers"] == saved["geometry"]["layers"]
    rope = saved["rope_vs_real_formula"]  # the CPU's complex multiply: bit for bit
    assert rope["max_abs_difference"] == 0.0 and rope["head_dim"] == 128


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_refuses_with_a_message():
    with pytest.raises(SystemExit, match="needs a CUDA device.*--dry-run"):
        gpu_check.main([])
