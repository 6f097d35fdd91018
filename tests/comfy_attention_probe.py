"""Run by tests/test_comfyui_attention.py with ComfyUI's interpreter, from a ComfyUI checkout:
the tiny Echo stream (decay as a logit bias, through a scene switch) with each of ComfyUI's own
attention functions as the backend, against torch SDPA. Prints one JSON line."""
import json
import os
import sys

sys.path.insert(0, os.getcwd())  # the ComfyUI checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

torch.set_num_threads(1)
from pack_import import load_pack  # noqa: E402

load_pack()
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()  # as ComfyUI's main.py does, with --cpu (this torch may have no CUDA)
sys.argv = [sys.argv[0], "--cpu"]
import comfy.ldm.modules.attention as comfy_attention  # noqa: E402
from echo_helpers import scenes, scripted_run  # noqa: E402
from echo_stream.engine import CausalWan  # noqa: E402
from echo_stream.memory.config import EchoConfig  # noqa: E402
from echo_stream.nodes.comfy_attention import attention_backend  # noqa: E402
from tiny import tiny_dit  # noqa: E402

PLAN = scenes((0, 9, None, {}), (1, 4, "smooth", {}))


def run(backend, config):
    return scripted_run(PLAN, config=config, model=CausalWan(tiny_dit(), attention=backend))[1]


selected = comfy_attention.optimized_attention, comfy_attention.optimized_attention_masked
out = {"selected": selected[0].__name__, "functions": {}}
for config_name, config in (("key_scale", EchoConfig()), ("logit_bias", EchoConfig(decay_as_log_weight=True))):
    reference = run(None, config)
    for name in ("selected", "attention_pytorch", "attention_basic", "attention_sub_quad", "attention_split"):
        plain, masked = selected if name == "selected" else (getattr(comfy_attention, name),) * 2
        comfy_attention.optimized_attention, comfy_attention.optimized_attention_masked = plain, masked
        backend = attention_backend()
        video = run(backend, config)
        out["functions"][f"{name}/{config_name}"] = {
            "backend": backend.name, "takes_bias": backend.takes_bias,
            "max_abs_diff": (video - reference).abs().max().item(), "ref_max_abs": reference.abs().max().item()}
print(json.dumps(out))
