"""Run under ComfyUI's interpreter: our streaming decoder over core's WanVAE modules vs core's own decode.

Usage: python core_vae_check.py <ComfyUI path> <work dir>; prints one JSON line of max abs errors.
"""
import json
import pathlib
import sys

COMFY, WORK = sys.argv[1], pathlib.Path(sys.argv[2])
sys.path.insert(0, str(pathlib.Path(__file__).parent))
from core_tiny_vae import random_core_wan_vae, setup_comfy  # noqa: E402

setup_comfy(COMFY)

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from pack_import import load_pack  # noqa: E402

load_pack()
from echo_stream.vae import StreamingDecoder, load_wan21_vae_decoder  # noqa: E402

torch.set_num_threads(1)
core, state = random_core_wan_vae(num_res_blocks=1)
save_file(state, str(WORK / "wan_2.1_vae.safetensors"))

z = torch.randn(1, 16, 7, 4, 6, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    reference = core.decode(z).clamp(-1, 1)
over_core = StreamingDecoder(core)
streamed_core = torch.cat([over_core.decode_all(z[:, :, :3]), over_core.decode_all(z[:, :, 3:])], dim=2)
ours = StreamingDecoder(load_wan21_vae_decoder(WORK / "wan_2.1_vae.safetensors"))
streamed_ours = torch.cat([ours.decode_all(z[:, :, :4]), ours.decode_all(z[:, :, 4:])], dim=2)
print(json.dumps({
    "frames": [reference.shape[2], streamed_core.shape[2], streamed_ours.shape[2]],
    "reference_std": reference.std().item(),
    "core_modules_vs_core_decode": (streamed_core - reference).abs().max().item(),
    "our_tree_vs_core_decode": (streamed_ours - reference).abs().max().item(),
}))
