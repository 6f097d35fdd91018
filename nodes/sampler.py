"""Streaming Sampler: runs a scene script block by block with scene memory, continuing sessions."""
from __future__ import annotations

import logging
import os
import time
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
from ..runtime.steps import parse_steps
from . import comfy
from .files import plural, safe_name
from .live_mode import LIVE_INPUTS, live_runner
from .session_memory import watch_sessions
from .stream_video import VaeDecoding
from .types import CATEGORY, ECHO_MODEL, MEMORY_CONFIG, SCENE_MEMORY, SCENE_SCRIPT, EchoModel, SceneMemoryHandle

log = logging.getLogger("echo_stream")
MAX_ANIMATION_FRAMES = 1200  # latent frames in the node's own animated preview (older ones are thinned)


class EchoStreamingSampler:
    DESCRIPTION = ("Generates the scene script block by block with a causal Wan model and the scene memory, "
                   "showing each new block as it is made. mode 'new' starts the named session; 'continue' "
                   "extends it, so pressing Queue again continues the same video with its memory. Interrupting "
                   "keeps what was generated: the session can be continued, and the partial latents are saved "
                   "to output/echo_stream.")
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["long video", "infinite video", "streaming video", "autoregressive sampler", "interactive video"]
    FUNCTION = "sample"
    OUTPUT_NODE = True  # it shows an animated preview of the run
    RETURN_TYPES = ("LATENT", SCENE_MEMORY, "STRING", "VIDEO")
    RETURN_NAMES = ("latent", "scene_memory", "video_path", "video")
    OUTPUT_TOOLTIPS = ("This run's video latents [B, 16, T, H/8, W/8], for VAE Decode.",
                       "The session (scene memory, RNG, timeline), for Save Scene Memory.",
                       "With a vae connected: the session's video file (output/echo_stream), all runs so far.",
                       "With a vae connected: the session's video so far, for Save Video and other video nodes.")

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
            "first_block_steps": ("STRING", {"default": "", "tooltip": "Timesteps of a new session's first block; "
                                             "empty = the same as steps. Causal Forcing++'s 2- and 1-step frame-wise "
                                             "models want '1000, 750, 500, 250' here."}),
            **LIVE_INPUTS,
            "vae": ("VAE", {"tooltip": "The Wan 2.1 VAE: blocks are decoded as they are made and appended to one "
                                       "video per session in output/echo_stream (seamless across runs); the "
                                       "live preview then shows decoded frames."}),
            "decode_every": ("INT", {"default": 1, "min": 0, "max": 10000,
                                     "tooltip": "With a vae: decode every N blocks (1: each block as it is made; "
                                                "0: only when the run ends)."}),
        }, "hidden": {"unique_id": "UNIQUE_ID"}}

    @classmethod
    def IS_CHANGED(cls, mode="new", scene_memory=None, live=False, **_):
        # a continuation or a live run must run every time Queue is pressed, even with identical inputs
        return float("nan") if mode == "continue" or scene_memory is not None or live else "new"

    def sample(self, model: EchoModel, script: SceneScript, width, height, seed, steps, session, mode,
               memory: MemoryChoice | None = None, scene_memory: SceneMemoryHandle | None = None, unique_id=None,
               first_block_steps="", vae=None, decode_every: int = 1, **live):
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
            first = parse_steps(first_block_steps) if str(first_block_steps or "").strip() else None
            spec = SessionSpec(width, height, int(seed), 1, model.frames_per_block, parse_steps(steps),
                               memory=memory or MemoryChoice(), first_steps=first)
            SESSIONS.drop(name)  # free the old cache before the new one is allocated
        cache_bytes = estimate_cache_bytes(model.causal, spec)
        with SESSIONS.busy(name):  # never parked by the room ComfyUI makes for it, nor while it runs
            comfy.reserve(cache_bytes, model.causal.device, model.patcher)
            if continued:
                current = SESSIONS.require(name, model.causal, model.name)
            else:
                current = SESSIONS.put(Session(name, model.causal, spec, model.name))
            decoding = VaeDecoding(vae, current, decode_every, continued, model.patcher) if vae is not None else None
            if decoding is None and continued and current.video_decode is not None:
                log.warning("echo_stream: session %r has a video but no vae is connected; this run's blocks will be "
                            "missing from it (connect the VAE to keep the video whole)", current.name)
            return self._run(current, script, continued, unique_id, decoding, model.rgb_factors, live)

    def _run(self, session: Session, script: SceneScript, continued: bool, node_id, decoding=None,
             model_factors=None, live: dict | None = None):
        plan = session.plan(script)
        runner = live_runner(session, script, node_id, decoding, **(live or {}))  # None: not a live run
        total = runner.max_blocks if runner is not None else sum(p.blocks for p in plan)
        factors = model_factors or comfy.wan_rgb_factors()  # a toy-world model brings its own renderer
        events = RunEvents(session, node_id if node_id is not None else "", continued=continued, run_blocks=total,
                           planned_scenes=session.planned_timeline(plan), rgb_factors=factors)
        comfy.send_event(RUN_EVENT, events.run_event("start"))
        progress = comfy.progress_bar(total, node_id)
        stop: list[BaseException] = []

        def on_block(report):
            decoded = decoding.add_block(report.latents) if decoding is not None else None
            if decoded is not None:  # the block's own frames are the last ones decoded
                decoded = decoded[-report.latents.shape[2]:]
            comfy.send_event(BLOCK_EVENT, lambda: events.block_event(report, decoded))
            if progress is not None:
                if decoded is not None:
                    frame = (decoded[-1:].clamp(0, 1) * 255).round().to(torch.uint8)
                else:
                    frame = latent_to_rgb(report.latents[0, :, -1:], *(factors or (None, None)))
                image = to_images(frame, max_width=512)[0]
                try:  # ComfyUI's progress hook is also its interrupt check; keep the blocks made so far
                    progress.update_absolute(report.run_block + 1, total, ("JPEG", image, 512))
                except BaseException as err:  # noqa: BLE001 - re-raised after the partial output is saved
                    if not (isinstance(err, Exception) or comfy.is_interrupt(err)):
                        raise  # KeyboardInterrupt, SystemExit: not ours to hold back
                    stop.append(err)

        def should_stop():
            return bool(stop) or comfy.interrupted()

        started = time.perf_counter()
        try:
            if runner is not None:
                result = runner.run(on_block, should_stop)
            else:
                result = session.run(script, plan=plan, on_block=on_block, should_stop=should_stop)
        except BaseException as err:  # Cancel is a BaseException since ComfyUI 0.20; all are re-raised
            self._finish_video(decoding)  # the video keeps every finished block
            if comfy.is_interrupt(err):
                self._keep_partial(session, events, "interrupted")
            else:
                self._keep_partial(session, events, "error", str(err) or type(err).__name__)
            raise
        self._finish_video(decoding, session.name, result.blocks_done, time.perf_counter() - started)
        if result.interrupted:
            self._keep_partial(session, events, "interrupted")
            if stop:
                raise stop[0]
            comfy.raise_if_interrupted()
        comfy.send_event(RUN_EVENT, events.run_event("end", result))
        ui = self._animation(session, result.latents, factors)
        handle = SceneMemoryHandle(session.name, session.blocks_done, session.id)
        video_path, video = decoding.outputs() if decoding is not None else ("", None)
        return {"ui": ui, "result": ({"samples": comfy.to_vae_latents(result.latents)}, handle, video_path, video)}

    @staticmethod
    def _finish_video(decoding, name: str = "", blocks: int = 0, elapsed: float = 0.0) -> None:
        """Decode what is queued and finish the file, also after Cancel or an error (nothing is lost)."""
        if decoding is None:
            return
        try:
            decoding.finish()
        except Exception:  # noqa: BLE001 - the run's own outcome matters more; the blocks stay queued
            log.exception("echo_stream: writing the session video failed; its blocks stay queued in the session")
            return
        if blocks:
            seconds = decoding.decode.decode_seconds
            log.info("echo_stream: session %r: decoding %s into %s took %.2f s (%.0f%% of the run)",
                     name, plural(blocks, "block"), decoding.path, seconds, 100 * seconds / max(elapsed, 1e-9))

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
