"""Causal Forcing checkpoints (chunk-wise and frame-wise) load and stream; the first block of a new
session can have its own step list (Causal Forcing++'s 1- and 2-step frame-wise models want 4 there)."""
import pytest
import torch

from echo_stream.engine import FlowSchedule, StreamSettings, WanConfig, load_state_dict
from echo_stream.engine.stream import BlockStreamer
from echo_stream.nodes import comfy
from echo_stream.runtime.memory_choice import MemoryChoice
from echo_stream.runtime.script import SceneScript
from echo_stream.runtime.session import Session, SessionSpec
from node_helpers import SIZE, call, comfy_dirs, cond  # noqa: F401 - comfy_dirs is a fixture
from tiny import TINY, text, tiny_dit, tiny_model

FOUR = (1000, 750, 500, 250)
TWO = (1000, 500)


# one 128-wide head, as the loader node infers heads (dim // 128); text and frequency sizes of `tiny`
CF_TINY = WanConfig(dim=128, ffn_dim=64, num_heads=1, num_layers=2, text_dim=TINY.text_dim, freq_dim=16)


@pytest.fixture(scope="module")
def weights():
    return {k: v.clone() for k, v in tiny_dit(seed=21, cfg=CF_TINY).state_dict().items()}


def causal_forcing_pt(path, ema, generator, fsdp=False):
    """The layout of thu-ml/Causal-Forcing's checkpoints: {'generator': ..., 'generator_ema': ...} with
    'model.' keys (some with FSDP's 'model._fsdp_wrapped_module.')."""
    prefix = "model._fsdp_wrapped_module." if fsdp else "model."
    torch.save({"generator": {prefix + k: v for k, v in generator.items()},
                "generator_ema": {prefix + k: v for k, v in ema.items()}}, path)
    return path


@pytest.mark.parametrize("fsdp", [False, True])
def test_chunkwise_uses_the_training_weights_framewise_the_ema_ones(weights, tmp_path, fsdp):
    training = {k: v * 0.5 for k, v in weights.items()}
    path = causal_forcing_pt(tmp_path / "causal_forcing.pt", ema=weights, generator=training, fsdp=fsdp)
    ema, gen = load_state_dict(path), load_state_dict(path, prefer_ema=False)
    assert set(ema) == set(gen) == set(weights)
    assert all(torch.equal(ema[k], weights[k]) and torch.equal(gen[k], training[k]) for k in weights)


def loader(tmp_path, monkeypatch, name, **inputs):
    monkeypatch.setattr(comfy, "full_path", lambda folder, n: str(tmp_path / n))
    return call("EchoCausalModelLoader", model_name=name, weight_dtype="fp32", lora_name="none", lora_strength=1.0,
                **inputs)[0]


def test_the_loader_node_picks_the_weights_asked_for(weights, tmp_path, monkeypatch):
    training = {k: v * 0.5 for k, v in weights.items()}
    causal_forcing_pt(tmp_path / "causal_forcing.pt", ema=weights, generator=training)
    chunkwise = loader(tmp_path, monkeypatch, "causal_forcing.pt", frames_per_block=3, weights="non-EMA (generator)")
    framewise = loader(tmp_path, monkeypatch, "causal_forcing.pt", frames_per_block=1)  # default: EMA
    got_gen, got_ema = chunkwise.causal.dit.state_dict(), framewise.causal.dit.state_dict()
    assert all(torch.equal(got_gen[k], training[k]) and torch.equal(got_ema[k], weights[k]) for k in weights)
    assert (chunkwise.frames_per_block, framewise.frames_per_block) == (3, 1)
    with pytest.raises(Exception, match="unknown weights"):
        loader(tmp_path, monkeypatch, "causal_forcing.pt", frames_per_block=1, weights="both")


class StepLog:
    """Wraps a model's forward_block and records each block's denoising timesteps."""

    def __init__(self, model):
        self.blocks, self._forward = [[]], model.forward_block
        model.forward_block = self.forward

    def forward(self, x, t, text_ctx, memory, write):
        if write:
            self.blocks.append([])
        else:
            self.blocks[-1].append(float(t.flatten()[0]))
        return self._forward(x, t, text_ctx, memory, write=write)


def test_the_first_block_uses_its_own_steps_and_the_rest_the_normal_ones():
    model = tiny_model(seed=5)
    log = StepLog(model)
    settings = StreamSettings(FlowSchedule(TWO), frames_per_block=1, first_block_schedule=FlowSchedule(FOUR))
    streamer = BlockStreamer(model, MemoryChoice().build(), width=48, height=32, seed=3, settings=settings)
    for _ in range(4):
        streamer.next_block(text(5, seed=1))
    want = [FlowSchedule(FOUR).timesteps()] + [FlowSchedule(TWO).timesteps()] * 3  # 1000, 937.5, 833.3, 625 then 1000, 833.3
    assert [len(b) for b in log.blocks[:-1]] == [len(w) for w in want]
    for got, expected in zip(log.blocks[:-1], want):
        assert got == pytest.approx(expected, rel=1e-6)  # the timestep tensor is float32
    assert FlowSchedule(FOUR).timesteps()[:2] != FlowSchedule(TWO).timesteps()  # the lists really differ


def session_latents(spec, seconds=1.0):
    model = tiny_model(seed=5)
    script = SceneScript.start(text(5, seed=1), seconds)
    return Session("cf", model, spec).run(script).latents


def test_the_first_block_is_what_a_session_with_those_steps_makes_first():
    spec = dict(width=48, height=32, seed=3, frames_per_block=1)
    mixed = session_latents(SessionSpec(**spec, steps=TWO, first_steps=FOUR))  # 4 blocks of 1 frame
    four = session_latents(SessionSpec(**spec, steps=FOUR))
    two = session_latents(SessionSpec(**spec, steps=TWO))
    assert mixed.shape[2] == 4
    assert torch.equal(mixed[:, :, :1], four[:, :, :1])  # same noise, same 4 steps
    assert not torch.equal(mixed[:, :, :1], two[:, :, :1])
    assert not torch.equal(mixed[:, :, 1:], four[:, :, 1:]) and not torch.equal(mixed[:, :, 1:], two[:, :, 1:])


def test_the_default_leaves_outputs_unchanged():
    spec = dict(width=48, height=32, seed=3, frames_per_block=3)
    default = session_latents(SessionSpec(**spec, steps=FOUR), seconds=2.25)
    same = session_latents(SessionSpec(**spec, steps=FOUR, first_steps=FOUR), seconds=2.25)
    assert default.shape[2] == 9 and torch.equal(default, same)
    assert SessionSpec(**spec).stream_settings().first_block_schedule is None


def test_first_steps_survive_a_save_and_old_files_have_none():
    spec = SessionSpec(48, 32, 1, 1, 1, TWO, first_steps=FOUR)
    assert SessionSpec.from_json(spec.to_json()) == spec
    old = spec.to_json()
    del old["first_steps"]
    assert SessionSpec.from_json(old).first_steps is None


def test_a_framewise_causal_forcing_file_streams_through_the_nodes(weights, tmp_path, monkeypatch, comfy_dirs):
    causal_forcing_pt(tmp_path / "framewise-2step.pt", ema=weights, generator={k: v * 0 for k, v in weights.items()})
    model = loader(tmp_path, monkeypatch, "framewise-2step.pt", frames_per_block=1)
    log = StepLog(model.causal)
    script = call("EchoSceneStart", conditioning=cond(1), seconds=1.0)[0]
    out = call("EchoStreamingSampler", model=model, script=script, seed=3, steps="1000, 500", session="cf",
               mode="new", unique_id="7", first_block_steps="1000, 750, 500, 250", **SIZE)
    latents = out["result"][0]["samples"]
    assert latents.shape[2] == 4 and torch.isfinite(latents).all()  # 1 s = 16 frames = 4 one-latent blocks
    assert [len(b) for b in log.blocks[:-1]] == [4, 2, 2, 2]
    # continuing the session: no first-block steps again
    call("EchoStreamingSampler", model=model, script=script, seed=3, steps="1000, 500", session="cf",
         mode="continue", unique_id="7", first_block_steps="1000, 750, 500, 250", **SIZE)
    assert [len(b) for b in log.blocks[:-1]] == [4] + [2] * 7
    with pytest.raises(Exception, match="steps must be numbers"):
        call("EchoStreamingSampler", model=model, script=script, seed=3, steps="1000, 500", session="cf2",
             mode="new", unique_id="7", first_block_steps="1000, lots", **SIZE)
