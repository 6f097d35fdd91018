"""A session's decode to disk: its VAE decoder cache, the blocks waiting to be decoded, its video file.

Each block's latents (VAE space) are queued; every `every` blocks (0: only when the run ends) the queue
is decoded one latent frame at a time through the session's own causal cache and the frames go to
the session video. A continued session decodes on with no seam. The VAE module tree is not part of
the state: it is handed in at each flush (a core VAE's `first_stage_model`, or our own tree).

What is saved (`state_dict`) is not the cache itself (gigabytes at 832x480: two full-resolution
frames per causal conv) but the last `lookback_latents` decoded latents (~40, a few MB): decoding them
through an empty cache after a load rebuilds exactly the cache a whole-video decode holds there,
because the decoder's causal receptive field is finite (vae/streaming.py). Plus the queued blocks.
"""
from __future__ import annotations

import pathlib
import time

import torch

from ..engine.errors import EchoError
from ..engine.state import require, tensor_or_none
from ..vae import FeatureCache, StreamingDecoder
from ..vae.streaming import lookback_latents
from .video_sink import SessionVideo, decoded_to_images

AT_RUN_END = 0


class SessionDecode:
    """`video_name` is a bare file name; the folder it lives in is given by `open_in` (the caller's
    output folder), so a saved state never carries a path."""

    def __init__(self, video_name: str, every: int = 1, fps: int = 16):
        if not video_name or pathlib.PurePath(video_name).name != video_name or video_name.startswith("."):
            raise EchoError(f"the session video name {video_name!r} must be a plain file name")
        self.video_name, self.every, self.fps = video_name, int(every), fps
        self.video: SessionVideo | None = None
        self.cache = FeatureCache()
        self.pending: list[torch.Tensor] = []  # VAE-space latent blocks [1, 16, t, h, w], CPU
        self.tail: list[torch.Tensor] = []  # the last decoded latents [1, 16, 1, h, w], CPU (what is saved)
        self.rebuild = False  # loaded from a saved state: the cache is rebuilt from `tail` at the next flush
        self.latent_frames = 0  # latents decoded into the video so far
        self.decode_seconds = 0.0  # time spent decoding and writing, reset by the caller per run

    def open_in(self, folder: str | pathlib.Path) -> pathlib.Path:
        """Write the video in `folder` (the file itself opens at the first frames)."""
        path = pathlib.Path(folder) / self.video_name
        if self.video is None or self.video.path != path:
            if self.video is not None:
                self.video.close()
            self.video = SessionVideo(path, fps=self.fps)
        return path

    @property
    def video_path(self) -> pathlib.Path | None:
        return None if self.video is None else self.video.path

    def add_block(self, tree, latents: torch.Tensor, dtype=None, device=None) -> torch.Tensor | None:
        """Queue a block; decode the queue when it holds `every` blocks. Returns what flush returns."""
        self.pending.append(latents.detach().to("cpu", torch.float32))
        if self.every != AT_RUN_END and len(self.pending) >= self.every:
            return self.flush(tree, dtype, device)
        return None

    def flush(self, tree, dtype=None, device=None) -> torch.Tensor | None:
        """Decode and write every queued block. Returns the last pixel frame of each decoded latent
        ([k, H, W, 3] floats in [0, 1], one per latent like the latent previews), or None."""
        if not self.pending:
            return None
        if self.video is None:
            raise EchoError("SessionDecode.open_in(folder) must name the video's folder before decoding")
        started = time.perf_counter()
        keep = lookback_latents(tree)
        if self.rebuild:
            self.cache = FeatureCache()
            for _ in StreamingDecoder(tree, self.cache, dtype=dtype, device=device).decode(torch.cat(self.tail, 2)):
                pass  # the pixels are in the video already; only the cache is wanted
            self.cache.latent_frames, self.rebuild = self.latent_frames, False
        decoder = StreamingDecoder(tree, self.cache, dtype=dtype, device=device)
        previews = []
        while self.pending:
            block = self.pending[0]
            for t, pixels in enumerate(decoder.decode(block)):
                images = decoded_to_images(pixels).cpu()
                self.video.append(images)
                previews.append(images[-1:])
                self.tail = (self.tail + [block[:, :, t:t + 1].clone()])[-keep:]
                self.latent_frames += 1
            self.pending.pop(0)
        self.decode_seconds += time.perf_counter() - started
        return torch.cat(previews)

    def close(self) -> None:
        """Finish the video file (Cancel, error, end of the session); a later block reopens it."""
        if self.video is not None:
            self.video.close()

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Tensors and plain values only (runtime/state_io.py writes it): the video's file name, the
        decode setting, the latent count, the last latents within the receptive field, the queue."""
        return {"video": self.video_name, "every": self.every, "latent_frames": self.latent_frames,
                "tail": torch.cat(self.tail, dim=2) if self.tail else None, "pending": list(self.pending)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "SessionDecode":
        require(state, ("video", "every", "latent_frames", "tail", "pending"), "video decode")
        decode = cls(state["video"], state["every"])
        decode.latent_frames = int(state["latent_frames"])
        tail = tensor_or_none(state["tail"], "cpu")
        if decode.latent_frames and tail is None:
            raise EchoError("the video decode state has decoded latents but no tail to rebuild its cache from")
        decode.tail = [] if tail is None else list(tail.split(1, dim=2))
        decode.pending = [tensor_or_none(block, "cpu") for block in state["pending"]]
        decode.rebuild = bool(decode.tail)
        return decode
