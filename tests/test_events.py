"""The live-preview events the Streaming Sampler emits (payloads documented in docs/preview_events.md)."""
import base64
import io

from PIL import Image

from echo_stream.runtime.events import PreviewThrottle
from node_helpers import comfy_dirs, model, sample, script_of, sent  # noqa: F401

SCRIPT = [("EchoSceneStart", 1, 1.5, {"label": "beach"}), ("EchoHardCut", 2, 0.75, {}),
          ("EchoSceneRecall", 1, 1.5, {"target": "beach", "label": "back"})]


def test_a_scripted_run_emits_start_blocks_end(comfy_dirs, model, sent):
    sample(model, script_of(*SCRIPT), session="ev")
    names = [name for name, _ in sent]
    assert names == ["echo_stream.run"] + ["echo_stream.block"] * 5 + ["echo_stream.run"]
    start, end = sent[0][1], sent[-1][1]
    assert start["phase"] == "start" and end["phase"] == "end" and start["run"] == end["run"]
    assert (start["node"], start["session"], start["continued"], start["version"]) == ("7", "ev", False, 1)
    assert (start["first_block"], start["run_blocks"], start["total_blocks"]) == (0, 5, 5)
    assert (start["frames_per_block"], start["fps"], start["frames_per_image"]) == (3, 16, 4)
    expected = [{"index": 0, "label": "beach", "transition": "start", "start_block": 0, "blocks": 2},
                {"index": 1, "label": None, "transition": "cut", "start_block": 2, "blocks": 1},
                {"index": 2, "label": "back", "transition": "recall", "start_block": 3, "blocks": 2,
                 "recalls": {"index": 0, "label": "beach"}}]
    live_keys = ("text", "recall", "mode", "text_feature")  # tests/test_live_steering.py
    assert [{k: v for k, v in s.items() if k not in live_keys} for s in start["scenes"]] == expected
    assert [{k: v for k, v in s.items() if k not in live_keys} for s in end["scenes"]] == expected
    assert [s["mode"] for s in end["scenes"]] == [None, "cut", "recall"] and end["scenes"][2]["recall"] == "beach"
    blocks = [data for name, data in sent if name == "echo_stream.block"]
    assert [b["block"] for b in blocks] == [0, 1, 2, 3, 4] and [b["run_block"] for b in blocks] == [0, 1, 2, 3, 4]
    assert [b["scene"]["transition"] for b in blocks] == ["start", "start", "cut", "recall", "recall"]
    assert [b["image_frame"] for b in blocks] == [0, 3, 6, 9, 12]
    first = blocks[0]
    assert first["run"] == start["run"] and len(first["images"]) == 3  # the first block always carries frames
    header, payload = first["images"][0].split(",", 1)
    assert header == "data:image/jpeg;base64"
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    assert image.format == "JPEG" and image.width == 256
    assert all(b["timing"]["elapsed"] >= 0 and b["timing"]["blocks_per_second"] > 0 for b in blocks)
    assert blocks[-1]["timing"]["eta"] == 0


def test_a_continued_run_extends_the_timeline(comfy_dirs, model, sent):
    sample(model, script_of(*SCRIPT[:1]), session="ev")
    sent.clear()
    sample(model, script_of(("EchoSceneStart", 3, 0.75, {"on_continue": "cut"})), mode="continue", session="ev")
    start = sent[0][1]
    assert start["continued"] and (start["first_block"], start["run_blocks"], start["total_blocks"]) == (2, 1, 3)
    assert [s["transition"] for s in start["scenes"]] == ["start", "cut"]
    assert sent[1][1]["block"] == 2 and sent[1][1]["run_block"] == 0


def test_a_recall_names_the_scene_it_returns_to(comfy_dirs, model, sent):
    """By label or by index, in this run or an earlier one: the widget can show a recall without a label
    of its own under the recalled scene's label. A recall by similarity names none (the memory picks)."""
    sample(model, script_of(("EchoSceneStart", 1, 0.75, {"label": "beach"}), ("EchoHardCut", 2, 0.75, {}),
                            ("EchoSceneRecall", 1, 0.75, {"target": "beach"}),
                            ("EchoSceneRecall", 2, 0.75, {"target": "1"})), session="rc")
    start = sent[0][1]
    assert [s.get("recalls") for s in start["scenes"]] == [None, None, {"index": 0, "label": "beach"},
                                                          {"index": 1, "label": None}]
    blocks = [data for name, data in sent if name == "echo_stream.block"]
    assert [b["scene"].get("recalls") for b in blocks] == [s.get("recalls") for s in start["scenes"]]
    sent.clear()
    sample(model, script_of(("EchoSceneStart", 2, 0.75, {}), ("EchoSceneRecall", 3, 0.75, {"target": "beach"}),
                            ("EchoSceneRecall", 3, 0.75, {})), mode="continue", session="rc")
    scenes = sent[0][1]["scenes"]
    assert scenes[4]["recalls"] == {"index": 0, "label": "beach"} and "recalls" not in scenes[5]


def test_throttle_limits_previews():
    now = [0.0]
    throttle = PreviewThrottle(0.25, clock=lambda: now[0])
    allowed = []
    for step in range(20):  # 20 blocks at 10 blocks per second
        now[0] = step * 0.1
        allowed.append(throttle.ready())
    assert allowed == [i % 3 == 0 for i in range(20)]
