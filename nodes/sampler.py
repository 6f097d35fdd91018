"""Streaming Sampler: runs a scene script block by block with scene memory, continuing sessions."""
from __future__ import annotations

import logging
import os
import uuid

import torch

from ..engine.errors import EchoError
from ..runtime.events import BLOCK_EVENT, RUN_EVENT, RunEvents
from ..runtime.latent_file import save_latent
from ..runtime.memory_choice import MemoryChoice
from ..runtime.preview import latent_to_rgb, save_animation, to_images
from ..runtime.script import FPS, PIXEL_FRAMES_PER_LATENT, SceneScript
from ..runtime.registry import SESSIONS
from ..runtime.session import Session, SessionSpec, estimate_cache_bytes
from . import comfy
from .files import plural, safe_name
from .session_memory import watch_sessions
from .types import CATEGORY, ECHO_MODEL, MEMORY_CONFIG, SCENE_MEMORY, SCENE_SCRIPT, EchoModel, SceneMemoryHandle

log = logging.getLogger("echo_stream")
MAX_ANIMATION_FRAMES = 1200  # latent frames in the node's own animated preview (older ones are thinned)


def parse_steps(text: str) -> tuple[float, ...]:
    try:
        steps = tuple(float(s) for s in str(text).replace(";", ",").split(",") if s.strip())
    except ValueError:
        raise EchoError(f"steps must be numbers separated by commas, like '1000, 750, 500, 250'; got {text!r}") from None
    if not steps:
        raise EchoError("the step list is empty; give timesteps like '1000, 750, 500, 250'")
    return steps


class EchoStreamingSampler:
    DESCRIPTION = ("Generates the scene script block by block with a causal Wan model and the scene memory, "
                   "showing each new block as it is made. mode 'new' starts the named session; 'continue' "
                   "extends it, so pressing Queue again continues the same video with its memory. Interrupting "
                   "keeps what was generated: the session can be continued, and the partial latents are saved "
                   "to output/echo_stream.")
    CATEGORY = CATEGORY
    FUNCTION = "sample"
    OUTPUT_NODE = True  # it shows an animated preview of the run
    RETURN_TYPES = ("LATENT", SCENE_MEMORY)
    RETURN_NAMES = ("latent", "scene_memory")
    OUTPUT_TOOLTIPS = ("This run's video latents [B, 16, T, H/8, W/8], for VAE Decode.",
                       "The session (scene memory, RNG, timeline), for Save Scene Memory.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (ECHO_MODEL, {"tooltip": "From Load Causal Video Model or Causal Model From MODEL."}),
            "script": (SCENE_SCRIPT, {"tooltip": "The scenes to generate in this run."}),
            "width": ("INT", {"default": 832, "min": 16, "max": 4096, "step": 16,
                              "tooltip": "Video width in pixels (a multiple of 16). Continue: must match the session."}),
            "height": ("INT", {"default": 480, "min": 16, "max": 4096, "step": 16,
                               "tooltip": "Video height in pixels (a multiple of 16). Continue: must match the session."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": "fixed",
                             "tooltip": "Noise seed of a new session; a continued session goes on with its own."}),
            "steps": ("STRING", {"default": "1000, 750, 500, 250",
                                 "tooltip": "Denoising timesteps per block (Self-Forcing's list; warped with shift 5)."}),
            "session": ("STRING", {"default": "default",
                                   "tooltip": "Name of the session; several can live side by side."}),
            "mode": (["new", "continue"], {"default": "new",
                                           "tooltip": "new: start (or restart) the session. continue: extend it "
                                                      "with this script (starting it if it does not exist yet); "
                                                      "never served from ComfyUI's cache."}),
        }, "optional": {
            "memory": (MEMORY_CONFIG, {"tooltip": "Scene Memory Settings; default echo_forcing. Ignored when continuing."}),
            "scene_memory": (SCENE_MEMORY, {"tooltip": "Continue this session (e.g. from Load Scene Memory); "
                                                       "overrides session and mode."}),
        }, "hidden": {"unique_id": "UNIQUE_ID"}}

    @classmethod
    def IS_CHANGED(cls, mode="new", scene_memory=None, **_):
        # a continuation must run every time Queue is pressed, even with identical inputs
        return float("nan") if mode == "continue" or scene_memory is not None else "new"

    def sample(self, model: EchoModel, script: SceneScript, width, height, seed, steps, session, mode,
               memory: MemoryChoice | None = None, scene_memory: SceneMemoryHandle | None = None, unique_id=None):
        if not isinstance(script, SceneScript):
            raise EchoError("script must come from Scene Start (or another scene script node)")
        watch_sessions()
        name = (session or "").strip() or "default"
        if scene_memory is not None:
            SESSIONS.check(scene_memory.session, scene_memory.session_id, scene_memory.blocks, "Streaming Sampler")
            name, mode = scene_memory.session, "continue"
        if mode == "continue" and SESSIONS.peek(name) is None and scene_memory is None:
            log.info("echo_stream: no session %r yet; starting it", name)  # the first Queue of a loop
            mode = "new"
        continued = mode == "continue"
        if continued:
            current = SESSIONS.peek(name) or SESSIONS.require(name)  # a parked one comes back after reserve
            if (current.spec.width, current.spec.height) != (width, height):
                raise EchoError(f"session {name!r} is {current.spec.width}x{current.spec.height}; set width and "
                                f"height to match it, or start a new session")
            if current.spec.frames_per_block != model.frames_per_block:
                raise EchoError(f"session {name!r} uses {current.spec.frames_per_block} frames per block, the "
                                f"model {model.frames_per_block}; start a new session")
            spec = current.spec
        else:
            spec = SessionSpec(width, height, int(seed), 1, model.frames_per_block, parse_steps(steps),
                               memory=memory or MemoryChoice())
            SESSIONS.drop(name)  # free the old cache before the new one is allocated
        cache_bytes = estimate_cache_bytes(model.causal, spec)
        with SESSIONS.busy(name):  # never parked by the room ComfyUI makes for it, nor while it runs
            comfy.reserve(cache_bytes, model.causal.device, model.patcher)
            if continued:
                current = SESSIONS.require(name, model.causal, model.name)
            else:
                current = SESSIONS.put(Session(name, model.causal, spec, model.name))
            return self._run(current, script, continued, unique_id)

    def _run(self, session: Session, script: SceneScript, continued: bool, node_id):
        plan = session.plan(script)
        total = sum(p.blocks for p in plan)
        factors = comfy.wan_rgb_factors()
        events = RunEvents(session, node_id if node_id is not None else "", continued=continued, run_blocks=total,
                           planned_scenes=session.planned_timeline(plan), rgb_factors=factors)
        comfy.send_event(RUN_EVENT, events.run_event("start"))
        progress = comfy.progress_bar(total, node_id)
        stop: list[BaseException] = []

        def on_block(report):
            comfy.send_event(BLOCK_EVENT, lambda: events.block_event(report))
            if progress is not None:
                frame = latent_to_rgb(report.latents[0, :, -1:], *(factors or (None, None)))
                image = to_images(frame, max_width=512)[0]
                try:  # ComfyUI's progress hook is also its interrupt check; keep the blocks made so far
                    progress.update_absolute(report.run_block + 1, total, ("JPEG", image, 512))
                except BaseException as err:  # noqa: BLE001 - re-raised after the partial output is saved
                    if not (isinstance(err, Exception) or comfy.is_interrupt(err)):
                        raise  # KeyboardInterrupt, SystemExit: not ours to hold back
                    stop.append(err)

        try:
            result = session.run(script, plan=plan, on_block=on_block,
                                 should_stop=lambda: bool(stop) or comfy.interrupted())
        except BaseException as err:  # Cancel is a BaseException since ComfyUI 0.20; all are re-raised
            if comfy.is_interrupt(err):
                self._keep_partial(session, events, "interrupted")
            else:
                self._keep_partial(session, events, "error", str(err) or type(err).__name__)
            raise
        if result.interrupted:
            self._keep_partial(session, events, "interrupted")
            if stop:
                raise stop[0]
            comfy.raise_if_interrupted()
        comfy.send_event(RUN_EVENT, events.run_event("end", result))
        ui = self._animation(session, result.latents, factors)
        handle = SceneMemoryHandle(session.name, session.blocks_done, session.id)
        return {"ui": ui, "result": ({"samples": comfy.to_vae_latents(result.latents)}, handle)}

    def _keep_partial(self, session: Session, events: RunEvents, phase: str, message: str | None = None) -> None:
        """Tell the widget the run ended early and save its latents; never masks the error being raised."""
        try:
            self._save_partial(session, events, phase, message)
        except Exception:  # noqa: BLE001 - the run's own error (or Cancel) is what the caller raises next
            log.exception("echo_stream: could not keep the partial run %s of session %r", events.run, session.name)

    def _save_partial(self, session: Session, events: RunEvents, phase: str, message: str | None) -> None:
        latents = session.run_latents()
        comfy.send_event(RUN_EVENT, events.run_event(phase, message=message))
        if latents.shape[2] == 0:
            return
        folder = os.path.join(comfy.output_directory(), "echo_stream")
        path = os.path.join(folder, f"{safe_name(session.name)}_{phase}_{events.run}.latent")
        save_latent(comfy.to_vae_latents(latents), path, {"session": session.name, "first_block": events.first_block})
        blocks = plural(latents.shape[2] // session.spec.frames_per_block, "block")
        log.warning("echo_stream: run %s of session %r stopped (%s) after %s; its latents are in %s",
                    events.run, session.name, phase, blocks, path)

    def _animation(self, session: Session, latents: torch.Tensor, factors) -> dict:
        """An animated WEBP of this run's latents in ComfyUI's temp folder, shown on the node."""
        frames = latents[0]
        if frames.shape[1] == 0:
            return {}
        stride = max(1, -(-frames.shape[1] // MAX_ANIMATION_FRAMES))
        images = to_images(latent_to_rgb(frames[:, ::stride], *(factors or (None, None))), max_width=256)
        folder = comfy.temp_directory()
        os.makedirs(folder, exist_ok=True)
        filename = f"echo_stream_{safe_name(session.name)}_{uuid.uuid4().hex[:8]}.webp"
        tmp = os.path.join(folder, filename + ".tmp")
        save_animation(images, tmp, fps=FPS / PIXEL_FRAMES_PER_LATENT / stride)
        os.replace(tmp, os.path.join(folder, filename))
        return {"images": [{"filename": filename, "subfolder": "", "type": "temp"}], "animated": [True]}
