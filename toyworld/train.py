"""Train the toy causal Wan on toy-world clips (CPU, minutes, seeded, a fixed number of steps).

Self-Forcing's causal setting on whole clips in one forward: a block-causal mask (per clip, from
the clip's visibility: a cut sees nothing before it), one timestep per block with about 40 % of the
blocks clean (t = 0) as context, per-block prompts (the category of each block), shifted sigmas
(shift 5, half of the noisy blocks at the engine's own warped sampling steps), and the engine's
flow-matching convention: x_t = (1 - s) x0 + s noise, the model predicts v = noise - x0 (so
`engine.schedule.predict_x0` recovers x0 and the engine's few-step sampler runs the result).

Drift: trained only on true context, a model copies its own small errors and compounds them. Here
the clean context blocks are corrupted with a little Gaussian noise while still labelled t = 0, so
the model learns to read the discrete codes from imperfect frames and to paint them cleanly again:
its copies snap back to codebook values instead of drifting.

Choosing: a new scene's instance is read from the noise of its first block (`instance_from_noise`),
so at high noise the model learns to pick one instance from the noise instead of painting the
average of all of them, which the few-step sampler could never resolve into a single instance.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..engine import CausalWan, FlowSchedule, WanConfig
from ..engine.schedule import TRAIN_STEPS
from .categories import prompt_table
from .clips import sample_clip
from .model import TOY_CONFIG, new_toy_model, record_path

MODEL_FILE = "toyworld_wan.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    max_steps: int = 900
    batch: int = 8
    blocks: int = 7  # per clip: 7 blocks of 3 = 21 latent frames, as Self-Forcing trains
    frames_per_block: int = 3
    height: int = 8  # latent size: 8 x 8 = a 4 x 4 token grid per frame
    width: int = 8
    lr: float = 1.5e-3
    weight_decay: float = 0.01
    warmup: int = 40
    final_lr_share: float = 0.1  # cosine decay to this share of lr
    grad_clip: float = 1.0
    clean_context: float = 0.4  # chance that a block is clean context (t = 0), not a noisy target
    context_corruption: float = 0.4  # clean context gets Gaussian noise of std U(0, this)
    sampler_share: float = 0.5  # share of noisy blocks at the sampler's warped steps (else shifted uniform)
    shift: float = 5.0
    p_switch: float = 0.4  # chance of a transition at each block boundary of a training clip
    threads: int = 1
    model: WanConfig = field(default_factory=lambda: TOY_CONFIG)


@dataclass
class Batch:
    x0: torch.Tensor  # [B, 16, T, H, W]
    noise: torch.Tensor  # [B, 16, T, H, W]: the diffusion noise; new scenes' instances are read from it
    categories: torch.Tensor  # [B, blocks] long
    mask: torch.Tensor  # [B, 1, N, N] bool


def make_batch(cfg: TrainConfig, generator: torch.Generator) -> Batch:
    frames = cfg.blocks * cfg.frames_per_block
    noise = torch.randn(cfg.batch, cfg.model.in_dim, frames, cfg.height, cfg.width, generator=generator)
    clips = [sample_clip(generator, cfg.blocks, height=cfg.height, width=cfg.width, frames_per_block=cfg.frames_per_block,
                         p_switch=cfg.p_switch, noise=noise[b]) for b in range(cfg.batch)]
    frame_tokens = (cfg.height // 2) * (cfg.width // 2)
    return Batch(torch.stack([c.latent for c in clips]), noise, torch.tensor([c.block_category for c in clips]),
                 torch.stack([c.token_mask(frame_tokens) for c in clips])[:, None])


def block_timesteps(cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """[B, blocks] timesteps: 0 for clean context, else noisy; every clip has at least one noisy block."""
    b, n = cfg.batch, cfg.blocks
    clean = torch.rand(b, n, generator=generator) < cfg.clean_context
    all_clean = clean.all(dim=1)
    clean[all_clean, torch.randint(n, (b,), generator=generator)[all_clean]] = False
    u = torch.rand(b, n, generator=generator)
    shifted = cfg.shift * u / (1 + (cfg.shift - 1) * u) * TRAIN_STEPS
    steps = torch.tensor(FlowSchedule(shift=cfg.shift).timesteps())
    at_steps = steps[torch.randint(len(steps), (b, n), generator=generator)]
    noisy = torch.where(torch.rand(b, n, generator=generator) < cfg.sampler_share, at_steps, shifted.float())
    return torch.where(clean, torch.zeros(()), noisy.clamp(min=1.0))


def loss_on_batch(model: CausalWan, table_cond: torch.Tensor, batch: Batch, cfg: TrainConfig,
                  generator: torch.Generator) -> torch.Tensor:
    """Flow-matching loss (v = noise - x0) on the noisy blocks of one batch."""
    t_block = block_timesteps(cfg, generator)
    t = t_block.repeat_interleave(cfg.frames_per_block, dim=1)  # [B, T]
    x0, noise = batch.x0, batch.noise
    sigma = (t / TRAIN_STEPS)[:, None, :, None, None]
    corruption = torch.rand(cfg.batch, 1, t.shape[1], 1, 1, generator=generator) * cfg.context_corruption
    clean_input = x0 + corruption * torch.randn(x0.shape, generator=generator)
    x_in = torch.where(sigma > 0, (1 - sigma) * x0 + sigma * noise, clean_input)
    table = model.prepare_text(table_cond)
    texts = [table.select(batch.categories[:, j]) for j in range(cfg.blocks)]
    v = model.forward_full(x_in, t, texts, mask=batch.mask, frames_per_block=cfg.frames_per_block)
    per_frame = (v.float() - (noise - x0)).pow(2).mean(dim=(1, 3, 4))  # [B, T]
    weight = (t > 0).float()
    return (per_frame * weight).sum() / weight.sum()


def learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.max_steps - cfg.warmup)
    return cfg.lr * (cfg.final_lr_share + (1 - cfg.final_lr_share) * 0.5 * (1 + math.cos(math.pi * progress)))


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def train(cfg: TrainConfig, log: Callable[[str], None] | None = None, log_every: int = 25):
    """Train from scratch; returns (model, record). The record holds the config, the loss curve
    (mean per `log_every` steps), the seconds taken and the machine."""
    torch.set_num_threads(cfg.threads)
    info = machine()
    model = new_toy_model(cfg.seed, cfg.model)
    model.dit.train()
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.AdamW(model.dit.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    table_cond = prompt_table()
    curve, window, start = [], [], time.perf_counter()
    for step in range(cfg.max_steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss = loss_on_batch(model, table_cond, make_batch(cfg, generator), cfg, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.dit.parameters(), cfg.grad_clip)
        optimizer.step()
        window.append(loss.item())
        if len(window) == log_every or step + 1 == cfg.max_steps:
            curve.append({"step": step + 1, "loss": sum(window) / len(window)})
            window = []
            if log:
                elapsed = time.perf_counter() - start
                log(f"step {step + 1}/{cfg.max_steps}  loss {curve[-1]['loss']:.4f}  {elapsed:.0f} s "
                    f"(eta {elapsed / (step + 1) * (cfg.max_steps - step - 1):.0f} s)")
    model.dit.eval()
    seconds = time.perf_counter() - start
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    config = asdict(cfg)
    config["model"] = {**asdict(cfg.model), "patch_size": list(cfg.model.patch_size)}
    record = {"format": "echo_stream toyworld model 1", "steps": cfg.max_steps, "seconds": round(seconds, 1),
              "seconds_per_step": round(seconds / max(1, cfg.max_steps), 4), "final_loss": curve[-1]["loss"],
              "loss_curve": curve, "config": config, "machine": info,
              "command": f"python -m echo_stream toyworld train --seed {cfg.seed} --max-steps {cfg.max_steps}"}
    return model, record


def save(model: CausalWan, record: dict, out_dir) -> Path:
    """Write the weights (original Wan names, float32 safetensors) and the JSON record next to them."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / MODEL_FILE
    tensors = {k: v.detach().float().contiguous() for k, v in model.dit.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "wan2.1 original names", "num_heads": str(model.config.num_heads),
                                            "trained_by": "python -m echo_stream toyworld train"})
    tmp.replace(path)
    rec_tmp = record_path(path).with_name(record_path(path).name + ".tmp")
    rec_tmp.write_text(json.dumps(record, indent=1) + "\n")
    rec_tmp.replace(record_path(path))
    return path
