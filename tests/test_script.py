"""Scene scripts and the text timeline syntax (research notes §2.1 and §6.4)."""
import pytest
import torch

from echo_stream.engine.errors import EchoError
from echo_stream.runtime.script import Scene, SceneScript
from echo_stream.runtime.timeline_text import parse_timeline

A, B = torch.zeros(1, 3, 4), torch.ones(1, 3, 4)


def test_block_counts_follow_echo_forcing():
    script = SceneScript.start(A, 10)
    for _ in range(5):
        script = script.then(B, 10, "smooth")
    # notes §2.1: six 10 s scenes -> 13 blocks each, the last absorbs the leftovers of 240 latent frames
    assert script.block_counts(3) == [13, 13, 13, 13, 13, 15]
    assert SceneScript.start(A, 10).block_counts(1) == [40]
    assert SceneScript.start(A, 0.25).block_counts(3) == [1]  # never zero blocks


def test_scripts_are_immutable_values():
    base = SceneScript.start(A, 3, "a")
    left, right = base.then(B, 3, "cut"), base.then(B, 6, "recall", recall="a")
    assert len(base.scenes) == 1 and left.scenes[1].transition == "cut" and right.scenes[1].recall == "a"
    with pytest.raises(Exception):
        base.scenes[0].seconds = 4


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf")])
def test_bad_durations(seconds):
    with pytest.raises(EchoError, match="positive number of seconds"):
        SceneScript.start(A, seconds)


def test_empty_or_malformed_scripts():
    with pytest.raises(EchoError, match="empty"):
        SceneScript(())
    with pytest.raises(EchoError, match="Scene Start"):
        SceneScript((Scene(A, 1, "cut"),))
    with pytest.raises(EchoError, match="unknown transition"):
        SceneScript.start(A, 1).then(B, 1, "fade")
    with pytest.raises(EchoError, match="CONDITIONING"):
        SceneScript.start(None, 1)


def test_marker_sets_the_transition_out_of_its_scene():
    scenes = parse_timeline("A [10s#] | B [10s#] | C [10s@] | A2 [10s@] | B2 [10s@] | C2 [10s]")
    # notes §6.4: A->B cut, B->C cut, C->A' recall, A'->B' recall, B'->C' recall
    assert [s.transition for s in scenes] == ["start", "cut", "cut", "recall", "recall", "recall"]
    assert [s.prompt for s in scenes] == ["A", "B", "C", "A2", "B2", "C2"]


def test_durations_anywhere_defaults_and_subtitles():
    scenes = parse_timeline("[2.5s] a fox ; subtitle text | a river | the end [4s@]", default_seconds=7)
    assert [(s.prompt, s.seconds, s.transition) for s in scenes] == [
        ("a fox", 2.5, "start"), ("a river", 7.0, "smooth"), ("the end", 4.0, "smooth")]


@pytest.mark.parametrize("text,message", [
    ("", "empty"), ("  |  ", "empty"), ("a [1s] | | b", "no prompt"), ("a [1s] [2s]", "2 durations"),
    ("a [0s]", "positive"),
])
def test_timeline_errors(text, message):
    with pytest.raises(EchoError, match=message):
        parse_timeline(text)
