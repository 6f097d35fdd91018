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
from ..engine.geometry import FPS, VAE_TEMPORAL_STRIDE, pixel_frames
from ..runtime.session import Session, SessionSpec
from . import model as models
from .chart import draw_memory_chart
from .preview import write_preview
from .progress import ProgressBar
from .record import BlockLog
from .prompts import check_prompt_width, load_prompts, synthetic_prompts
from .script import SCENES, demo_script, describe

FILES = {"preview": "preview.webp", "chart": "memory_chart.png", "latent": "demo.latent", "summary": "summary.json"}


@dataclass(frozen=True)
class DemoOptions:
    out: Path
    short: bool = False
    checkpoint: str | None = None
    prompts: str | None = None
    device: str = "cpu"
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # per scene
    seed: int = 0
    fps: float = FPS / VAE_TEMPORAL_STRIDE  # latent frames per second of video: real time
    quiet: bool = False
    num_heads: int | None = None  # of the checkpoint, where dim // 128 does not give it

    def __post_init__(self):
        for flag, value in (("--seconds", self.seconds), ("--width", self.width), ("--height", self.height),
                            ("--num-heads", self.num_heads)):
            if value is not None and not value > 0:
                raise EchoError(f"{flag} must be more than 0 (got {value:g}); leave it out for the default")
        if self.num_heads is not None and not self.checkpoint:
            raise EchoError("--num-heads needs --checkpoint: the built-in random model knows its own heads")

    def size(self) -> tuple[int, int]:
        default = (832, 480) if self.checkpoint else ((64, 48) if self.short else (160, 96))
        return self.width or default[0], self.height or default[1]

    def seconds_per_scene(self) -> float:
        return self.seconds if self.seconds is not None else (6.0 if self.short else 12.0)


def _device(name: str) -> torch.device:
    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    valid = "cpu" + (f", cuda, cuda:0..cuda:{cuda - 1}" if cuda else " (this torch sees no CUDA device)")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise EchoError(f"--device {name!r} is not a device the demo runs on; valid here: {valid}")
    if device.type == "cuda" and not cuda:
        raise EchoError(f"--device {name} was asked for, but this torch ({torch.__version__}) sees no CUDA device; "
                        f"use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= cuda:
        raise EchoError(f"--device {name}: this machine has {cuda} CUDA device(s); valid here: {valid}")
    return device


def _load(opts: DemoOptions, device: torch.device):
    """(model, prompt embeddings, description of where both came from)."""
    if opts.prompts and not opts.checkpoint:
        raise EchoError("--prompts needs --checkpoint: the built-in random model takes synthetic "
                        f"{models.TEXT_DIM}-dim embeddings, not umT5 ones")
    given = load_prompts(opts.prompts) if opts.prompts else None  # checked before a large checkpoint loads
    if opts.checkpoint:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = models.checkpoint_model(opts.checkpoint, device, dtype, num_heads=opts.num_heads)
        source = {"source": "checkpoint", "path": str(opts.checkpoint)}
    else:
        model = models.random_model(opts.short, device, torch.float32)
        source = {"source": "random weights", "seed": models.SEED}
    text_dim = model.config.text_dim
    if given is not None:
        check_prompt_width(given, text_dim, opts.prompts)
    prompts = given if given is not None else synthetic_prompts(text_dim)
    source["prompts"] = str(opts.prompts) if opts.prompts else "synthetic (fixed seed)"
    return model, prompts, {**source, **models.describe(model)}


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
    frames = pixel_frames(latents.shape[2])  # what the Wan VAE decodes them to
    summary = {
        "demo": "echo_stream six-scene demo", "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "model": model_info, "width": width, "height": height, "seed": opts.seed, "memory": "echo_forcing",
        "script": describe(opts.seconds_per_scene(), [p.blocks for p in plan]), "timeline": session.timeline(),
        "blocks": result.blocks_done, "latent_shape": list(latents.shape), "latent_frames": latents.shape[2],
        "pixel_frames": frames, "pool_bytes_cpu": session.memory.pool_nbytes(),
        **log.summary(wall, frames), "files": dict(FILES),
    }
    _write(out, summary, latents, log, model, session)
    return summary


def _write(out: Path, summary: dict, latents: torch.Tensor, log: BlockLog, model, session: Session) -> None:
    files = {k: out / name for k, name in FILES.items()}
    save_latent(latents, files["latent"], {"timeline": summary["timeline"], "width": summary["width"],
                                           "height": summary["height"]})
    write_preview(latents[0], log.captions, files["preview"], fps=log.fps)
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
