"""The Streaming Sampler's decode to disk: a connected Wan 2.1 VAE decodes blocks into the session video."""
from __future__ import annotations

import datetime
import logging
import os

from ..engine.errors import EchoError
from ..runtime.session import Session
from ..runtime.stream_decode import SessionDecode
from ..vae import model_to_vae_space
from . import comfy
from .files import safe_name

log = logging.getLogger("echo_stream")
VIDEO_FOLDER = "echo_stream"


def video_folder() -> str:
    return os.path.join(comfy.output_directory(), VIDEO_FOLDER)


def new_video_name(session_name: str) -> str:
    """<session>_<start time>.mp4, never an existing file's name (a new session never appends to an old video)."""
    stem = f"{safe_name(session_name)}_{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    name, n = f"{stem}.mp4", 1
    while os.path.exists(os.path.join(video_folder(), name)) or os.path.exists(os.path.join(video_folder(), name + ".previous")):
        n += 1
        name = f"{stem}_{n}.mp4"
    return name


class VaeDecoding:
    """One run's view of the session's decode: the VAE's module tree and where it computes."""

    def __init__(self, vae, session: Session, every: int, continued: bool, model_patcher=None):
        tree = getattr(vae, "first_stage_model", vae)
        if getattr(vae, "latent_channels", 16) != 16 or not all(hasattr(tree, n) for n in ("conv2", "decoder")) \
                or not hasattr(tree.decoder, "middle"):
            raise EchoError("the vae input must be the Wan 2.1 VAE (wan_2.1_vae.safetensors from Load VAE); "
                            "this one has another architecture (Wan 2.2's VAE decodes 48-channel latents)")
        self.vae, self.tree = vae, tree
        self.dtype = getattr(vae, "vae_dtype", None)
        self.device = getattr(vae, "device", None)
        decode = session.video_decode
        if decode is None or not continued:
            decode = session.video_decode = SessionDecode(new_video_name(session.name), every)
            if continued:
                log.info("echo_stream: session %r had no video yet; its video starts at block %d",
                         session.name, session.blocks_done)
        decode.every = int(every)
        self.decode = decode
        self.path = decode.open_in(video_folder())
        self.decode.decode_seconds = 0.0
        shape = (1, 16, session.spec.frames_per_block, session.streamer.latent_h, session.streamer.latent_w)
        comfy.load_vae_for_decode(vae, shape, keep_loaded=model_patcher)

    def add_block(self, latents):
        """A new block's model-space latents; returns decoded preview frames [k, H, W, 3] or None."""
        return self.decode.add_block(self.tree, model_to_vae_space(latents.float()), self.dtype, self.device)

    def finish(self):
        """Decode what is queued and finish the file (every run ends so; a next run reopens it)."""
        try:
            return self.decode.flush(self.tree, self.dtype, self.device)
        finally:
            self.decode.close()

    def outputs(self):
        if not self.path.exists():
            return "", None
        return str(self.path), comfy.video_from_file(str(self.path))
