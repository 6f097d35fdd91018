"""One video file per session, appended as blocks are decoded, playable at every moment.

Container: fragmented MP4 (H.264 via PyAV, the encoder ComfyUI ships). `empty_moov` writes the header
first and `frag_every_frame` writes each frame as its own fragment, with the I/O flushed after every
packet, so a killed process leaves a file that plays up to the frame before the last one muxed (the
muxer holds one frame until the next arrives; `close()` on Cancel or at the end writes it too). The
encoder runs with `tune=zerolatency` (no lookahead, no B-frames), so nothing else waits in memory:
frames never pile up in RAM with the video's length.

Appending across runs: in one process the session keeps its `SessionVideo` open between queue runs
(one encoder, one stream, no seam). A session continued in a new process (after a restart or a load)
reopens the file: the old file is moved aside to `<name>.previous`, its packets are copied without
re-encoding into a new file at the same path (the same encoder settings give the same H.264 headers;
if they differ the frames are re-encoded instead), and new frames follow. If the process dies during
that copy, the next reopen starts again from `<name>.previous`, which is removed only after the copy.
"""
from __future__ import annotations

import os
import pathlib
from fractions import Fraction

import numpy as np
import torch

from ..engine.errors import EchoError

MOVFLAGS = "frag_every_frame+empty_moov+default_base_moof"
ENCODER_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "crf": "20"}


class VideoSinkError(EchoError):
    """The session video cannot be written (PyAV missing, frame size changed, unreadable file)."""


def _av():
    try:
        import av
    except ImportError:
        raise VideoSinkError("writing the session video needs PyAV (`pip install av`; ComfyUI's requirements "
                             "include it). Without it, take the LATENT output to core's VAE Decode.") from None
    return av


def to_uint8_frames(frames) -> np.ndarray:
    """[n, H, W, 3] floats in [0, 1] (ComfyUI IMAGE) or uint8 -> a contiguous uint8 array."""
    if isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8:
            frames = (frames.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
        frames = frames.cpu().numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoSinkError(f"video frames must be [n, H, W, 3] (uint8, or floats in [0, 1]); got "
                             f"{frames.shape} {frames.dtype}")
    return np.ascontiguousarray(frames)


def decoded_to_images(pixels: torch.Tensor) -> torch.Tensor:
    """A streaming decoder's [1, 3, n, H, W] pixels in [-1, 1] -> [n, H, W, 3] in [0, 1] (ComfyUI IMAGE)."""
    if pixels.ndim != 5 or pixels.shape[0] != 1 or pixels.shape[1] != 3:
        raise VideoSinkError(f"expected decoded pixels [1, 3, n, H, W], got {tuple(pixels.shape)}: "
                             "a session video holds one video (batch size 1)")
    return ((pixels[0].float().clamp(-1, 1) + 1) / 2).permute(1, 2, 3, 0)


def count_frames(path: str | os.PathLike) -> int:
    """Frames a player can decode from the file (reads it to the end; a cut-off tail is not counted)."""
    av = _av()
    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except av.error.FFmpegError:
        pass  # a file cut off by a kill ends in a partial fragment: the frames before it still count
    return count


def _parameter_sets(extradata: bytes | None) -> set[bytes]:
    """The H.264 SPS/PPS units in an encoder's Annex-B headers or a demuxer's avcC box (SEI ignored)."""
    data = bytes(extradata or b"")
    units: list[bytes] = []
    if data[:1] == b"\x01" and len(data) > 6:  # avcC: counted, length-prefixed SPS then PPS
        pos, count = 6, data[5] & 0x1F
        for group in range(2):
            if group == 1:
                count, pos = data[pos], pos + 1
            for _ in range(count):
                size = int.from_bytes(data[pos:pos + 2], "big")
                units.append(data[pos + 2:pos + 2 + size])
                pos += 2 + size
    else:  # Annex B: start-code separated
        units = [u.lstrip(b"\x00") for u in data.replace(b"\x00\x00\x01", b"\x00\x00\x00\x01").split(b"\x00\x00\x00\x01")]
    return {u.rstrip(b"\x00") for u in units if u and u[0] & 0x1F in (7, 8)}


def _annex_b(data: bytes, length_size: int) -> bytes:
    """Length-prefixed NAL units (MP4) -> start-code separated ones (Annex B)."""
    out, pos = bytearray(), 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        out += b"\x00\x00\x00\x01" + data[pos + length_size:pos + length_size + size]
        pos += length_size + size
    return bytes(out)


class SessionVideo:
    """Append-only H.264 fragmented MP4 at `path`. Open it lazily with the first frames' size."""

    def __init__(self, path: str | os.PathLike, fps: int = 16):
        self.path = pathlib.Path(path)
        self.fps = int(fps)
        self.frames_written = 0
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None

    @property
    def is_open(self) -> bool:
        return self._container is not None

    @property
    def previous_path(self) -> pathlib.Path:
        return self.path.with_name(self.path.name + ".previous")

    def append(self, frames) -> int:
        """Encode and write frames ([n, H, W, 3]); returns the file's frame count so far."""
        frames = to_uint8_frames(frames)
        height, width = frames.shape[1:3]
        if not self.is_open:
            self._open(width, height)
        if (width, height) != self._size:
            raise VideoSinkError(f"{self.path.name} is {self._size[0]}x{self._size[1]} but these frames are "
                                 f"{width}x{height}; a session video keeps one size (start a new session to change it)")
        av = _av()
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self.frames_written
            frame.time_base = Fraction(1, self.fps)
            self._container.mux(self._stream.encode(frame))
            self.frames_written += 1
        return self.frames_written

    def close(self) -> None:
        """Drain the encoder and finish the file (Cancel, end of session); a later append reopens it."""
        if not self.is_open:
            return
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
            self._container = self._stream = None

    # -- opening -------------------------------------------------------------------------------

    def _new_container(self, width: int, height: int):
        av = _av()
        if width % 2 or height % 2:
            raise VideoSinkError(f"H.264 (yuv420p) needs an even frame size; got {width}x{height}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"})
        stream = container.add_stream("libx264", rate=self.fps, options=dict(ENCODER_OPTIONS, g=str(2 * self.fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, self.fps)
        container.start_encoding()
        self._container, self._stream, self._size = container, stream, (width, height)
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        previous = self.previous_path
        if self.path.exists() and not previous.exists():
            self._check_existing(self.path, width, height)  # before anything is moved
            os.replace(self.path, previous)  # closed files only: safe on Windows too
        elif previous.exists():
            self._check_existing(previous, width, height)
        self._new_container(width, height)
        if previous.exists():
            try:
                self._copy_from(previous)
            except BaseException:
                self.close()
                raise
            previous.unlink()

    def start_from(self, source: str | os.PathLike, frames: int) -> int:
        """Open this (new) file holding the first `frames` frames of `source`: a branch of that video
        (a rewound live run). Packets are copied as they are when the headers match; returns the count."""
        source = pathlib.Path(source)
        if self.path.exists() or self.is_open:
            raise VideoSinkError(f"{self.path.name} exists already; a branch starts a new file")
        av = _av()
        with av.open(str(source)) as opened:
            context = opened.streams.video[0].codec_context
            width, height = context.width, context.height
        self._new_container(width, height)
        try:
            self._copy_from(source, limit=frames)
        except BaseException:
            self.close()
            raise
        return self.frames_written

    def _check_existing(self, path: pathlib.Path, width: int, height: int) -> None:
        av = _av()
        try:
            with av.open(str(path)) as source:
                context = source.streams.video[0].codec_context
                size = (context.width, context.height)
        except (av.error.FFmpegError, IndexError) as err:
            raise VideoSinkError(f"cannot reopen {path} to append to it ({err}); move it away to start a new "
                                 "video for this session") from None
        if size != (width, height):
            raise VideoSinkError(f"{path.name} holds {size[0]}x{size[1]} video but the session now makes "
                                 f"{width}x{height}; start a new session (or move the old video away) to change the size")

    def _copy_from(self, previous: pathlib.Path, limit: int | None = None) -> None:
        with _av().open(str(previous)) as source:
            old = source.streams.video[0]
            same_headers = (old.codec_context.name == "h264" and _parameter_sets(old.codec_context.extradata)
                            == _parameter_sets(self._stream.codec_context.extradata))
            if same_headers:
                self._copy_packets(source, old, limit)
            else:
                self._reencode(source, limit)

    def _copy_packets(self, source, old, limit: int | None = None) -> None:
        """Copy the old H.264 packets as they are (MP4 stores them length-prefixed; our stream's muxer
        expects the encoder's Annex-B form, so only the NAL framing is rewritten)."""
        av = _av()
        step = Fraction(1, self.fps) / self._stream.time_base
        length_size = (bytes(old.codec_context.extradata)[4] & 3) + 1
        try:
            for packet in source.demux(old):
                if packet.size == 0 or packet.pts is None:
                    continue
                index = round(packet.pts * old.time_base * self.fps)
                if limit is not None and index >= limit:  # no B-frames: the first frames need no later packet
                    continue
                copied = av.Packet(_annex_b(bytes(packet), length_size))
                copied.stream = self._stream
                copied.time_base = self._stream.time_base
                copied.pts = copied.dts = int(index * step)
                copied.is_keyframe = packet.is_keyframe
                self._container.mux(copied)
                self.frames_written = max(self.frames_written, index + 1)
        except av.error.FFmpegError:
            pass  # a tail cut off by a kill: keep what was whole

    def _reencode(self, source, limit: int | None = None) -> None:
        av = _av()
        try:
            for frame in source.decode(video=0):
                if limit is not None and self.frames_written >= limit:
                    break
                self.append(frame.to_ndarray(format="rgb24")[None])
        except av.error.FFmpegError:
            pass
