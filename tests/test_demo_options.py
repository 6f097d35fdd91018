"""The demo CLI's options for Causal Forcing (frames per block, steps, first-block steps, non-EMA weights)
and for community prompt files (--script)."""
import json
import pathlib

import torch
from safetensors.torch import save_file

from echo_stream.__main__ import main as pack_main
from echo_stream.engine import WanConfig
from tiny import tiny_dit

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
SMALL = WanConfig(dim=128, ffn_dim=64, num_heads=1, num_layers=1, text_dim=16, freq_dim=16)


def run(tmp_path, *flags):
    """The demo with `flags`; without --checkpoint on the small random model (the toy model takes no texts)."""
    out = tmp_path / "out"
    model = [] if "--checkpoint" in flags else ["--random-model"]
    code = pack_main(["demo", "--short", "--quiet", "--out", str(out), *model, *flags])
    return code, (json.loads((out / "summary.json").read_text()) if code == 0 else None)


def test_an_interactive_jsonl_script_framewise_with_a_four_step_first_block(tmp_path):
    code, summary = run(tmp_path, "--script", str(FIXTURES / "interactive_sample.jsonl"), "--script-index", "1",
                        "--switch-frames", "4", "--total-frames", "12", "--frames-per-block", "1",
                        "--steps", "1000, 500", "--first-steps", "1000, 750, 500, 250")
    assert code == 0
    assert summary["prompt_file"]["format"] == "interactive jsonl" and summary["prompt_file"]["scripts"] == 3
    assert list(summary["prompt_file"]["prompts"].values())[0].startswith("A red kite rises")
    assert [(s["transition"], s["blocks"]) for s in summary["timeline"]] == [("start", 4), ("smooth", 8)]
    assert summary["latent_frames"] == 12 and summary["finite"]
    assert (summary["frames_per_block"], summary["steps"], summary["first_steps"]) == (1, [1000, 500], [1000, 750, 500, 250])


def test_a_timeline_script_and_bad_options(tmp_path, capsys):
    code, summary = run(tmp_path, "--script", str(FIXTURES / "timelines_sample.txt"), "--script-index", "1")
    assert code == 0 and [s["seconds"] for s in summary["script"]] == [5.0, 7.5]
    assert summary["first_steps"] is None and summary["steps"] == [1000, 750, 500, 250]
    for flags, message in ((["--script", str(FIXTURES / "timelines_sample.txt"), "--script-index", "2"], "out of range"),
                           (["--script", str(tmp_path / "none.txt")], "cannot be read"),
                           (["--non-ema"], "--non-ema needs --checkpoint"),
                           (["--first-steps", "1000, x"], "steps must be numbers"),
                           (["--switch-frames", "8, 4"], "rise strictly")):
        assert run(tmp_path, *flags)[0] == 2, flags
        assert message in capsys.readouterr().err, flags
    toy = ["demo", "--short", "--quiet", "--out", str(tmp_path / "toy"), "--script", str(FIXTURES / "timelines_sample.txt")]
    assert pack_main(toy) == 2 and "--script needs --checkpoint or --random-model" in capsys.readouterr().err


def test_a_causal_forcing_checkpoint_with_prompt_file_embeddings(tmp_path, capsys):
    ema, training = tiny_dit(seed=1, cfg=SMALL).state_dict(), tiny_dit(seed=2, cfg=SMALL).state_dict()
    torch.save({"generator": {"model." + k: v for k, v in training.items()},
                "generator_ema": {"model." + k: v for k, v in ema.items()}}, tmp_path / "causal_forcing.pt")
    save_file({"P0": torch.randn(1, 4, 16), "P1": torch.randn(1, 6, 16)}, tmp_path / "prompts.safetensors")
    flags = ["--checkpoint", str(tmp_path / "causal_forcing.pt"), "--non-ema", "--width", "32", "--height", "32",
             "--script", str(FIXTURES / "interactive_sample.jsonl"), "--script-index", "1", "--switch-frames", "6",
             "--prompts", str(tmp_path / "prompts.safetensors")]
    code, summary = run(tmp_path, *flags)
    assert code == 0 and summary["model"]["weights"] == "generator" and summary["model"]["prompts"].endswith("prompts.safetensors")
    assert [s["blocks"] for s in summary["timeline"]] == [2, 2]  # 6 + 6 latent frames in blocks of 3
    save_file({"P0": torch.randn(1, 4, 16)}, tmp_path / "prompts.safetensors")
    assert run(tmp_path, *flags)[0] == 2
    assert "lacks tensors ['P1']" in capsys.readouterr().err
