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
from ..runtime.prompt_files import read_prompt_file
from ..runtime.session import Session, SessionSpec
from . import model as models
from .chart import draw_memory_chart
from . import toy
from .preview import preview_frames, write_preview
from .progress import ProgressBar
from .record import BlockLog
from .prompts import NAMES, check_prompt_width, load_prompts, synthetic_prompts, synthetic_text_prompts
from .script import SCENES, demo_script, describe, file_scenes

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
    fps: float = FPS / VAE_TEMPORAL_STRIDE  # latent frames per second of video: real time
    quiet: bool = False
    num_heads: int | None = None  # of the checkpoint, where dim // 128 does not give it
    frames_per_block: int = 3  # 1 for frame-wise models (Causal Forcing frame-wise, CF++)
    steps: tuple[float, ...] = (1000, 750, 500, 250)
    first_steps: tuple[float, ...] | None = None  # the first block's own steps; None = steps
    non_ema: bool = False  # the checkpoint's training weights (Causal Forcing chunk-wise)
    script: str | None = None  # a prompt file (.jsonl interactive benchmark or timeline .txt) instead of A-E
    script_index: int = 0
    switch_frames: tuple[int, ...] = ()
    total_frames: int | None = None

    def __post_init__(self):
        for flag, value in (("--seconds", self.seconds), ("--width", self.width), ("--height", self.height),
                            ("--num-heads", self.num_heads)):
            if value is not None and not value > 0:
                raise EchoError(f"{flag} must be more than 0 (got {value:g}); leave it out for the default")
        if self.num_heads is not None and not self.checkpoint:
            raise EchoError("--num-heads needs --checkpoint: the built-in random model knows its own heads")
        if self.non_ema and not self.checkpoint:
            raise EchoError("--non-ema needs --checkpoint: the built-in random model has one set of weights")
        if self.frames_per_block < 1:
            raise EchoError(f"--frames-per-block must be at least 1 (got {self.frames_per_block})")

    def size(self) -> tuple[int, int]:
        if self.checkpoint:
            default = (832, 480)
        elif self.random_model:
            default = (64, 48) if self.short else (160, 96)
        else:
            default = toy.PIXELS
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


def _scenes(opts: DemoOptions):
    """(scenes, {prompt key: text} or None, prompt file description or None)."""
    if not opts.script:
        return SCENES, None, None
    try:
        text = Path(opts.script).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise EchoError(f"--script {opts.script}: cannot be read as UTF-8 text ({err})") from None
    try:
        chosen = read_prompt_file(text, index=opts.script_index, switch_frames=opts.switch_frames,
                                  total_frames=opts.total_frames, default_seconds=opts.seconds_per_scene())
    except EchoError as err:
        raise EchoError(f"--script {opts.script}: {err}") from None
    scenes, texts = file_scenes(chosen.scenes)
    info = {"path": str(opts.script), "format": chosen.format, "index": chosen.index, "scripts": chosen.count,
            "prompts": texts}
    return scenes, texts, info


def _load(opts: DemoOptions, device: torch.device, texts: dict | None = None):
    """(model, prompt embeddings, description of where both came from)."""
    if opts.checkpoint and opts.random_model:
        raise EchoError("--random-model and --checkpoint exclude each other; give one of them (or neither, for "
                        "the bundled toy-world model)")
    if opts.prompts and not opts.checkpoint:
        raise EchoError("--prompts needs --checkpoint: the toy-world and random models take their own prompt "
                        "embeddings, not umT5 ones")
    if texts is not None and _is_toy(opts):
        raise EchoError("--script needs --checkpoint or --random-model: the bundled toy-world model knows only its "
                        "8 categories, not prompt texts")
    names = tuple(texts) if texts is not None else NAMES
    given = load_prompts(opts.prompts, names=names) if opts.prompts else None  # checked before a large checkpoint loads
    if opts.checkpoint:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = models.checkpoint_model(opts.checkpoint, device, dtype, num_heads=opts.num_heads,
                                        prefer_ema=not opts.non_ema)
        source = {"source": "checkpoint", "path": str(opts.checkpoint), "weights": "generator" if opts.non_ema else "ema"}
    elif opts.random_model:
        model = models.random_model(opts.short, device, torch.float32)
        source = {"source": "random weights", "seed": models.SEED}
    else:
        model = models.toy_model(device, torch.float32)
        source = {"source": "toy world model (bundled)", "path": "toyworld/model/toyworld_wan.safetensors",
                  "prompts": "toy categories " + ", ".join(f"{k}={v}" for k, v in toy.CATEGORY_OF.items())}
        return model, toy.toy_prompts(), {**source, **models.describe(model)}
    text_dim = model.config.text_dim
    if given is not None:
        check_prompt_width(given, text_dim, opts.prompts)
    if given is not None:
        prompts = given
    else:
        prompts = synthetic_text_prompts(texts, text_dim) if texts is not None else synthetic_prompts(text_dim)
    source["prompts"] = str(opts.prompts) if opts.prompts else (
        "synthetic (one fixed embedding per prompt text)" if texts is not None else "synthetic (fixed seed)")
    return model, prompts, {**source, **models.describe(model)}


def _is_toy(opts: DemoOptions) -> bool:
    return not opts.checkpoint and not opts.random_model


def run_demo(opts: DemoOptions) -> dict:
    device = _device(opts.device)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = opts.size()
    scenes, texts, prompt_file = _scenes(opts)  # a bad prompt file is named before the model loads
    model, prompts, model_info = _load(opts, device, texts)
    spec = SessionSpec(width, height, seed=opts.seed, frames_per_block=opts.frames_per_block, steps=tuple(opts.steps),
                       memory=MemoryChoice("echo_forcing"), first_steps=opts.first_steps)
    session = Session("demo", model, spec)
    script = demo_script(prompts, opts.seconds_per_scene(), scenes)
    plan = session.plan(script)
    log = BlockLog(session, prompts, opts.fps, scenes)
    bar = None if opts.quiet else ProgressBar(sum(p.blocks for p in plan))

    def on_block(report):
        log.on_block(report)
        if bar:
            s = report.scene
            bar.update(report.run_block + 1, f"scene {s.index + 1}/{len(scenes)} {s.label} ({s.transition})")

    started = time.perf_counter()
    with torch.no_grad():
        result = session.run(script, on_block=on_block, plan=plan)
    wall = time.perf_counter() - started
    if bar:
        bar.close()
    latents = result.latents
    frames = pixel_frames(latents.shape[2])  # what the Wan VAE decodes them to
    factors = toy.preview_factors() if _is_toy(opts) else None
    blocks_per_scene = [p.blocks for p in plan]
    summary = {
        "demo": "echo_stream six-scene demo" if prompt_file is None else "echo_stream prompt file script",
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "model": model_info, "width": width, "height": height, "seed": opts.seed, "memory": "echo_forcing",
        "frames_per_block": spec.frames_per_block, "steps": list(spec.steps),
        "first_steps": list(spec.first_steps) if spec.first_steps is not None else None,
        **({"prompt_file": prompt_file} if prompt_file is not None else {}),
        "script": describe(opts.seconds_per_scene(), blocks_per_scene, scenes), "timeline": session.timeline(),
        "blocks": result.blocks_done, "latent_shape": list(latents.shape), "latent_frames": latents.shape[2],
        "pixel_frames": frames, "pool_bytes_cpu": session.memory.pool_nbytes(),
        **log.summary(wall, frames),
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
        log.rows, summary["timeline"], files["chart"], title=_chart_title(summary),
        subtitle=f"{summary['model']['source']}, dim {model.config.dim}, {model.config.num_layers} layers, "
                 f"{summary['width']}x{summary['height']}, {summary['blocks']} blocks; scene cache {cache:.2f} MiB"
                 f"{', the same at every block' if summary['cache_bytes_constant'] else ' at most'}",
        frame_tokens=session.memory.geometry.frame_tokens)
    tmp = files["summary"].with_name(FILES["summary"] + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(files["summary"])


def _chart_title(summary: dict) -> str:
    source = summary.get("prompt_file")
    if source is None:
        return "Echo-Forcing scene memory, six-scene demo"
    return f"Echo-Forcing scene memory, {Path(source['path']).name} script {source['index']}"
