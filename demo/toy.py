"""The demo on the bundled toy-world model: its prompts, and what the frames read back as.

The six scenes name toy categories (A ocean, B forest, C lava, D meadow, E lava again): smooth
switches change the category, the cut goes to an unrelated one, and E prompts C's category, so
recall by prompt similarity alone should find C. The verdicts use the toy world's read-back
(instance codes, exact-match) with the quality benchmark's rule (toyworld.evaluate): the block one
after a transition is compared with the scene it should (recall) or should not (cut) resemble.
"""
from __future__ import annotations

import torch

from ..toyworld import CATEGORIES, category_index, prompt_embedding, rgb_factors
from ..toyworld.evaluate import INSTANCE_CHANCE, transition_outcomes
from ..toyworld.rollout import ScriptBlock, read_blocks
from .script import SCENES

CATEGORY_OF = {"A": "ocean", "B": "forest", "C": "lava", "D": "meadow", "E": "lava"}
PIXELS = (64, 64)  # the 8x8 latent grid the toy model was trained on
EVENT = {"start": "start", "smooth": "smooth", "cut": "cut", "recall": "return"}


def toy_prompts() -> dict[str, torch.Tensor]:
    return {name: prompt_embedding(category) for name, category in CATEGORY_OF.items()}


def preview_factors():
    return rgb_factors()


def script_blocks(blocks_per_scene: list[int], similarity_found: dict[str, str | None]) -> list[ScriptBlock]:
    """The demo's blocks in the benchmark's terms: prompted category, scene identity, transition."""
    first_scene: dict[str, int] = {}
    out = []
    for i, (scene, n) in enumerate(zip(SCENES, blocks_per_scene)):
        identity = i
        if scene.transition == "recall":
            target = scene.recall if scene.recall is not None else similarity_found.get(scene.label)
            identity = first_scene.get(target, i)
        # a recall that found no scene is judged as what it then was: a new scene
        event = "cut" if scene.transition == "recall" and identity == i else EVENT[scene.transition]
        first_scene.setdefault(scene.label, identity)
        category = category_index(CATEGORY_OF[scene.prompt])
        out += [ScriptBlock(category, identity, event if b == 0 else "continue") for b in range(n)]
    return out


def read_back(latent: torch.Tensor, blocks_per_scene: list[int], similarity_recalls: list[dict],
              frames_per_block: int) -> dict:
    """Verdicts of this run, read from the frames of one sample's latent [16, T, H, W]."""
    found = {r["scene"]: r["found"] for r in similarity_recalls}
    blocks = script_blocks(blocks_per_scene, found)
    readings = read_blocks(latent.float().cpu(), frames_per_block)
    outcomes = transition_outcomes(blocks, readings)
    starts = [i for i, b in enumerate(blocks) if b.transition != "continue"]
    scenes = []
    for s, start, n in zip(SCENES, starts, blocks_per_scene):
        own = readings[start:start + n]
        scenes.append({"label": s.label, "category": CATEGORY_OF[s.prompt],
                       "category_read": sum(CATEGORIES[r.category] == CATEGORY_OF[s.prompt] for r in own) / n,
                       "first_look": list(own[0].look), "looks": [list(r.look) for r in own]})
    by_label = {s.label: o for s, o in zip(SCENES[1:], outcomes)}
    recall_a, cut, recall_e = by_label["A again"], by_label["C"], by_label["E"]
    return {
        "method": "toy-world read-back: each block's (palette, pattern) codes; a transition is judged on the "
                  "block after its first, as in bench/quality.py (toyworld.evaluate.transition_outcomes)",
        "recall_brought_A_back": recall_a["recalled"],
        # a recall only shows memory when A's look had gone: otherwise "brought back" is just "never left"
        "A_look_had_gone_before_recall": recall_a["target_gone"],
        "cut_left_B_clean": cut["clean"],
        "similarity_recall_brought_back": {"scene": "E", "found": found.get("E"), "recalled": recall_e.get("recalled")},
        "smooth_switches": [{"scene": label, "carried": by_label[label]["carried"],
                             "lag_blocks": by_label[label]["lag_blocks"]} for label in ("B", "D")],
        "chance_of_a_look_match": INSTANCE_CHANCE,
        "scenes": scenes,
    }


def temporal_structure(frames: torch.Tensor, pairs: int = 4096, seed: int = 0) -> dict:
    """Mean absolute difference (0-255) of consecutive preview frames against random frame pairs.

    frames: uint8 [T, H, W, 3]. A video has temporal structure when the first is well below the
    second (noise frames give a ratio near 1)."""
    x = frames.float().flatten(1)
    t = x.shape[0]
    if t < 3:
        return {"consecutive_mad": None, "random_pairs_mad": None, "ratio": None}
    consecutive = (x[1:] - x[:-1]).abs().mean()
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(t, (pairs,), generator=g)
    j = (i + torch.randint(1, t, (pairs,), generator=g)) % t  # a different frame
    random_pairs = (x[i] - x[j]).abs().mean()
    return {"consecutive_mad": round(float(consecutive), 3), "random_pairs_mad": round(float(random_pairs), 3),
            "ratio": round(float(consecutive / random_pairs), 4) if random_pairs > 0 else None}
