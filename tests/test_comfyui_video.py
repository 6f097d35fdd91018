"""In a real ComfyUI: the Streaming Sampler with core's Load VAE writes one video per session that grows
by each queue run's frames, and its VIDEO output goes to core's Save Video.

Optional, like test_comfyui_integration.py (whose server helpers it uses): runs only with COMFYUI_PATH
(and COMFYUI_PYTHON, ComfyUI's interpreter, which also writes the tiny core-layout VAE file).
"""
import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from test_comfyui_integration import (CHECKPOINT, COMFYUI_PATH, COMFYUI_PYTHON, FIXTURE_NODE, PACK_NAME, PACK_ROOT,
                                      ComfyServer, assert_success, tiny_checkpoint)

import av  # noqa: E402  (test extra)
pytestmark = pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH (and COMFYUI_PYTHON) to run it")
VAE_FILE = "tiny_wan_2.1_vae.safetensors"


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfyui_video")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / PACK_NAME).symlink_to(PACK_ROOT, target_is_directory=True)
    (base / "custom_nodes" / "echo_test_nodes.py").write_text(FIXTURE_NODE)
    for folder in ("models/diffusion_models", "models/vae", "input", "output", "temp", "user"):
        (base / folder).mkdir(parents=True)
    tiny_checkpoint(base / "models" / "diffusion_models" / CHECKPOINT)
    script = pathlib.Path(__file__).with_name("core_tiny_vae.py")
    made = subprocess.run([COMFYUI_PYTHON, str(script), COMFYUI_PATH, str(base / "models" / "vae" / VAE_FILE)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert made.returncode == 0, made.stderr[-3000:]
    server = ComfyServer(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def workflow(mode: str, seconds: float) -> dict:
    return {
        "1": {"class_type": "EchoCausalModelLoader",
              "inputs": {"model_name": CHECKPOINT, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
                         "frames_per_block": 3}},
        "2": {"class_type": "EchoTestConditioning", "inputs": {"seed": 1, "tokens": 8}},
        "4": {"class_type": "EchoSceneStart", "inputs": {"conditioning": ["2", 0], "seconds": seconds}},
        "5": {"class_type": "VAELoader", "inputs": {"vae_name": VAE_FILE}},
        "6": {"class_type": "EchoStreamingSampler",
              "inputs": {"model": ["1", 0], "script": ["4", 0], "width": 64, "height": 48, "seed": 1,
                         "steps": "1000, 750, 500, 250", "session": "vid", "mode": mode, "vae": ["5", 0],
                         "decode_every": 1}},
        "7": {"class_type": "SaveVideo", "inputs": {"video": ["6", 3], "filename_prefix": f"echo_video/{mode}",
                                                   "format": "auto", "codec": "auto"}},
    }


def frames_in(path: pathlib.Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_two_queue_runs_grow_one_session_video(comfy):
    client = uuid.uuid4().hex
    first = comfy.run(workflow("new", 1.5), client)  # 2 blocks = 6 latents
    assert_success(first)
    videos = list((comfy.base / "output" / "echo_stream").glob("vid_*.mp4"))
    assert len(videos) == 1
    assert frames_in(videos[0]) == 4 * 6 - 3
    second = comfy.run(workflow("continue", 2.25), client)  # 3 more blocks
    assert_success(second)
    assert list((comfy.base / "output" / "echo_stream").glob("vid_*.mp4")) == videos
    assert frames_in(videos[0]) == 4 * 15 - 3  # one video: grown by run 2's 36 frames, no restart
    # The widget's Final view loads the whole session video through the pack's route, Range included.
    data = videos[0].read_bytes()
    for prefix in ("", "/api"):
        with urllib.request.urlopen(comfy.url + prefix + "/echo_stream/sessions/vid/video?run=x") as response:
            assert response.status == 200 and response.read() == data
    ranged = urllib.request.Request(comfy.url + "/api/echo_stream/sessions/vid/video", headers={"Range": "bytes=10-29"})
    with urllib.request.urlopen(ranged) as response:
        assert response.status == 206 and response.read() == data[10:30]
    try:
        urllib.request.urlopen(comfy.url + "/api/echo_stream/sessions/nobody/video")
        raise AssertionError("an unknown session must be 404")
    except urllib.error.HTTPError as err:
        assert err.code == 404 and "no session named 'nobody'" in json.loads(err.read())["error"]
    saved = sorted((comfy.base / "output" / "echo_video").glob("continue*"))
    assert len(saved) == 1 and frames_in(saved[0]) == 4 * 15 - 3  # core's Save Video took the VIDEO output
    share = [line for line in comfy.log().splitlines() if "decoding 3 blocks into" in line]
    assert share and "% of the run)" in share[0]
    print(share[0])  # the decode's share of the run (pytest -s shows it)
