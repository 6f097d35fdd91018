"""Live steering: commands at block boundaries, Stop, the exported script's replay, rewind."""
import pytest
import torch

from echo_stream.nodes.script_nodes import encode_scenes
from echo_stream.runtime.rewind import RewindPoints
from echo_stream.runtime.timeline_export import export_timeline
from echo_stream.runtime.timeline_text import parse_timeline
from steer_helpers import encode, new_session, opening, steer

SMOOTH = {"text": "the beach at noon", "transition": "smooth", "label": "noon"}
CUT = {"text": "a neon city street at night", "transition": "cut", "label": "city"}


def test_steer_commands_take_effect_at_the_next_block_and_equal_the_same_script():
    session = new_session()
    result, channel = steer(session, opening(), {2: [SMOOTH], 4: [CUT], 6: ["stop"]})
    applied = [(a["kind"], a["block"], a["latency_blocks"]) for a in channel.status()["applied"]]
    # a command arriving after block b is applied to block b + 1, the very next one
    assert applied == [("prompt", 3, 0), ("prompt", 5, 0), ("stop", 7, 0)]
    assert [(s["start_block"], s["blocks"], s["transition"], s["label"]) for s in session.timeline()] == [
        (0, 3, "start", None), (3, 2, "smooth", "noon"), (5, 2, "cut", "city")]
    assert result.blocks_done == 7 and not result.interrupted
    # the same scenes as a script, in a fresh session: identical latents
    scripted = new_session("scripted")
    script = opening(seconds=2.25).then(encode(SMOOTH["text"]), 1.5, "smooth", "noon").then(encode(CUT["text"]), 1.5, "cut", "city")
    expected = scripted.run(script).latents
    assert torch.equal(result.latents, expected)


def test_steer_queue_applies_one_prompt_per_block_in_order():
    session = new_session()
    _, channel = steer(session, opening(seconds=0.75), {0: [SMOOTH, CUT]}, max_blocks=4)
    assert [(a["label"], a["block"], a["latency_blocks"]) for a in channel.status()["applied"]] == [
        ("noon", 1, 0), ("city", 2, 1)]
    assert channel.status()["applied"][0]["latency_ms"] > 0


def test_live_stop_keeps_every_block_and_the_session_continues():
    session = new_session()
    result, _ = steer(session, opening(), {3: ["stop"]})
    assert result.blocks_done == 4 and result.latents.shape[2] == 12 and not result.interrupted
    more = session.run(SceneScript_of("the beach at noon", 1.5, "cut"))
    whole = new_session("whole").run(opening(seconds=3.0).then(encode("the beach at noon"), 1.5, "cut"))
    assert torch.equal(torch.cat([result.latents, more.latents], dim=2), whole.latents)


def SceneScript_of(text, seconds, on_continue):
    from echo_stream.runtime.script import SceneScript
    return SceneScript.start(encode(text), seconds, on_continue=on_continue, text=text)


def test_live_max_blocks_ends_the_run():
    result, channel = steer(new_session(), opening(), {}, max_blocks=5)
    assert result.blocks_done == 5 and not result.interrupted and channel.status()["pending"] == []


@pytest.mark.parametrize("preset", ["echo_forcing", "longlive_recache", "infinity_rope"])
def test_steer_exported_script_replays_to_identical_latents(preset):
    session = new_session(preset=preset)
    recall = {"text": "the beach again", "transition": "recall", "target": "dawn"}
    auto = {"text": "a neon city street at night, rain", "transition": "auto"}
    result, _ = steer(session, opening(label="dawn"), {1: [SMOOTH], 3: [CUT], 5: [recall], 7: [auto], 9: ["stop"]})
    text = export_timeline(session.timeline(), 3, note="seed 3")
    assert text.startswith("a quiet beach at dawn {dawn} [1.5s] ; seed 3 | the beach at noon {noon} [1.5s#] | ")
    assert "[1.5s@dawn]" in text
    from steer_helpers import FakeClip
    replay = new_session("replay", preset=preset).run(encode_scenes(FakeClip(), parse_timeline(text), "test"))
    assert torch.equal(replay.latents, result.latents)


def test_steer_export_of_a_recall_by_similarity_names_the_recalled_scene():
    session = new_session()
    again = {"text": "a quiet beach at dawn", "transition": "recall"}  # no target: the memory picks
    result, _ = steer(session, opening(), {1: [CUT], 3: [again], 5: ["stop"]})
    record = session.timeline()[2]
    assert record["transition"] == "recall" and record["mode"] == "recall" and record["recall"] == 0
    text = export_timeline(session.timeline(), 3)
    assert "[1.5s@0]" in text
    from steer_helpers import FakeClip
    replay = new_session("replay").run(encode_scenes(FakeClip(), parse_timeline(text), "test"))
    assert torch.equal(replay.latents, result.latents)


def test_rewind_and_the_original_script_reproduce_the_original():
    script = (opening(label="dawn").then(encode("the beach at noon"), 2.25, "smooth", "noon")
              .then(encode("a city"), 1.5, "cut").then(encode("dawn again"), 1.5, "recall", recall="dawn"))
    original = new_session("original").run(script).latents
    session = new_session()
    points = RewindPoints(session.id, limit=8)
    # a live run of the same script that takes a rewind point at each scene start
    result, _ = steer(session, script, {}, max_blocks=9, points=points)
    assert torch.equal(result.latents, original)
    assert [p["scene"] for p in points.describe()] == [0, 1, 2, 3] and all(p["bytes"] > 0 for p in points.describe())
    # back to the start of scene 1 (block 2), then the rest of the original script
    assert points.rewind(session, 1) == 2
    assert session.blocks_done == 2 and len(session.timeline()) == 1
    from echo_stream.runtime.script import SceneScript
    tail = SceneScript.start(encode("the beach at noon"), 2.25, "noon", on_continue="smooth")
    tail = tail.then(encode("a city"), 1.5, "cut").then(encode("dawn again"), 1.5, "recall", recall="dawn")
    again = session.run(tail).latents
    assert torch.equal(again, original[:, :, 6:])
    assert [p["scene"] for p in points.describe()] == [0, 1]  # later points are gone


def test_live_rewind_command_retakes_a_scene_with_another_prompt():
    session = new_session()
    points = RewindPoints(session.id, limit=4)
    first, channel = steer(session, opening(label="dawn"), {1: [SMOOTH], 3: [("rewind", 1), CUT], 4: ["stop"]},
                           points=points)
    applied = [(a["kind"], a["block"], a["error"]) for a in channel.status()["applied"]]
    assert applied == [("prompt", 2, None), ("rewind", 2, None), ("prompt", 2, None), ("stop", 5, None)]
    assert [(s["start_block"], s["blocks"], s["label"]) for s in session.timeline()] == [(0, 2, "dawn"), (2, 3, "city")]
    # the run's output is its blocks after the rewind: scene 0 then the retaken scene 1, as a script makes them
    straight = new_session("straight").run(opening(label="dawn").then(encode(CUT["text"]), 2.25, "cut", "city"))
    assert torch.equal(first.latents, straight.latents)


def test_live_rewind_to_a_missing_point_is_reported_not_fatal():
    session = new_session()
    result, channel = steer(session, opening(), {1: [("rewind", 5)], 2: ["stop"]}, points=RewindPoints(session.id))
    rewind = channel.status()["applied"][0]
    assert rewind["kind"] == "rewind" and "no rewind point for scene 5" in rewind["error"]
    assert result.blocks_done == 3


def test_steer_recall_of_an_unknown_label_is_reported_and_skipped():
    session = new_session()
    _, channel = steer(session, opening(), {0: [{"text": "x", "transition": "recall", "target": "nowhere"}],
                                            1: ["stop"]})
    assert "no scene has that label" in channel.status()["applied"][0]["error"]
    assert len(session.timeline()) == 1


def test_steer_export_refuses_scenes_matched_by_distinctive_words():
    from steer_helpers import FakeClip
    opening_text = encode_scenes(FakeClip(), parse_timeline("a beach [0.75s#] | a city [0.75s@] | dawn [0.75s]"), "t")
    session = new_session()
    steer(session, opening_text, {3: ["stop"]})
    with pytest.raises(Exception, match=r"scene\(s\) 0, 1, 2 were matched for recall by their distinctive words"):
        export_timeline(session.timeline(), 3)
