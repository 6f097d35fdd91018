"""Scripted Echo-Forcing runs on the tiny model."""
from dataclasses import dataclass

import torch

from echo_stream.engine import BlockStreamer
from echo_stream.memory.config import EchoConfig
from echo_stream.memory.echo_forcing import EchoForcingMemory
from tiny import text, tiny_model

SIZE = dict(width=48, height=32)  # a 2 x 3 token grid per latent frame


@dataclass
class Run:
    memory: EchoForcingMemory
    layouts: list  # each block's BlockLayout, in order

    @property
    def records(self) -> list[dict]:
        return [layout.record() for layout in self.layouts]


def scripted_run(plan, config=None, seed=0, model=None, prompts=None):
    """plan: list of (prompt index, transition or None, extras dict) per block -> (Run, latents)."""
    model = model or tiny_model()
    prompts = prompts or {}
    memory = EchoForcingMemory(config or EchoConfig())
    streamer = BlockStreamer(model, memory, seed=seed, **SIZE)
    blocks, layouts = [], []
    with torch.no_grad():
        for prompt, transition, extras in plan:
            cond = prompts.setdefault(prompt, text(5, seed=100 + prompt))
            blocks.append(streamer.next_block(cond, transition=transition, extras=dict(extras)))
            layouts.append(streamer.layout)
    return Run(memory, layouts), torch.cat(blocks, dim=2)


def scenes(*spec):
    """spec: (prompt, blocks, transition, extras) per scene -> a block plan."""
    plan = []
    for prompt, blocks, transition, extras in spec:
        plan.append((prompt, transition, extras))
        plan += [(prompt, None, {})] * (blocks - 1)
    return plan
