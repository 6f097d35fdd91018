"""The Toy World nodes: bundled model, category prompts, rendering a sampler LATENT, toy live preview."""
import base64
import io
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from echo_stream.engine.errors import EchoError
from echo_stream.nodes import comfy
from echo_stream.nodes.toy_nodes import TOY_CATEGORY
from echo_stream.runtime.events import BLOCK_EVENT
from echo_stream.runtime.preview import latent_to_rgb
from echo_stream.toyworld import CATEGORIES, prompt_embedding, render_rgb, rgb_factors
from echo_stream.toyworld.model import TOY_CONFIG
from echo_stream.toyworld.rollout import read_blocks
from node_helpers import call, comfy_dirs  # noqa: F401

TOY_SIZE = dict(width=64, height=64)


class Wan21Like:
    """ComfyUI's Wan21 latent format's arithmetic (process_in/out) with its own per-channel mean and std."""

    scale_factor = 1.0
    latents_mean = torch.linspace(-0.7, 0.6, 16).view(1, 16, 1, 1, 1)
    latents_std = torch.linspace(0.4, 3.0, 16).view(1, 16, 1, 1, 1)

    def process_in(self, latent):
        return (latent - self.latents_mean.to(latent)) * self.scale_factor / self.latents_std.to(latent)

    def process_out(self, latent):
        return latent * self.latents_std.to(latent) / self.scale_factor + self.latents_mean.to(latent)


@pytest.fixture
def wan_latent_format(monkeypatch):
    """Makes nodes/comfy.py find a `comfy.latent_formats.Wan21`, as inside ComfyUI."""
    package = types.ModuleType("comfy")
    formats = types.ModuleType("comfy.latent_formats")
    formats.Wan21 = Wan21Like
    package.latent_formats = formats
    monkeypatch.setitem(sys.modules, "comfy", package)
    monkeypatch.setitem(sys.modules, "comfy.latent_formats", formats)


@pytest.fixture(scope="module")
def toy():
    return call("EchoToyModelLoader")[0]


def toy_script():
    """ocean -> forest (smooth) -> lava (cut) -> ocean (recall by label), 2 blocks each."""
    prompt = lambda name: call("EchoToyPrompt", category=name)[0]  # noqa: E731
    script = call("EchoSceneStart", conditioning=prompt("ocean"), seconds=1.5, label="ocean")[0]
    script = call("EchoPromptSwitch", script=script, conditioning=prompt("forest"), seconds=1.5)[0]
    script = call("EchoHardCut", script=script, conditioning=prompt("lava"), seconds=1.5, label="lava")[0]
    return call("EchoSceneRecall", script=script, conditioning=prompt("ocean"), seconds=1.5, target="ocean")[0]


def run_toy(toy, **extra):
    out = call("EchoStreamingSampler", model=toy, script=toy_script(), seed=0, steps="1000, 750, 500, 250",
               session="toy", mode="new", unique_id="9", **TOY_SIZE, **extra)
    return out["result"][0]


def test_the_nodes_have_their_own_sub_category():
    from echo_stream.nodes import NODE_CLASS_MAPPINGS

    toys = {k for k, cls in NODE_CLASS_MAPPINGS.items() if cls.CATEGORY == TOY_CATEGORY}
    assert TOY_CATEGORY == "Echo Stream/Toy World"
    assert toys == {"EchoToyModelLoader", "EchoToyPrompt", "EchoToyRender"}


def test_loader_gives_the_bundled_model_with_its_renderer(toy):
    assert toy.causal.config == TOY_CONFIG and toy.frames_per_block == 3
    factors, bias = toy.rgb_factors
    expected = rgb_factors()
    assert torch.equal(factors, expected[0]) and torch.equal(bias, expected[1])


def test_toy_prompt_is_the_category_embedding():
    from echo_stream.nodes.toy_nodes import EchoToyPrompt

    assert EchoToyPrompt.INPUT_TYPES()["required"]["category"][0] == list(CATEGORIES)
    for name in CATEGORIES:
        (conditioning,) = call("EchoToyPrompt", category=name)
        assert torch.equal(conditioning[0][0], prompt_embedding(name)) and conditioning[0][0].shape == (1, 4, 4096)
    with pytest.raises(EchoError, match="choose one of ocean"):
        call("EchoToyPrompt", category="volcano")


def test_render_undoes_the_sampler_latent_scaling(toy, comfy_dirs, wan_latent_format):  # noqa: F811
    """Sampler LATENT (process_out applied) -> Render Toy Latent == the world's renderer on the model's latents."""
    from echo_stream.runtime.registry import SESSIONS

    latent = run_toy(toy)["samples"]
    model_space = SESSIONS.require("toy").run_latents()
    assert not torch.allclose(latent, model_space)  # the LATENT really is in the VAE's space
    (images,) = call("EchoToyRender", samples={"samples": latent}, scale=8)
    assert images.shape == (24, 64, 64, 3) and images.dtype == torch.float32
    assert torch.equal((images * 255).round().to(torch.uint8), render_rgb(model_space[0], 8))
    # and the frames show what the script asked: the blocks read back as the prompted categories
    readings = read_blocks(model_space[0])
    assert [CATEGORIES[r.category] for r in readings[1::2]] == ["ocean", "forest", "lava", "ocean"]


def test_render_checks_its_input():
    with pytest.raises(EchoError, match=r"video LATENT \[batch, 16, frames, height, width\]"):
        call("EchoToyRender", samples={"samples": torch.zeros(1, 16, 8, 8)}, scale=8)
    (images,) = call("EchoToyRender", samples={"samples": torch.zeros(2, 16, 3, 4, 6)}, scale=2)
    assert images.shape == (6, 8, 12, 3)  # samples one after another


def test_live_preview_shows_rendered_toy_frames(toy, comfy_dirs, monkeypatch):  # noqa: F811
    events = []
    monkeypatch.setattr(comfy, "send_event", lambda name, data: events.append((name, data() if callable(data) else data)))
    from echo_stream.runtime.registry import SESSIONS

    run_toy(toy)
    blocks = [data for name, data in events if name == BLOCK_EVENT]
    first = blocks[0]["images"][0]
    with Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as image:
        shown = np.asarray(image.convert("RGB").resize((8, 8), Image.BOX)).astype(float)
    latent = SESSIONS.require("toy").run_latents()[0, :, :1]
    toy_view = render_rgb(latent, 1)[0].numpy().astype(float)
    noise_view = latent_to_rgb(latent)[0].numpy().astype(float)  # the fallback map of a non-toy model
    assert np.abs(shown - toy_view).mean() < 12 < np.abs(shown - noise_view).mean()
