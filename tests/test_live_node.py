"""The Streaming Sampler in live mode, called as ComfyUI calls it; a thread plays the widget."""
import threading
import time

import torch

from echo_stream.runtime.steering import LIVE, Command, parse_prompt, parse_rewind
from node_helpers import call, comfy_dirs, model, sample  # noqa: F401
from steer_helpers import FakeClip


def widget(session: str, commands: list, log: list, channels: list | None = None):
    """Send `commands` (body, after this many session blocks) once the live run is open, then Stop."""
    deadline = time.monotonic() + 60
    while LIVE.get(session) is None and time.monotonic() < deadline:
        time.sleep(0.005)
    channel = LIVE.get(session)
    if channels is not None:
        channels.append(channel)
    for body, after in commands:
        while channel.blocks_done < after and time.monotonic() < deadline:
            time.sleep(0.002)
        if body == "stop":
            command = Command("stop")
        elif isinstance(body, tuple):  # ("rewind", scene)
            command = parse_rewind({"scene": body[1]})
        else:
            command = parse_prompt(body)
        log.append(channel.submit(command))


def test_live_sampler_node_is_steered_stopped_exported_and_replayed(comfy_dirs, model):
    opening = call("EchoSceneScriptFromText", clip=FakeClip(), timeline="a red fox in the snow {fox} [1.5s]")[0]
    sent = []
    thread = threading.Thread(target=widget, args=("cam", [({"text": "the fox by a river", "transition": "smooth"}, 3),
                                                           ({"text": "a city at night", "transition": "cut"}, 5),
                                                           ("stop", 7)], sent))
    thread.start()
    latents, handle, ui = sample(model, opening, session="cam", live=True, live_max_seconds=60.0, clip=FakeClip(),
                                 rewind_points=2)
    thread.join(10)
    assert len(sent) == 3 and ui["animated"] == [True]
    assert handle.blocks == latents.shape[2] // 3 >= 7  # Stop kept every block, nothing was interrupted
    exported = call("EchoExportSessionScript", scene_memory=handle)
    text = exported["result"][0]
    assert text.startswith("a red fox in the snow {fox} [")
    assert (comfy_dirs / "output" / "echo_stream" / "cam_script.txt").read_text().strip() == text
    replay = call("EchoSceneScriptFromText", clip=FakeClip(), timeline=text)[0]
    again, _, _ = sample(model, replay, session="replay")
    assert torch.equal(again, latents)
    # the stopped session continues like any other
    more, handle2, _ = sample(model, call("EchoSceneScriptFromText", clip=FakeClip(), timeline="a city at night [1.5s]")[0],
                              mode="continue", session="cam")
    assert handle2.blocks == handle.blocks + 2 and more.shape[2] == 6


def test_live_sampler_runs_on_every_queue():
    from echo_stream.nodes.sampler import EchoStreamingSampler
    changed = EchoStreamingSampler.IS_CHANGED(mode="new", live=True)
    assert changed != changed  # NaN: never served from ComfyUI's cache
    assert EchoStreamingSampler.IS_CHANGED(mode="new", live=False) == "new"
