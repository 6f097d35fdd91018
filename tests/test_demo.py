"""The six-scene demo end to end on the CPU (short mode), and its pieces."""
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from echo_stream.__main__ import main as pack_main
from echo_stream.demo.chart import HEIGHT, SEGMENTS, WIDTH
from echo_stream.demo.progress import ProgressBar
from echo_stream.demo.prompts import load_prompts, synthetic_prompts
from echo_stream.demo.script import SCENES
from echo_stream.engine.errors import EchoError
from echo_stream.memory.scene_pool import prompt_feature

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert pack_main(["demo", "--short", "--out", str(out)]) == 0
    return out, json.loads((out / "summary.json").read_text())


def test_summary_describes_the_six_scenes(demo):
    _, summary = demo
    assert [s["transition"] for s in summary["timeline"]] == ["start", "smooth", "cut", "recall", "smooth", "recall"]
    assert [s["label"] for s in summary["timeline"]] == [s.label for s in SCENES]
    assert summary["blocks"] == 48 and summary["latent_shape"] == [1, 16, 144, 6, 8]
    assert summary["pixel_frames"] == 4 * 144 - 3 and summary["finite"]  # what the Wan VAE decodes 144 latent frames to
    assert summary["cache_bytes"] > 0 and summary["pool_bytes_cpu"] > 0
    assert summary["max_rope_id"]["keys"] <= 21 + 45
    assert summary["similarity_recalls"] == [{"scene": "E", "found": "C", "similarity": pytest.approx(1, abs=0.1)}]
    assert summary["timing"]["total_s"] > 0 and summary["timing"]["pixel_fps"] > 0


def test_latent_file_loads_with_the_expected_shape(demo):
    out, summary = demo
    tensors = load_file(str(out / "demo.latent"))
    assert list(tensors["latent_tensor"].shape) == summary["latent_shape"]
    assert "latent_format_version_0" in tensors  # Load Latent must not rescale
    assert torch.isfinite(tensors["latent_tensor"]).all()


def test_preview_is_an_animated_webp_with_a_frame_per_latent_frame(demo):
    out, summary = demo
    with Image.open(out / "preview.webp") as image:
        assert image.format == "WEBP" and image.is_animated
        assert image.n_frames == summary["latent_frames"]
        image.seek(image.n_frames // 2)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # a picture, not a flat colour


def test_chart_is_a_png_of_the_expected_size_with_every_memory_part_drawn(demo):
    out, _ = demo
    with Image.open(out / "memory_chart.png") as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50
    for key, _, colour in SEGMENTS:  # anchors, compressed, recent, current, old: all appear as bars
        assert colour in colours, key


def test_similarity_recall_finds_the_intended_scene():
    prompts = synthetic_prompts(64)
    feats = {k: prompt_feature(v) for k, v in prompts.items()}
    e = feats["E"]
    assert max(("A", "B", "C", "D"), key=lambda k: float(feats[k] @ e)) == "C"
    assert float(feats["A"] @ feats["B"]) > 0.8 and float(feats["A"] @ feats["C"]) < 0.5


def test_prompt_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "p.safetensors"
    save_file({n: torch.zeros(1, 5, 8) for n in "ABCD"}, str(path))
    with pytest.raises(EchoError, match=r"lacks tensors \['E'\]"):
        load_prompts(path, 8)
    save_file({n: torch.zeros(1, 5, 8) for n in "ABCDE"}, str(path))
    assert load_prompts(path, 8)["E"].shape == (1, 5, 8)
    with pytest.raises(EchoError, match=r"expected \[1, tokens <= 512, 4096\]"):
        load_prompts(path, 4096)
    with pytest.raises(EchoError, match="not a readable safetensors"):
        load_prompts(tmp_path / "missing.safetensors", 8)


def test_cli_errors_exit_2_with_a_message(tmp_path, capsys):
    assert pack_main(["demo", "--short", "--prompts", "x.safetensors", "--out", str(tmp_path)]) == 2
    assert "--prompts needs --checkpoint" in capsys.readouterr().err
    assert pack_main(["nope"]) == 2
    assert pack_main(["demo", "--short", "--width", "50", "--out", str(tmp_path)]) == 2
    assert "multiple of 16" in capsys.readouterr().err


def test_progress_bar_rewrites_one_line():
    stream = io.StringIO()
    bar = ProgressBar(4, stream=stream, min_interval=0)
    for i in range(1, 5):
        bar.update(i, "scene 1/6")
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 1 and "4/4 blocks" in text


def test_runner_without_install_reaches_the_pack_command_line():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "demo.py"), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--checkpoint" in done.stdout and "Load Latent" in done.stdout


def test_checkpoint_and_prompt_file_run_the_same_script(tmp_path):
    """The --checkpoint path on a tiny saved Wan (128-dim: one 128-wide head, as Wan's loader infers)."""
    from echo_stream.engine import WanConfig, WanDiT

    cfg = WanConfig(dim=128, ffn_dim=64, num_heads=1, num_layers=1, text_dim=24, freq_dim=16)
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in WanDiT(cfg).state_dict().items()}, str(tmp_path / "wan.safetensors"))
    g = torch.Generator().manual_seed(0)
    save_file({n: torch.randn(1, 6, 24, generator=g) for n in "ABCDE"}, str(tmp_path / "prompts.safetensors"))
    out = tmp_path / "out"
    assert pack_main(["demo", "--checkpoint", str(tmp_path / "wan.safetensors"), "--prompts",
                      str(tmp_path / "prompts.safetensors"), "--width", "32", "--height", "32", "--seconds", "1.5",
                      "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["source"] == "checkpoint" and summary["model"]["text_dim"] == 24
    assert summary["model"]["prompts"].endswith("prompts.safetensors")
    assert summary["latent_shape"] == [1, 16, 36, 4, 4]  # 6 scenes x 2 blocks x 3 frames
    assert list(load_file(str(out / "demo.latent"))["latent_tensor"].shape) == summary["latent_shape"]


@pytest.mark.parametrize("flags, message", [
    (["--seconds", "0"], "--seconds must be more than 0 (got 0)"),
    (["--seconds", "-2"], "--seconds must be more than 0 (got -2)"),
    (["--width", "0"], "--width must be more than 0"),
    (["--device", "tpu"], "--device 'tpu' is not a device the demo runs on; valid here: cpu"),
    (["--device", "cuda:99"], "--device cuda:99"),
    (["--num-heads", "2"], "--num-heads needs --checkpoint"),
])
def test_cli_refuses_bad_options_before_running(tmp_path, capsys, monkeypatch, flags, message):
    from echo_stream.demo import model as models

    monkeypatch.setattr(models, "random_model", lambda *a, **k: pytest.fail("the demo ran despite a bad option"))
    assert pack_main(["demo", "--short", "--quiet", "--out", str(tmp_path), *flags]) == 2
    assert message in capsys.readouterr().err


def short_checkpoint(path: Path) -> None:
    """The demo's own --short model (dim 48: Wan's 128-wide heads do not divide it) saved as a checkpoint."""
    from echo_stream.demo import model as models

    dit = models.random_model(True, torch.device("cpu"), torch.float32).dit
    save_file({k: v.contiguous() for k, v in dit.state_dict().items()}, str(path))


def test_a_checkpoint_whose_heads_cannot_be_inferred_loads_with_num_heads(tmp_path, capsys):
    short_checkpoint(tmp_path / "short.safetensors")
    base = ["demo", "--checkpoint", str(tmp_path / "short.safetensors"), "--width", "32", "--height", "32",
            "--seconds", "0.75", "--quiet"]
    assert pack_main([*base, "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err
    assert "hidden size 48" in err and "--num-heads N" in err
    assert pack_main([*base, "--num-heads", "2", "--out", str(tmp_path / "yes")]) == 0
    summary = json.loads((tmp_path / "yes" / "summary.json").read_text())
    assert summary["model"]["heads"] == 2 and summary["model"]["dim"] == 48
    assert summary["latent_shape"] == [1, 16, 18, 4, 4]  # 6 scenes x 1 block x 3 frames


def test_the_prompt_file_is_checked_before_the_checkpoint_loads(tmp_path, capsys, monkeypatch):
    from echo_stream.demo import model as models

    monkeypatch.setattr(models, "checkpoint_model", lambda *a, **k: pytest.fail("the checkpoint loaded first"))
    save_file({n: torch.zeros(1, 5, 8) for n in "ABCD"}, str(tmp_path / "p.safetensors"))
    args = ["demo", "--checkpoint", str(tmp_path / "big.pt"), "--prompts", str(tmp_path / "p.safetensors"),
            "--quiet", "--out", str(tmp_path / "out")]
    assert pack_main(args) == 2
    assert "lacks tensors ['E']" in capsys.readouterr().err
    save_file({n: torch.zeros(1, 5, 8 if n != "E" else 16) for n in "ABCDE"}, str(tmp_path / "p.safetensors"))
    assert pack_main(args) == 2
    assert "different widths" in capsys.readouterr().err


def test_a_prompt_file_of_the_wrong_width_is_named_after_the_checkpoint_loads(tmp_path, capsys):
    short_checkpoint(tmp_path / "short.safetensors")
    save_file({n: torch.zeros(1, 5, 8) for n in "ABCDE"}, str(tmp_path / "p.safetensors"))
    assert pack_main(["demo", "--checkpoint", str(tmp_path / "short.safetensors"), "--num-heads", "2",
                      "--prompts", str(tmp_path / "p.safetensors"), "--quiet", "--out", str(tmp_path / "out")]) == 2
    assert "the embeddings are 8 wide, but this model takes 64" in capsys.readouterr().err
