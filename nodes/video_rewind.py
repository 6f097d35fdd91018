"""A rewound live run with a session video: the earlier take stays whole in its file, and the session
goes on in a new branch file that starts with the video's frames up to the rewind point."""
from __future__ import annotations

import logging

from ..engine.geometry import pixel_frames
from ..runtime.session import Session
from ..runtime.video_sink import SessionVideo
from .stream_video import VaeDecoding, new_video_name, video_folder

log = logging.getLogger("echo_stream")


def branch_video(decoding: VaeDecoding, session: Session) -> None:
    """After `session` was put back at a rewind point: finish the old file, start the branch."""
    old = decoding.decode
    old_path = old.video_path
    decoding.finish()  # what was queued is decoded into the old file: the earlier take is kept whole
    restored = session.video_decode  # the decode state of the rewind point (its cache rebuilds from the tail)
    if restored is None or old_path is None:
        return
    restored.every, restored.decode_seconds = old.every, 0.0
    restored.video_name = new_video_name(session.name)
    path = restored.open_in(video_folder())
    frames = pixel_frames(restored.latent_frames)
    if frames:
        video = SessionVideo(path, fps=restored.fps)
        video.start_from(old_path, frames)
        restored.video = video
    decoding.decode, decoding.path = restored, path
    log.info("echo_stream: session %r rewound; %s keeps the earlier take, the session goes on in %s (from its "
             "first %d frames)", session.name, old_path.name, path.name, frames)
