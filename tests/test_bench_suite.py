"""The benchmark suite's pieces, on tiny sizes: every figure it reports is computed and checked."""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import geometry_bytes  # noqa: E402
import length_bytes  # noqa: E402
import policy_timing  # noqa: E402
import suite  # noqa: E402
from procmem import PeakMeter, rss_bytes  # noqa: E402
from tiny_stream import tiny_config, tiny_model  # noqa: E402


def test_cache_bytes_at_wan_1_3b_match_the_arithmetic_and_the_notes():
    out = geometry_bytes.at_wan_1_3b()
    assert out["geometry"]["tokens_per_frame"] == 1560
    assert out["bytes_per_latent_frame"] == 2 * 30 * 1560 * 1536 * 2
    policies = out["policies"]
    assert all(p["arithmetic_check"] for n, p in policies.items() if not n.startswith("echo_forcing"))
    # 8-bit ring and pool: under the rolling window's bytes, about half the bf16 figure
    fp8 = policies["echo_forcing_fp8"]["bytes"]
    assert fp8 <= policies["self_forcing_window"]["bytes"] and 0.5 < fp8 / policies["echo_forcing"]["bytes"] < 0.55
    assert policies["self_forcing_window"]["GB"] == pytest.approx(6.04, abs=0.01)
    assert policies["longlive_recache"]["GB"] == pytest.approx(3.45, abs=0.01)
    assert policies["echo_forcing"]["fraction_of_released_code"] <= 0.40
    # ring + pool of every layer plus one layer's work window: W + A + W / L frames; and the selector's and
    # the reuse counts' scratch: per ring token and layer an int32 reuse count, a float32 magnitude term and
    # 7 float32 phase rows, plus each layer's phase weights for 21 distances (float32 per head x dim)
    scratch = 30 * 21 * 1560 * (4 + 4 + 7 * 4) + 30 * 21 * 1536 * 4
    frames = 21 + 12 + 21 / 30 + scratch / out["bytes_per_latent_frame"]
    assert policies["echo_forcing"]["latent_frames_equivalent"] == pytest.approx(frames, abs=0.01)


def test_reported_bytes_are_what_the_process_really_allocates():
    check = geometry_bytes.allocation_check(grid=(2, 4))
    for name in ("self_forcing_window", "echo_forcing"):
        assert 0.95 < check[name]["ratio"] < 1.3, check


def test_peak_meter_sees_a_touched_allocation_and_not_an_untouched_one():
    with PeakMeter(torch.device("cpu")) as touched:
        x = torch.ones(8_000_000)  # 32 MB written
        del x
    assert touched.exact and 30e6 < touched.peak < 40e6
    assert rss_bytes() > 0


@torch.no_grad()
def test_policy_timing_reports_every_policy_with_paired_ratios_and_peaks():
    model = tiny_model(tiny_config(layers=1, dim=24))
    lines = []
    out = policy_timing.measure(model, width=32, height=32, rounds=3, first_block_runs=2,
                                say=lambda stage, msg: lines.append((stage, msg)))
    assert set(out) == set(policy_timing.POLICIES)
    base = out["self_forcing_window"]
    assert base["ratio_to_rolling_window"] == 1.0 and base["ratio_spread"] is None
    assert base["timed_blocks"] == 1 + 3 * (len(policy_timing.POLICIES) - 1)  # B p1 B p2 B ... per round
    for name, entry in out.items():
        assert entry["finite"] and entry["per_block_s"] > 0 and entry["time_to_first_block_s"] > 0, name
        assert entry["pixel_fps"] == pytest.approx(12 / entry["per_block_s"], rel=0.01)
        assert entry["peak_bytes_above_start"] >= 0 and entry["cache_bytes"] > 0
        if name != "self_forcing_window":
            spread = entry["ratio_spread"]
            assert entry["timed_blocks"] == 3 and spread["n"] == 6  # two adjacent pairs per block
            assert spread["min"] <= spread["p25"] <= spread["median"] <= spread["p75"] <= spread["max"]
            assert entry["ratio_to_rolling_window"] == spread["median"] and entry["ratio_clock"] == "process_cpu"
            assert entry["ratio_wall_spread"]["n"] == 6 and entry["ratio_wall"] == entry["ratio_wall_spread"]["median"]
        assert 0 < entry["per_block_cpu_s"]
    # progress: one line per solo policy and per round, while it runs
    assert [s for s, _ in lines].count("solo") == len(policy_timing.POLICIES)
    assert [m for s, m in lines if s == "paired"][-1].startswith("round 3/3 (process_cpu time ratios so far): ")
    with pytest.raises(ValueError, match="paired round"):
        policy_timing.measure(model, width=32, height=32, rounds=0)
    # what the CUDA pre-check estimates on the meta device is what the streams really held
    needed = policy_timing.cache_bytes_needed(model, policy_timing.POLICIES, width=32, height=32,
                                              total_frames=policy_timing.frames_needed(3))
    assert needed == {name: entry["cache_bytes"] for name, entry in out.items()}


def test_quantiles_of_pair_ratios():
    from progress import quantiles
    q = quantiles([float(x) for x in range(1, 12)])  # 1..11
    assert q["median"] == 6 and q["p25"] == 3.5 and q["p75"] == 8.5 and q["iqr"] == 5
    assert q["p10"] == 2 and q["p90"] == 10 and q["n"] == 11 and (q["min"], q["max"]) == (1, 11)
    with pytest.raises(ValueError):
        quantiles([])


def test_cache_bytes_are_flat_against_length_and_the_full_cache_is_not():
    out = length_bytes.against_length(minutes=(0.25, 0.5, 1), scene_blocks=6)
    assert [r["blocks"] for r in out["checkpoints"]] == [20, 40, 80]
    assert all(out["flat"].values()), out["flat"]
    assert out["checkpoints"][-1]["scenes"] == 14 and out["checkpoints"][-1]["echo_pool_bytes_cpu"] > 0
    need = [r["bytes_wan_1_3b"] for r in out["full_cache_would_need"]]
    assert need[1] == 2 * need[0] and need[2] == 4 * need[0]
    assert length_bytes.blocks_for_minutes(60) == 4800  # 14,400 latent frames


def test_suite_entry_point_writes_json_prints_progress_and_a_table(tmp_path, capsys):
    out = tmp_path / "suite.json"
    result = suite.main(["--quick", "--rounds", "1", "--minutes", "0.25", "0.5", "--no-fidelity", "--out", str(out)])
    partial = suite.main(["--quick", "--rounds", "1", "--minutes", "0.25", "--no-fidelity", "--no-save",
                          "--policies", "echo_forcing", "infinity_rope", "--wide"])
    # the baseline is always timed: every ratio is against it
    assert set(partial["policies"]) == {"self_forcing_window", "echo_forcing", "infinity_rope"}
    assert partial["policies"]["echo_forcing"]["ratio_spread"]["n"] == 2
    # --wide: the window and echo_forcing timed again on the wide model (the quick model here)
    wide = partial["wan_1_3b_width"]
    assert set(wide["policies"]) == {"self_forcing_window", "echo_forcing"} and "wan_1_3b_width" not in result
    assert wide["policies"]["echo_forcing"]["ratio_spread"]["n"] == 2 and wide["policies"]["echo_forcing"]["per_block_s"] > 0
    saved = json.loads(out.read_text())
    assert saved["policies"].keys() == result["policies"].keys() == set(policy_timing.POLICIES)
    assert saved["against_length"]["flat"]["echo_forcing"]
    m = saved["machine"]
    assert m["start"]["torch_threads"] == 1 and m["start"]["cpu_count"] >= 1
    assert len(m["start"]["load_average"]) == 3 and {"solo", "paired", "length"} <= set(m["load_1min_by_stage"])
    err = capsys.readouterr().err
    assert "] paired: round 1/1 (process_cpu time ratios so far): " in err and "] length: 0.25 min" in err  # progress as it goes
    assert "echo_forcing" in err and "ms/block" in err and "% of the released code" in err and "load average" in err
    assert "] wide: paired: round 1/1" in err and "wide stage, quick stand-in (dim 64, 2 layers, 64x64): echo_forcing" in err
    name = suite.default_path(saved, torch.device("cpu")).name
    assert name.startswith(saved["date"]) and name.endswith("-suite-cpu-quick.json")
    with pytest.raises(SystemExit):
        suite.main(["--quick", "--long", "--no-save"])
