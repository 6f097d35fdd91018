"""The soak's endless scene schedule: smooth, cut, recall by label, smooth, cut, recall by similarity.

Scene i >= 1 begins with CYCLE[(i - 1) % 6]:
  smooth          the previous prompt drifted a little (a prompt switch within one story);
  cut             a fresh, unrelated prompt;
  recall_label    the prompt of the scene two back, recalled by its label;
  recall_similar  a prompt near (not equal to) the scene four back, a cut scene whose prompt nothing
                  else resembles, recalled by prompt similarity alone: `intended` names the scene
                  the memory should find, so the soak can check that it did.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

import loadpack  # noqa: F401
from echo_stream.engine import WanConfig
from tiny_stream import near

CYCLE = ("smooth", "cut", "recall_label", "smooth", "cut", "recall_similar")


@dataclass(frozen=True)
class SoakScene:
    index: int
    label: str
    kind: str  # "start" or one of CYCLE
    prompt: torch.Tensor
    recall: str | None = None  # label to recall by (recall_label)
    intended: str | None = None  # the scene a similarity recall should find

    @property
    def transition(self) -> str:
        return "recall" if self.kind.startswith("recall") else self.kind


def _fresh(cfg: WanConfig, seed: int, tokens: int = 4) -> torch.Tensor:
    return torch.randn(1, tokens, cfg.text_dim, generator=torch.Generator().manual_seed(seed))


def soak_scenes(cfg: WanConfig, seed: int = 11) -> Iterator[SoakScene]:
    """Scenes forever; only the last six are remembered, so a long soak holds no growing list."""
    recent: list[SoakScene] = []
    index = 0
    while True:
        if index == 0:
            scene = SoakScene(0, "s0", "start", _fresh(cfg, seed))
        else:
            kind = CYCLE[(index - 1) % len(CYCLE)]
            label, prev = f"s{index}", recent[-1]
            if kind == "smooth":
                scene = SoakScene(index, label, kind, near(prev.prompt, seed * 100_003 + index, noise=0.2))
            elif kind == "cut":
                scene = SoakScene(index, label, kind, _fresh(cfg, seed * 100_003 + index))
            elif kind == "recall_label":
                target = recent[-2]
                scene = SoakScene(index, label, kind, target.prompt, recall=target.label)
            else:
                target = recent[-4]
                scene = SoakScene(index, label, kind, near(target.prompt, seed * 100_003 + index, noise=0.1),
                                  intended=target.label)
        recent = (recent + [scene])[-6:]
        yield scene
        index += 1
