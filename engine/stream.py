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

from .geometry import cache_geometry, latent_size  # noqa: F401  (latent_size: re-exported)
from .errors import EchoError
from .layout import BlockLayout
from .memory_api import BlockEvent, MemoryPolicy, Recaching, recache_frames
from .prompts import same_prompt
from .state import require, tensor_or_none
from .schedule import FlowSchedule, predict_x0, renoise
from .transformer import CausalWan, TextContext


@dataclass(frozen=True)
class StreamSettings:
    schedule: FlowSchedule = field(default_factory=FlowSchedule)
    frames_per_block: int = 3  # 1 for frame-wise models
    context_noise: float = 0.0  # timestep of the clean write pass (0 = clean)
    # the stream's first block (a scene start with nothing before it): its own steps, e.g. 4 for Causal
    # Forcing++'s 1- and 2-step frame-wise models; None = the same schedule as every block
    first_block_schedule: FlowSchedule | None = None


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
        self.geometry = cache_geometry(model, width=width, height=height,
                                       frames_per_block=self.settings.frames_per_block, batch=batch)
        memory.setup(self.geometry)
        self.generator = torch.Generator("cpu").manual_seed(seed)
        self.timesteps = self.settings.schedule.timesteps()
        first = self.settings.first_block_schedule
        self.first_timesteps = first.timesteps() if first is not None else self.timesteps
        self.block_index = 0
        self.text: TextContext | None = None  # cross-attention K/V of `prompt` (rebuilt, never saved)
        self.prompt: torch.Tensor | None = None  # the conditioning of the last block
        self.recent_latents: deque[torch.Tensor] = deque(maxlen=max(recache_frames(memory), 1))
        self.layout: BlockLayout | None = None  # the last block's layout (public record of what it did)

    @property
    def frames_done(self) -> int:
        return self.block_index * self.settings.frames_per_block

    def _noise(self) -> torch.Tensor:
        shape = (self.batch, self.model.config.in_dim, self.settings.frames_per_block, self.latent_h, self.latent_w)
        return torch.randn(shape, generator=self.generator).to(self.model.device, self.model.dtype)

    def _timestep(self, t: float) -> torch.Tensor:
        return torch.full((self.batch, self.settings.frames_per_block), t, device=self.model.device)

    @torch.no_grad()
    def next_block(self, conditioning: torch.Tensor, *, commit: torch.Tensor | None = None,
                   **event_fields) -> torch.Tensor:
        """Generate the next block [B, C, frames_per_block, H/8, W/8] under `conditioning`.

        `commit` (teacher forcing): a block of the same shape written into memory by the clean pass
        (and kept for re-caching) instead of the denoised one; the denoised block is still returned,
        so a benchmark can show the model the true video and see what it predicts for each block.

        A conditioning that differs from the previous block's (`same_prompt`) counts as a prompt change;
        its cross-attention K/V are computed once here. `event_fields` (transition, scene_index,
        extras, prompt_feature) are passed to the memory policy in the BlockEvent.
        """
        changed = self.prompt is not None and not same_prompt(self.prompt, conditioning)
        if self.text is None or changed:
            self.text = self.model.prepare_text(conditioning)
        self.prompt = conditioning
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
        self.layout = memory.begin_block(event)
        x = self._noise()
        timesteps = self.first_timesteps if self.block_index == 0 else self.timesteps
        for i, t in enumerate(timesteps):
            sigma = FlowSchedule.sigma(t)
            x0 = predict_x0(x, model.forward_block(x, self._timestep(t), self.text, memory, write=False), sigma)
            if i + 1 < len(timesteps):
                x = renoise(x0, self._noise(), FlowSchedule.sigma(timesteps[i + 1]))
        written = x0 if commit is None else self._checked_commit(commit, x0)
        context = written
        if self.settings.context_noise > 0:
            context = renoise(written, self._noise(), FlowSchedule.sigma(self.settings.context_noise))
        model.forward_block(context, self._timestep(self.settings.context_noise), self.text, memory, write=True)
        memory.end_block()
        if recache_frames(memory):
            self.recent_latents.extend(written.unbind(2))
        self.block_index += 1
        return x0

    def _checked_commit(self, commit: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        if tuple(commit.shape) != tuple(x0.shape):
            raise EchoError(f"commit: a block to write must have the generated block's shape {tuple(x0.shape)}, "
                            f"got {tuple(commit.shape)}")
        return commit.to(x0.device, x0.dtype)

    def _recache(self, event: BlockEvent) -> None:
        """Run the newest clean frames again under the new prompt when the policy asks (LongLive)."""
        if not isinstance(self.memory, Recaching):
            return
        n = min(self.memory.recache_request(event), len(self.recent_latents))
        if n <= 0:
            return
        frames = torch.stack(list(self.recent_latents)[-n:], dim=2)
        self.memory.begin_recache(self.frames_done - n, n)
        t = torch.full((self.batch, n), self.settings.context_noise, device=self.model.device)
        self.model.forward_block(frames, t, self.text, self.memory, write=True)
        self.memory.end_recache()


    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """What defines the stream from here on: RNG, block index, prompt, re-cache frames, the memory."""
        return {
            "rng": self.generator.get_state(),
            "block_index": self.block_index,
            "prompt": self.prompt,
            "recent_latents": list(self.recent_latents),
            "memory": self.memory.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue a saved stream; this streamer must have been made with the same model sizes and settings."""
        require(state, ("rng", "block_index", "prompt", "recent_latents", "memory"), "stream")
        self.generator.set_state(state["rng"].to("cpu", torch.uint8))
        self.block_index = int(state["block_index"])
        self.prompt = tensor_or_none(state["prompt"], self.model.device)
        self.text = None
        self.recent_latents.clear()
        self.recent_latents.extend(tensor_or_none(x, self.model.device, self.model.dtype)
                                   for x in state["recent_latents"])
        self.memory.load_state_dict(state["memory"])


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
