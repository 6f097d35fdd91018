"""ComfyUI's own attention functions as the engine's backend match torch SDPA (fp32, CPU).

Optional, like test_comfyui_integration.py: runs only when COMFYUI_PATH points at a ComfyUI checkout;
COMFYUI_PYTHON is the interpreter with ComfyUI's requirements. The probe imports
comfy.ldm.modules.attention for real and runs the tiny Echo stream through a scene switch with each
of ComfyUI's CPU-capable attention functions.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")
COMFYUI_PYTHON = os.environ.get("COMFYUI_PYTHON") or sys.executable
PROBE = pathlib.Path(__file__).resolve().parent / "comfy_attention_probe.py"

pytestmark = pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout (and "
                                "COMFYUI_PYTHON to its interpreter) to run against ComfyUI's attention")


def test_comfyui_attention_functions_match_sdpa():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([COMFYUI_PYTHON, str(PROBE)], cwd=COMFYUI_PATH, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    functions = result["functions"]
    assert len(functions) == 10, functions
    for name, entry in functions.items():
        assert entry["backend"].startswith("comfy:attention_"), (name, entry)
        assert entry["max_abs_diff"] < 1e-4 * max(1.0, entry["ref_max_abs"]), (name, entry)
    for name in ("attention_pytorch", "attention_basic", "attention_sub_quad", "attention_split"):
        assert functions[f"{name}/logit_bias"]["takes_bias"], name  # these add ComfyUI's mask themselves
