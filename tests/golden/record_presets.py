"""Golden latents of every memory preset on one fixed multi-scene script (a refactor must keep them).

Run `python tests/golden/record_presets.py` from the repository root to (re)write presets.safetensors;
do that only for a change that is meant to alter outputs, and say so in the commit.
The script covers: growth and steady phases, smooth, a prompt change without a named transition,
cut, recall by label, recall by index, recall by similarity, auto (towards a past scene and towards
an unrelated one), on the seeded tiny model at 32x32 pixels (a 2x2 token grid).
"""
from __future__ import annotations

import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
FILE = HERE / "presets.safetensors"
SIZE = dict(width=32, height=32)

# (prompt, blocks, transition, extras): the first block of each scene gets the transition and extras
SCRIPT = (
    (0, 10, None, {"label": "A"}),  # growth (7 blocks), then 3 steady blocks
    (1, 2, "smooth", {"label": "B"}),
    (2, 1, None, {}),  # a new prompt without a named transition: the default transition
    (3, 2, "cut", {"label": "C"}),
    (0, 2, "recall", {"recall": "A"}),
    (1, 2, "recall", {"recall": 1}),  # scene index 1 = B
    (4, 2, "recall", {}),  # by prompt similarity
    (5, 2, "auto", {}),  # a prompt close to A's
    (6, 8, "auto", {}),  # unrelated: a cut, then steady again
)

# preset name -> (make_memory arguments, batch)
VARIANTS = {
    "echo_forcing": (("echo_forcing", {}), 1),
    "echo_forcing+true_spatial_ids": (("echo_forcing", {"true_spatial_ids": True}), 1),
    "echo_forcing+decay_as_log_weight": (("echo_forcing", {"decay_as_log_weight": True}), 1),
    "echo_forcing+per_sample_selection": (("echo_forcing", {"per_sample_selection": True}), 2),
    "self_forcing_window": (("self_forcing_window", {}), 1),
    "longlive_recache": (("longlive_recache", {}), 1),
    "infinity_rope": (("infinity_rope", {}), 1),
    "echo_infinity_rope": (("echo_infinity_rope", {}), 1),
    "full_cache": (("full_cache", {"max_frames": 3 * sum(s[1] for s in SCRIPT)}), 1),
}


def prompts(batch: int = 1) -> dict[int, torch.Tensor]:
    from tiny import text

    table = {i: text(5, seed=200 + i, batch=batch) for i in range(7)}
    g = torch.Generator().manual_seed(9)
    table[4] = table[2] + 0.3 * torch.randn(table[2].shape, generator=g)  # similar to scene 2's prompt
    table[5] = table[0] + 0.1 * torch.randn(table[0].shape, generator=g)  # close to A's
    return table


def block_plan():
    """(prompt, transition, extras, scene index) per block."""
    plan = []
    for scene_index, (prompt, blocks, transition, extras) in enumerate(SCRIPT):
        plan.append((prompt, transition, dict(extras), scene_index))
        plan += [(prompt, None, {}, scene_index)] * (blocks - 1)
    return plan


@torch.no_grad()
def run_variant(name: str, model=None) -> torch.Tensor:
    from echo_stream.engine import BlockStreamer
    from echo_stream.memory import make_memory
    from tiny import tiny_model

    (preset, options), batch = VARIANTS[name]
    model = model or tiny_model()
    streamer = BlockStreamer(model, make_memory(preset, **options), seed=11, batch=batch, **SIZE)
    table = prompts(batch)
    blocks = []
    for prompt, transition, extras, scene_index in block_plan():
        blocks.append(streamer.next_block(table[prompt], transition=transition, scene_index=scene_index,
                                          extras=extras))
    return torch.cat(blocks, dim=2)


def run_all() -> dict[str, torch.Tensor]:
    from tiny import tiny_model

    model = tiny_model()
    return {name: run_variant(name, model).contiguous() for name in VARIANTS}


def main() -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE.parent))
    from pack_import import load_pack

    load_pack()
    latents = run_all()
    save_file(latents, str(FILE))
    print(f"wrote {FILE} ({FILE.stat().st_size} bytes, {len(latents)} presets)")


if __name__ == "__main__":
    main()
