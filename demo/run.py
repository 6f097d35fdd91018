"""Run the six-scene demo and write its files (preview, memory chart, latents, summary)."""
from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.errors import EchoError
from ..runtime.latent_file import save_latent
from ..runtime.memory_choice import MemoryChoice
from ..runtime.script import FPS, PIXEL_FRAMES_PER_LATENT
from ..runtime.session import Session, SessionSpec
from . import model as models
from .chart import draw_memory_chart
from . import toy
from .preview import preview_frames, write_preview
from .progress import ProgressBar
from .record import BlockLog
from .prompts import load_prompts, synthetic_prompts
from .script import SCENES, demo_script, describe

FILES = {"preview": "preview.webp", "chart": "memory_chart.png", "latent": "demo.latent", "summary": "summary.json"}


@dataclass(frozen=True)
class DemoOptions:
    out: Path
    short: bool = False
    checkpoint: str | None = None
    random_model: bool = False  # a small random Wan instead of the bundled toy-world model
    prompts: str | None = None
    device: str = "cpu"
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # per scene
    seed: int = 0
    fps: float = FPS / PIXEL_FRAMES_PER_LATENT  # latent frames per second of video: real time
    quiet: bool = False

    def size(self) -> tuple[int, int]:
        if self.checkpoint:
            default = (832, 480)
        elif self.random_model:
            default = (64, 48) if self.short else (160, 96)
        else:
            default = toy.PIXELS
        return self.width or default[0], self.height or default[1]

    def seconds_per_scene(self) -> float:
        return self.seconds or (6.0 if self.short else 12.0)


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EchoError(f"--device {name} was asked for, but this torch ({torch.__version__}) sees no CUDA device")
    return device


def _load(opts: DemoOptions, device: torch.device):
    """(model, prompt embeddings, description of where both came from)."""
    if opts.checkpoint and opts.random_model:
        raise EchoError("--random-model and --checkpoint exclude each other; give one of them (or neither, for "
                        "the bundled toy-world model)")
    if opts.prompts and not opts.checkpoint:
        raise EchoError("--prompts needs --checkpoint: the toy-world and random models take their own prompt "
                        "embeddings, not umT5 ones")
    if opts.checkpoint:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = models.checkpoint_model(opts.checkpoint, device, dtype)
        source = {"source": "checkpoint", "path": str(opts.checkpoint)}
    elif opts.random_model:
        model = models.random_model(opts.short, device, torch.float32)
        source = {"source": "random weights", "seed": models.SEED}
    else:
        model = models.toy_model(device, torch.float32)
        source = {"source": "toy world model (bundled)", "path": "toyworld/model/toyworld_wan.safetensors",
                  "prompts": "toy categories " + ", ".join(f"{k}={v}" for k, v in toy.CATEGORY_OF.items())}
        return model, toy.toy_prompts(), {**source, **models.describe(model)}
    text_dim = model.config.text_dim
    prompts = load_prompts(opts.prompts, text_dim) if opts.prompts else synthetic_prompts(text_dim)
    source["prompts"] = str(opts.prompts) if opts.prompts else "synthetic (fixed seed)"
    return model, prompts, {**source, **models.describe(model)}


def _is_toy(opts: DemoOptions) -> bool:
    return not opts.checkpoint and not opts.random_model


def run_demo(opts: DemoOptions) -> dict:
    device = _device(opts.device)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = opts.size()
    model, prompts, model_info = _load(opts, device)
    session = Session("demo", model, SessionSpec(width, height, seed=opts.seed, memory=MemoryChoice("echo_forcing")))
    script = demo_script(prompts, opts.seconds_per_scene())
    plan = session.plan(script)
    log = BlockLog(session, prompts, opts.fps)
    bar = None if opts.quiet else ProgressBar(sum(p.blocks for p in plan))

    def on_block(report):
        log.on_block(report)
        if bar:
            s = report.scene
            bar.update(report.run_block + 1, f"scene {s.index + 1}/{len(SCENES)} {s.label} ({s.transition})")

    started = time.perf_counter()
    with torch.no_grad():
        result = session.run(script, on_block=on_block, plan=plan)
    wall = time.perf_counter() - started
    if bar:
        bar.close()
    latents = result.latents
    pixel_frames = latents.shape[2] * PIXEL_FRAMES_PER_LATENT
    factors = toy.preview_factors() if _is_toy(opts) else None
    blocks_per_scene = [p.blocks for p in plan]
    summary = {
        "demo": "echo_stream six-scene demo", "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "model": model_info, "width": width, "height": height, "seed": opts.seed, "memory": "echo_forcing",
        "script": describe(opts.seconds_per_scene(), blocks_per_scene), "timeline": session.timeline(),
        "blocks": result.blocks_done, "latent_shape": list(latents.shape), "latent_frames": latents.shape[2],
        "pixel_frames": pixel_frames, "pool_bytes_cpu": session.memory.pool_nbytes(),
        **log.summary(wall, pixel_frames),
        "preview_temporal_structure": toy.temporal_structure(preview_frames(latents[0], factors)),
    }
    if _is_toy(opts):
        summary["read_back"] = toy.read_back(latents[0], blocks_per_scene, log.similarity_recalls,
                                             session.spec.frames_per_block)
    summary["files"] = dict(FILES)
    _write(out, summary, latents, log, model, session, factors)
    return summary


def _write(out: Path, summary: dict, latents: torch.Tensor, log: BlockLog, model, session: Session, factors) -> None:
    files = {k: out / name for k, name in FILES.items()}
    save_latent(latents, files["latent"], {"timeline": summary["timeline"], "width": summary["width"],
                                           "height": summary["height"]})
    write_preview(latents[0], log.captions, files["preview"], fps=log.fps, factors=factors)
    cache = summary["cache_bytes"] / 2**20
    draw_memory_chart(
        log.rows, summary["timeline"], files["chart"], title="Echo-Forcing scene memory, six-scene demo",
        subtitle=f"{summary['model']['source']}, dim {model.config.dim}, {model.config.num_layers} layers, "
                 f"{summary['width']}x{summary['height']}, {summary['blocks']} blocks; scene cache {cache:.2f} MiB"
                 f"{', the same at every block' if summary['cache_bytes_constant'] else ' at most'}",
        frame_tokens=session.memory.geometry.frame_tokens)
    tmp = files["summary"].with_name(FILES["summary"] + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(files["summary"])
