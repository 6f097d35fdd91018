"""Our streaming decoder driving core ComfyUI's own WanVAE modules (optional: needs COMFYUI_PATH).

Runs tests/core_vae_check.py under COMFYUI_PYTHON (ComfyUI's interpreter): the same per-latent decode
over core's `comfy.ldm.wan.vae.WanVAE` module tree, and over our tree loaded from the same weights,
against core's one-shot `WanVAE.decode` (which is exact for a whole video).
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")
COMFYUI_PYTHON = os.environ.get("COMFYUI_PYTHON") or sys.executable

pytestmark = pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH (and COMFYUI_PYTHON) to run against core's WanVAE")


def test_streaming_over_core_modules_equals_core_decode(tmp_path):
    script = pathlib.Path(__file__).with_name("core_vae_check.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([COMFYUI_PYTHON, str(script), COMFYUI_PATH, str(tmp_path)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == [25, 25, 25]  # 7 latents -> 4 * 7 - 3 pixel frames
    assert result["reference_std"] > 0.1
    assert result["core_modules_vs_core_decode"] <= 1e-4
    assert result["our_tree_vs_core_decode"] <= 1e-4
