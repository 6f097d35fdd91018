"""A shortened toy-world training run: the loss falls, and the saved file loads like any checkpoint."""
import json

import torch

from echo_stream.engine import load_causal_wan
from echo_stream.toyworld.model import load_toy_model
from echo_stream.toyworld.train import TrainConfig, save, train


def test_short_training_run_lowers_the_loss_and_saves_a_wan_checkpoint(tmp_path):
    cfg = TrainConfig(seed=3, max_steps=30, batch=2, blocks=2, warmup=2, lr=5e-3)
    model, record = train(cfg, log_every=5)
    losses = [p["loss"] for p in record["loss_curve"]]
    assert len(losses) == 6 and record["steps"] == 30
    assert losses[-1] < 0.85 * losses[0], losses
    path = save(model, record, tmp_path)
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["config"]["model"]["num_heads"] == 2 and saved["machine"]["torch_threads"] == 1
    assert set(saved) >= {"config", "steps", "loss_curve", "seconds", "machine"}
    loaded = load_causal_wan(path, num_heads=2)  # original Wan names: our own loader reads it
    assert set(loaded.dit.state_dict()) == set(model.dit.state_dict())
    x = torch.randn(1, 16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    cond = torch.randn(1, 4, 4096, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(loaded.forward_full(x, 500.0, cond), model.forward_full(x, 500.0, cond))
        torch.testing.assert_close(load_toy_model(path).forward_full(x, 500.0, cond), model.forward_full(x, 500.0, cond))


def test_training_is_seeded():
    cfg = TrainConfig(seed=4, max_steps=3, batch=1, blocks=2, warmup=1)
    a, b = train(cfg)[0], train(cfg)[0]
    for (name, p), q in zip(a.dit.state_dict().items(), b.dit.state_dict().values()):
        assert torch.equal(p, q), name


def test_command_line_trains_and_refuses_bad_steps(tmp_path, capsys):
    from echo_stream.__main__ import main

    assert main(["toyworld", "train", "--max-steps", "1", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "toyworld_wan.safetensors").is_file() and (tmp_path / "toyworld_wan.json").is_file()
    assert main(["toyworld", "train", "--max-steps", "0"]) == 2
    assert "--max-steps must be at least 1" in capsys.readouterr().err
