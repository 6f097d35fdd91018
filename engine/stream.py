"""Block-by-block generation: few-step denoising of each block, then a clean pass that commits K/V.

All randomness comes from one CPU torch.Generator seeded by the caller, so the same seed and
prompts give the same latents on any device, and the generator state can be saved to continue
a session later.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generator

import torch

from .errors import InputShapeError
from .memory_api import BlockEvent, CacheGeometry, MemoryPolicy
from .schedule import FlowSchedule, predict_x0, renoise
from .transformer import CausalWan, TextContext

PIXELS_PER_LATENT = 8
SIZE_MULTIPLE = 16


@dataclass(frozen=True)
class StreamSettings:
    schedule: FlowSchedule = field(default_factory=FlowSchedule)
    frames_per_block: int = 3  # 1 for frame-wise models
    context_noise: float = 0.0  # timestep of the clean write pass (0 = clean)
    # the stream's first block (a scene start with nothing before it): its own steps, e.g. 4 for Causal
    # Forcing++'s 1- and 2-step frame-wise models; None = the same schedule as every block
    first_block_schedule: FlowSchedule | None = None


def latent_size(width: int, height: int) -> tuple[int, int]:
    """Pixel width/height -> latent (height, width); both must be positive multiples of 16."""
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % SIZE_MULTIPLE:
            lower = max(SIZE_MULTIPLE, value // SIZE_MULTIPLE * SIZE_MULTIPLE)
            raise InputShapeError(
                f"{name} {value} is not a positive multiple of {SIZE_MULTIPLE}; "
                f"use {lower} or {lower + SIZE_MULTIPLE} (Wan latents are 1/8 of the pixels, patched in 2x2)"
            )
    return height // PIXELS_PER_LATENT, width // PIXELS_PER_LATENT


class BlockStreamer:
    """Generates one latent block per `next_block` call against a memory policy."""

    def __init__(
        self,
        model: CausalWan,
        memory: MemoryPolicy,
        *,
        width: int,
        height: int,
        seed: int = 0,
        batch: int = 1,
        settings: StreamSettings | None = None,
    ):
        self.model = model
        self.memory = memory
        self.settings = settings or StreamSettings()
        self.batch = batch
        self.latent_h, self.latent_w = latent_size(width, height)
        cfg = model.config
        _, ph, pw = cfg.patch_size
        self.geometry = CacheGeometry(
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            head_dim=cfg.head_dim,
            grid_h=self.latent_h // ph,
            grid_w=self.latent_w // pw,
            frames_per_block=self.settings.frames_per_block,
            batch=batch,
            dtype=model.dtype,
            device=model.device,
            rotary=model.rotary,
        )
        memory.setup(self.geometry)
        self.generator = torch.Generator("cpu").manual_seed(seed)
        self.timesteps = self.settings.schedule.timesteps()
        first = self.settings.first_block_schedule
        self.first_timesteps = first.timesteps() if first is not None else self.timesteps
        self.block_index = 0
        self.text: TextContext | None = None
        self.recent_latents: deque[torch.Tensor] = deque(maxlen=max(memory.max_recache_frames, 1))

    @property
    def frames_done(self) -> int:
        return self.block_index * self.settings.frames_per_block

    def _noise(self) -> torch.Tensor:
        shape = (self.batch, self.model.config.in_dim, self.settings.frames_per_block, self.latent_h, self.latent_w)
        return torch.randn(shape, generator=self.generator).to(self.model.device, self.model.dtype)

    def _timestep(self, t: float) -> torch.Tensor:
        return torch.full((self.batch, self.settings.frames_per_block), t, device=self.model.device)

    @torch.no_grad()
    def next_block(self, conditioning: torch.Tensor, **event_fields) -> torch.Tensor:
        """Generate the next block [B, C, frames_per_block, H/8, W/8] under `conditioning`.

        A conditioning tensor that is not the previous one counts as a prompt change; its
        cross-attention K/V are computed once here. `event_fields` (transition, scene_index,
        extras) are passed to the memory policy in the BlockEvent.
        """
        changed = self.text is not None and self.text.source is not conditioning
        if self.text is None or changed:
            self.text = self.model.prepare_text(conditioning)
        event = BlockEvent(
            index=self.block_index,
            start_frame=self.frames_done,
            num_frames=self.settings.frames_per_block,
            prompt_changed=changed,
            conditioning=conditioning,
            **event_fields,
        )
        model, memory = self.model, self.memory
        self._recache(event)
        memory.begin_block(event)
        x = self._noise()
        timesteps = self.first_timesteps if self.block_index == 0 else self.timesteps
        for i, t in enumerate(timesteps):
            sigma = FlowSchedule.sigma(t)
            x0 = predict_x0(x, model.forward_block(x, self._timestep(t), self.text, memory, write=False), sigma)
            if i + 1 < len(timesteps):
                x = renoise(x0, self._noise(), FlowSchedule.sigma(timesteps[i + 1]))
        context = x0
        if self.settings.context_noise > 0:
            context = renoise(x0, self._noise(), FlowSchedule.sigma(self.settings.context_noise))
        model.forward_block(context, self._timestep(self.settings.context_noise), self.text, memory, write=True)
        memory.end_block()
        if memory.max_recache_frames:
            self.recent_latents.extend(x0.unbind(2))
        self.block_index += 1
        return x0

    def _recache(self, event: BlockEvent) -> None:
        """Run the newest clean frames again under the new prompt when the policy asks (LongLive)."""
        n = min(self.memory.recache_request(event), len(self.recent_latents))
        if n <= 0:
            return
        frames = torch.stack(list(self.recent_latents)[-n:], dim=2)
        self.memory.begin_recache(self.frames_done - n, n)
        t = torch.full((self.batch, n), self.settings.context_noise, device=self.model.device)
        self.model.forward_block(frames, t, self.text, self.memory, write=True)
        self.memory.end_recache()


def stream(
    model: CausalWan,
    conditioning: torch.Tensor,
    *,
    memory: MemoryPolicy,
    width: int,
    height: int,
    num_blocks: int | None = None,
    seed: int = 0,
    batch: int = 1,
    settings: StreamSettings | None = None,
) -> Generator[torch.Tensor, torch.Tensor | None, None]:
    """Yield latent blocks forever (or `num_blocks` of them).

    Send a new conditioning tensor with `gen.send(cond)` to switch prompts from the next block on.
    """
    streamer = BlockStreamer(model, memory, width=width, height=height, seed=seed, batch=batch, settings=settings)
    while num_blocks is None or streamer.block_index < num_blocks:
        sent = yield streamer.next_block(conditioning)
        if sent is not None:
            conditioning = sent
