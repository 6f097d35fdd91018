"""Community prompt sets into scene scripts: the LongLive/MemFlow interactive benchmark (.jsonl) and
Echo-Forcing's timeline files (.txt), read from small sample files of the same formats."""
import pathlib
import shutil

import pytest
import torch

from echo_stream.engine.errors import EchoError
from echo_stream.nodes import NODE_CLASS_MAPPINGS, comfy
from echo_stream.runtime.prompt_files import parse_switch_frames, read_prompt_file, segment_seconds

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
JSONL = (FIXTURES / "interactive_sample.jsonl").read_text()
TIMELINES = (FIXTURES / "timelines_sample.txt").read_text()


def test_an_interactive_jsonl_line_switches_smoothly_every_40_latent_frames():
    chosen = read_prompt_file(JSONL, index=0)
    assert (chosen.format, chosen.index, chosen.count) == ("interactive jsonl", 0, 3)  # the blank line is skipped
    assert [s.transition for s in chosen.scenes] == ["start", "smooth", "smooth"]
    assert [s.seconds for s in chosen.scenes] == [10.0, 10.0, 10.0]  # 40 latent frames = 160 frames at 16 fps
    assert chosen.scenes[1].prompt.startswith("The lighthouse keeper reaches the lantern room")
    assert len(read_prompt_file(JSONL, index=2).scenes) == 4


def test_switch_frames_as_the_benchmark_config_gives_them():
    assert parse_switch_frames("40, 80, 120, 160, 200") == (40, 80, 120, 160, 200)
    assert segment_seconds(6, (40, 80, 120, 160, 200), 240) == [10.0] * 6  # 100 scripts x 6 x 10 s = 60 s each
    chosen = read_prompt_file(JSONL, index=0, switch_frames=(20, 60), total_frames=64)
    assert [s.seconds for s in chosen.scenes] == [5.0, 10.0, 1.0]
    assert [s.seconds for s in read_prompt_file(JSONL, index=0, switch_frames=(20, 60)).scenes] == [5.0, 10.0, 5.0]


def test_timeline_lines_are_echo_forcing_timelines():
    first = read_prompt_file(TIMELINES, index=0)
    assert first.format == "timeline lines" and first.count == 2
    assert [s.transition for s in first.scenes] == ["start", "cut", "recall"]  # [10s#] then [10s@]
    assert [s.seconds for s in first.scenes] == [10.0, 10.0, 10.0]
    second = read_prompt_file(TIMELINES, index=1)
    assert [(s.seconds, s.transition) for s in second.scenes] == [(5.0, "start"), (7.5, "smooth")]
    assert "subtitle" not in second.scenes[1].prompt


@pytest.mark.parametrize("text, kwargs, message", [
    ("", {}, "empty"),
    (JSONL, {"index": 3}, r"index 3 is out of range: the file holds 3 scripts \(0..2\)"),
    ('{"prompts": ["a", "b"]}\n{"prompt": "c"}', {"index": 1}, r'line 2 has no "prompts" list'),
    ('{"prompts": ["a", "b"]\n', {}, "line 1 is not valid JSON"),
    (JSONL, {"switch_frames": (40,)}, "3 prompts need 2 switch frames, got 1"),
    (JSONL, {"switch_frames": (40, 80), "total_frames": 80}, "80 latent frames, but a prompt switches at frame 80"),
    (JSONL, {"format": "timeline lines"}, "looks like JSON"),
    ("a beach [10s] | | a forest", {}, r"line 1: scene 2 has no prompt text"),
    (TIMELINES, {"format": "csv"}, "unknown prompt file format"),
])
def test_bad_files_and_settings_are_named(text, kwargs, message):
    with pytest.raises(EchoError, match=message):
        read_prompt_file(text, **kwargs)


@pytest.mark.parametrize("text", ["40, x", "80, 40", "0, 40"])
def test_bad_switch_frames(text):
    with pytest.raises(EchoError, match="switch frames"):
        parse_switch_frames(text)


class FakeClip:
    """Stands in for the umt5 CLIP: a fixed embedding per text."""

    def __init__(self):
        self.encoded = []

    def tokenize(self, text):
        return text

    def encode_from_tokens_scheduled(self, text):
        self.encoded.append(text)
        g = torch.Generator().manual_seed(sum(map(ord, text)))
        return [[torch.randn(1, 4, 32, generator=g), {}]]


@pytest.fixture
def input_folder(tmp_path, monkeypatch):
    folder = tmp_path / "input"
    (folder / "sets").mkdir(parents=True)
    shutil.copy(FIXTURES / "interactive_sample.jsonl", folder / "sets" / "interactive.jsonl")
    shutil.copy(FIXTURES / "timelines_sample.txt", folder / "timelines.txt")
    (folder / "picture.png").write_bytes(b"not a prompt file")
    (tmp_path / "outside.txt").write_text("a secret [10s]")
    monkeypatch.setattr(comfy, "input_directory", lambda: str(folder))
    return folder


def build(**inputs):
    node = NODE_CLASS_MAPPINGS["EchoSceneScriptFromPromptFile"]()
    clip = FakeClip()
    return node.build(clip, **inputs), clip


def test_the_node_lists_prompt_files_and_builds_the_script(input_folder):
    node = NODE_CLASS_MAPPINGS["EchoSceneScriptFromPromptFile"]
    assert node.INPUT_TYPES()["required"]["file"][0] == ["sets/interactive.jsonl", "timelines.txt"]
    (script, count), clip = build(file="sets/interactive.jsonl", index=2, switch_frames="12, 24, 36", total_frames=48)
    assert count == 3 and len(clip.encoded) == 4
    assert [s.transition for s in script.scenes] == ["start", "smooth", "smooth", "smooth"]
    assert [s.seconds for s in script.scenes] == [3.0] * 4
    (script, _), clip = build(file="timelines.txt", index=0)
    assert [s.transition for s in script.scenes] == ["start", "cut", "recall"]
    # a recall in the timeline: distinctive words re-encoded for recall by similarity, as Scene Script From Text
    assert all(s.prompt_feature is not None for s in script.scenes) and len(clip.encoded) > 3


def test_the_node_reads_nothing_outside_the_input_folder(input_folder):
    for name in ("../outside.txt", "sets/../../outside.txt", "picture.png", "missing.txt", ""):
        with pytest.raises(EchoError):
            build(file=name)


def test_an_edited_file_changes_the_fingerprint(input_folder):
    node = NODE_CLASS_MAPPINGS["EchoSceneScriptFromPromptFile"]
    before = node.IS_CHANGED(file="timelines.txt")
    (input_folder / "timelines.txt").write_text("a new harbor [10s]\n")
    assert node.IS_CHANGED(file="timelines.txt") not in (before, "")
    with pytest.raises(EchoError, match=r"'timelines.txt': script index 1 is out of range"):
        build(file="timelines.txt", index=1)
