"""Node schemas and each node's function called directly (no ComfyUI present)."""
import os

import pytest
import torch
from safetensors.torch import save_file

from echo_stream import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, WEB_DIRECTORY
from echo_stream.engine import WanConfig
from echo_stream.engine.errors import CheckpointError, EchoError
from echo_stream.runtime.memory_choice import MemoryChoice
from node_helpers import SIZE, call, comfy_dirs, cond, model, sample, script_of  # noqa: F401
from tiny import tiny_dit


def all_inputs(cls):
    types = cls.INPUT_TYPES()
    return {**types.get("required", {}), **types.get("optional", {})}


@pytest.mark.parametrize("node_id", sorted(NODE_CLASS_MAPPINGS))
def test_every_node_is_documented(node_id):
    cls = NODE_CLASS_MAPPINGS[node_id]
    assert node_id in NODE_DISPLAY_NAME_MAPPINGS and cls.CATEGORY in ("Echo Stream", "Echo Stream/Toy World")
    assert (cls.CATEGORY == "Echo Stream/Toy World") == node_id.startswith("EchoToy")
    assert len(cls.DESCRIPTION) > 40 and callable(getattr(cls, cls.FUNCTION))
    assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
    for name, spec in all_inputs(cls).items():
        assert len(spec) == 2 and spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"


def test_pack_exports_web_directory():
    assert WEB_DIRECTORY == "./js"


def test_script_nodes_build_immutable_scripts():
    start = call("EchoSceneStart", conditioning=cond(1), seconds=3.0, label="beach")[0]
    a = call("EchoPromptSwitch", script=start, conditioning=cond(2), seconds=1.5)[0]
    b = call("EchoSceneRecall", script=a, conditioning=cond(1), seconds=1.5, target="beach")[0]
    c = call("EchoHardCut", script=start, conditioning=cond(3), seconds=1.5, label="x")[0]
    d = call("EchoAutoTransition", script=c, conditioning=cond(4), seconds=1.5)[0]
    assert len(start.scenes) == 1
    assert [s.transition for s in b.scenes] == ["start", "smooth", "recall"] and b.scenes[2].recall == "beach"
    assert [s.transition for s in d.scenes] == ["start", "cut", "auto"] and d.scenes[1].label == "x"
    assert b.scenes[0] is c.scenes[0]


def test_script_from_text_encodes_each_distinct_prompt_once():
    class FakeClip:
        def __init__(self):
            self.encoded = []

        def tokenize(self, prompt):
            return prompt

        def encode_from_tokens_scheduled(self, tokens):
            self.encoded.append(tokens)
            return [[torch.full((1, 4, 32), float(len(tokens))), {}]]

    clip = FakeClip()
    script = call("EchoSceneScriptFromText", clip=clip, timeline="a fox [1.5s#] | a river [3s@] | a fox [1.5s]")[0]
    assert clip.encoded == ["a fox", "a river", "fox", "river"]  # the prompts, then their recall texts
    assert [s.transition for s in script.scenes] == ["start", "cut", "recall"]
    assert script.scenes[0].conditioning is script.scenes[2].conditioning


class WordClip:
    """A text encoder stand-in: one fixed random 32-dim row per word, so shared words pull prompts together."""

    def __init__(self):
        self.encoded = []

    def tokenize(self, prompt):
        return prompt

    def encode_from_tokens_scheduled(self, prompt):
        self.encoded.append(prompt)
        rows = [torch.randn(32, generator=torch.Generator().manual_seed(sum(map(ord, w)) * 7919 + len(w)))
                for w in prompt.lower().replace(".", " ").split()]
        return [[torch.stack(rows)[None], {}]]


# "red" and "fox" are in 3 of the 4 prompts: the released rule drops them, and the recall (scene 3)
# matches scene 0 by "snow"; mean-pooled whole prompts would pick scene 1, whose word counts it shares
FOX_TIMELINE = ("red fox snow snow snow [1.5s#] | red red red red fox fox fox fox city [1.5s#] | "
                "blue bird forest [1.5s@] | red red red red fox fox fox fox snow [1.5s]")


def test_script_from_text_gives_each_scene_the_released_recall_feature():
    from echo_stream.memory.scene_pool import prompt_feature

    clip = WordClip()
    script = call("EchoSceneScriptFromText", clip=clip, timeline=FOX_TIMELINE)[0]
    texts = ["snow snow snow", "city", "blue bird forest", "snow"]
    assert clip.encoded[4:] == ["snow snow snow", "city", "snow"]  # "blue bird forest" was encoded already
    for scene, text in zip(script.scenes, texts):
        want = prompt_feature(WordClip().encode_from_tokens_scheduled(text)[0][0])
        torch.testing.assert_close(scene.prompt_feature, want)
    plain = call("EchoSceneScriptFromText", clip=WordClip(), timeline=FOX_TIMELINE.replace("@", "#"))[0]
    assert all(scene.prompt_feature is None for scene in plain.scenes)  # no recall: no extra encoding


def test_recall_by_similarity_from_text_uses_the_released_feature(comfy_dirs, model, monkeypatch):
    from echo_stream.memory.scene_pool import ScenePool, prompt_feature

    matched = []
    best_match = ScenePool.best_match

    def spy(pool, feature, exclude=None):
        entry, similarity = best_match(pool, feature, exclude)
        matched.append(entry.scene_index)
        return entry, similarity

    monkeypatch.setattr(ScenePool, "best_match", spy)
    script = call("EchoSceneScriptFromText", clip=WordClip(), timeline=FOX_TIMELINE)[0]
    conds = [prompt_feature(scene.conditioning) for scene in script.scenes]
    assert max((0, 1, 2), key=lambda i: float(conds[i] @ conds[3])) == 1  # what mean-pooling would recall
    sample(model, script, session="fox")
    assert matched == [0]  # the scene that shares the recall's distinctive word
    from echo_stream.runtime.registry import SESSIONS

    pool = SESSIONS.get("fox").memory.pool
    for entry in pool.entries:  # the finished scenes keep the feature they were given
        torch.testing.assert_close(entry.feature, script.scenes[entry.scene_index].prompt_feature)


def test_text_features_survive_save_and_load(comfy_dirs, model):
    first = call("EchoSceneScriptFromText", clip=WordClip(), timeline=FOX_TIMELINE.replace("[1.5s]", "[0.75s@]"))[0]
    onward = call("EchoSceneScriptFromText", clip=WordClip(), timeline="red fox city [0.75s@] | bird forest [0.75s]")[0]
    _, handle, _ = sample(model, first, session="text")
    call("EchoSaveSceneMemory", scene_memory=handle, filename="text")
    in_memory, _, _ = sample(model, onward, mode="continue", session="text")
    loaded = call("EchoLoadSceneMemory", model=model, file="text.safetensors", session="text loaded")[0]
    from_file, _, _ = sample(model, onward, mode="continue", session="ignored", scene_memory=loaded)
    assert torch.equal(from_file, in_memory)


def test_memory_settings_node():
    default = call("EchoSceneMemorySettings", preset="echo_forcing")[0]
    assert default == MemoryChoice()
    tuned = call("EchoSceneMemorySettings", preset="echo_forcing", anchor_frames=9, smooth_decay_min=0.7)[0]
    assert tuned.options == {"anchor_frames": 9} and tuned.modes == {"smooth": {"rate_min": 0.7}}
    assert tuned.build().config.modes["smooth"].rate_min == 0.7
    eight_bit = call("EchoSceneMemorySettings", preset="echo_forcing", kv_storage="fp8_e4m3")[0]
    assert eight_bit.options == {"kv_storage": "fp8_e4m3"} and eight_bit.build().config.kv_storage == "fp8_e4m3"
    with pytest.raises(EchoError, match="kv_storage"):
        call("EchoSceneMemorySettings", preset="echo_forcing", kv_storage="int4")
    window = call("EchoSceneMemorySettings", preset="self_forcing_window", window_frames=12, sink_frames=3)[0]
    assert window.build().window_frames == 12
    with pytest.raises(EchoError, match="rate_min <= rate_max"):
        call("EchoSceneMemorySettings", preset="echo_forcing", recall_decay_min=0.95, recall_decay_max=0.5)


def test_sampler_outputs_wan_latents_and_a_preview(comfy_dirs, model):
    script = script_of(("EchoSceneStart", 1, 1.5, {}), ("EchoHardCut", 2, 1.5, {}))
    latents, handle, ui = sample(model, script)
    assert latents.shape == (1, 16, 12, SIZE["height"] // 8, SIZE["width"] // 8)
    assert torch.isfinite(latents).all() and handle.session == "s" and handle.blocks == 4
    preview = comfy_dirs / "temp" / ui["images"][0]["filename"]
    assert ui["animated"] == [True] and preview.suffix == ".webp" and preview.stat().st_size > 0


def test_loader_reads_a_checkpoint_and_rejects_other_files(tmp_path, monkeypatch):
    from echo_stream.nodes import comfy

    monkeypatch.setattr(comfy, "full_path", lambda folder, name: str(tmp_path / name))
    heads_of_128 = WanConfig(dim=128, ffn_dim=64, num_heads=1, num_layers=1, text_dim=32, freq_dim=16, text_len=16)
    save_file({"model." + k: v.contiguous() for k, v in tiny_dit(seed=2, cfg=heads_of_128).state_dict().items()},
              tmp_path / "causal.safetensors")
    loaded = call("EchoCausalModelLoader", model_name="causal.safetensors", weight_dtype="fp32", frames_per_block=1)[0]
    assert (loaded.causal.config.dim, loaded.causal.config.num_layers, loaded.frames_per_block) == (128, 1, 1)
    save_file({"encoder.weight": torch.zeros(4, 4)}, tmp_path / "vae.safetensors")
    with pytest.raises(CheckpointError, match="vae.safetensors"):
        call("EchoCausalModelLoader", model_name="vae.safetensors", weight_dtype="fp32")


def test_from_model_rejects_a_non_wan_model():
    class NotWan:
        model = type("Base", (), {"diffusion_model": torch.nn.Linear(2, 2)})()

    with pytest.raises(EchoError, match="not a Wan2.1 diffusion model"):
        call("EchoCausalModelFromMODEL", model=NotWan())


def test_from_model_runs_the_engine_over_a_model_tree(comfy_dirs, model):
    class Base:
        diffusion_model = model.causal.dit
        manual_cast_dtype = None

        def get_dtype(self):
            return torch.float32

    class Patcher:
        model = Base()

    wrapped = call("EchoCausalModelFromMODEL", model=Patcher())[0]
    script = script_of(("EchoSceneStart", 1, 1.5, {}))
    ours, _, _ = sample(model, script, session="a")
    theirs, _, _ = sample(wrapped, script, session="b")
    assert torch.equal(ours, theirs)


def test_sampler_errors_are_clear(comfy_dirs, model):
    script = script_of(("EchoSceneStart", 1, 0.75, {}))
    with pytest.raises(EchoError, match="not a positive multiple of 16"):
        call("EchoStreamingSampler", model=model, script=script, width=50, height=32, seed=0,
             steps="1000", session="s", mode="new")
    with pytest.raises(EchoError, match="steps must be numbers"):
        call("EchoStreamingSampler", model=model, script=script, seed=0, steps="1000, fast", session="s",
             mode="new", **SIZE)
    recall = script_of(("EchoSceneStart", 1, 0.75, {"label": "a"}), ("EchoSceneRecall", 2, 0.75, {"target": "b"}))
    with pytest.raises(EchoError, match="labelled 'b'.*labelled scenes: a"):
        sample(model, recall)
    sample(model, script)
    with pytest.raises(EchoError, match="is 48x32; set width and height"):
        call("EchoStreamingSampler", model=model, script=script, width=64, height=32, seed=0,
             steps="1000", session="s", mode="continue")
    with pytest.raises(EchoError, match="Scene Start"):
        sample(model, "not a script")


def test_continue_starts_a_missing_session(comfy_dirs, model):
    script = script_of(("EchoSceneStart", 1, 0.75, {}))
    started, handle, _ = sample(model, script, mode="continue", session="fresh")
    again, _, _ = sample(model, script, mode="new", session="fresh")
    assert handle.blocks == 1 and torch.equal(started, again)


def test_continue_is_never_cached():
    sampler = NODE_CLASS_MAPPINGS["EchoStreamingSampler"]
    changed = sampler.IS_CHANGED(mode="continue")
    assert changed != changed  # NaN: ComfyUI runs the node on every Queue
    assert sampler.IS_CHANGED(mode="new") == sampler.IS_CHANGED(mode="new")


def test_interrupt_keeps_what_was_generated(comfy_dirs, model, monkeypatch):
    from echo_stream.nodes import comfy

    class Interrupted(Exception):
        pass

    calls = {"n": 0}

    def interrupted():
        calls["n"] += 1
        return calls["n"] > 2  # after two blocks

    def raise_if_interrupted():
        raise Interrupted("Processing interrupted")

    monkeypatch.setattr(comfy, "interrupted", interrupted)
    monkeypatch.setattr(comfy, "raise_if_interrupted", raise_if_interrupted)
    script = script_of(("EchoSceneStart", 1, 4.5, {}))
    with pytest.raises(Interrupted):
        sample(model, script, session="cut short")
    files = os.listdir(comfy_dirs / "output" / "echo_stream")
    assert len(files) == 1 and files[0].startswith("cut short_interrupted_") and files[0].endswith(".latent")
    from safetensors.torch import load_file

    saved = load_file(comfy_dirs / "output" / "echo_stream" / files[0])["latent_tensor"]
    assert saved.shape[2] == 6  # two blocks of three latent frames
    monkeypatch.setattr(comfy, "interrupted", lambda: False)
    rest, handle, _ = sample(model, script_of(("EchoSceneStart", 1, 3.0, {})), mode="continue", session="cut short")
    assert handle.blocks == 6
    full, _, _ = sample(model, script, session="whole")
    assert torch.equal(torch.cat([saved, rest], dim=2), full)


def test_cancel_deriving_from_base_exception_keeps_the_partial_run(comfy_dirs, model, monkeypatch, caplog):
    """ComfyUI >= 0.20: Cancel raises InterruptProcessingException(BaseException) from the progress hook."""
    from echo_stream.nodes import comfy

    class InterruptProcessingException(BaseException):  # as in comfy/model_management.py since 0.20
        pass

    class ProgressBar:  # core's ProgressBar: its hook raises the interrupt (and clears the flag)
        def update_absolute(self, value, total=None, preview=None):
            if value == 2:
                raise InterruptProcessingException()

    events = []
    monkeypatch.setattr(comfy, "interrupt_type", lambda: InterruptProcessingException, raising=False)
    monkeypatch.setattr(comfy, "progress_bar", lambda total, node_id: ProgressBar())
    monkeypatch.setattr(comfy, "send_event", lambda name, data: events.append((name, data() if callable(data) else data)))
    with caplog.at_level("WARNING", logger="echo_stream"), pytest.raises(InterruptProcessingException):
        sample(model, script_of(("EchoSceneStart", 1, 4.5, {})), session="cancelled")
    runs = [data for name, data in events if name == "echo_stream.run"]
    assert [run["phase"] for run in runs] == ["start", "interrupted"] and runs[-1]["run_blocks"] == 2
    files = os.listdir(comfy_dirs / "output" / "echo_stream")
    assert len(files) == 1 and files[0].startswith("cancelled_interrupted_") and files[0].endswith(".latent")
    assert "stopped (interrupted) after 2 blocks" in caplog.text
    from safetensors.torch import load_file

    assert load_file(comfy_dirs / "output" / "echo_stream" / files[0])["latent_tensor"].shape[2] == 6
    monkeypatch.setattr(comfy, "progress_bar", lambda total, node_id: None)
    _, handle, _ = sample(model, script_of(("EchoSceneStart", 1, 3.0, {})), mode="continue", session="cancelled")
    assert handle.blocks == 6  # the two kept blocks and four more


def test_keyboard_interrupt_is_not_held_back_as_a_cancel(comfy_dirs, model, monkeypatch):
    from echo_stream.nodes import comfy

    class InterruptProcessingException(BaseException):
        pass

    class ProgressBar:
        def update_absolute(self, value, total=None, preview=None):
            raise KeyboardInterrupt

    monkeypatch.setattr(comfy, "interrupt_type", lambda: InterruptProcessingException, raising=False)
    monkeypatch.setattr(comfy, "progress_bar", lambda total, node_id: ProgressBar())
    with pytest.raises(KeyboardInterrupt):
        sample(model, script_of(("EchoSceneStart", 1, 4.5, {})), session="ctrl-c")
    files = os.listdir(comfy_dirs / "output" / "echo_stream")
    assert len(files) == 1 and files[0].startswith("ctrl-c_error_")  # stopped at once, the first block kept
