"""The session video: appends across runs and reopenings, and stays playable when the writer dies."""
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from echo_stream.runtime.video_sink import SessionVideo, VideoSinkError, count_frames, decoded_to_images

import av  # noqa: E402  (test extra)

TESTS = pathlib.Path(__file__).parent


def frames(n, seed, size=(48, 64)):
    return np.random.default_rng(seed).integers(0, 255, (n, *size, 3), dtype=np.uint8)


def decoded(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_two_runs_with_the_writer_held_open(tmp_path):
    video = SessionVideo(tmp_path / "s.mp4")
    assert video.append(frames(9, 0)) == 9   # run 1: one block of 9 frames
    assert video.append(frames(12, 1)) == 21  # run 2: the same writer, kept by the session
    video.close()
    assert count_frames(tmp_path / "s.mp4") == 21


def test_reopening_appends_by_copying_the_old_packets(tmp_path):
    path = tmp_path / "s.mp4"
    first = SessionVideo(path)
    first.append(frames(17, 0))
    first.close()
    before = decoded(path)
    second = SessionVideo(path)  # a new process continuing the session
    assert second.append(frames(8, 1)) == 25
    second.close()
    after = decoded(path)
    assert len(after) == 25 == count_frames(path)
    assert all(np.array_equal(a, b) for a, b in zip(before, after[:17]))  # copied, not re-encoded
    assert not second.previous_path.exists()
    with av.open(str(path)) as container:
        times = [f.time for f in container.decode(video=0)]
    assert times == pytest.approx([i / 16 for i in range(25)])  # one timeline, no restart


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    from pack_import import load_pack
    load_pack()
    import numpy as np
    from echo_stream.runtime.video_sink import SessionVideo
    video = SessionVideo({path!r})
    for block in range(3):
        video.append(np.random.default_rng(block).integers(0, 255, (8, 48, 64, 3), dtype=np.uint8))
    os._exit(0)  # killed: no close(), no flush, no atexit
""")


def test_a_killed_writer_leaves_a_playable_file_that_can_be_continued(tmp_path):
    path = tmp_path / "killed.mp4"
    code = KILLED_WRITER.format(tests=str(TESTS), path=str(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    # every frame but the one the muxer holds until the next arrives
    assert count_frames(path) == 3 * 8 - 1
    video = SessionVideo(path)
    assert video.append(frames(5, 9)) == 23 + 5
    video.close()
    assert count_frames(path) == 28


def test_a_copy_interrupted_by_a_kill_restarts_from_the_previous_file(tmp_path):
    path = tmp_path / "s.mp4"
    video = SessionVideo(path)
    video.append(frames(10, 0))
    video.close()
    os.replace(path, video.previous_path)
    path.write_bytes(b"half-written copy")  # what a kill during the copy leaves at the path
    again = SessionVideo(path)
    assert again.append(frames(4, 1)) == 14
    again.close()
    assert count_frames(path) == 14 and not again.previous_path.exists()


def test_bad_frames_have_clear_messages(tmp_path):
    video = SessionVideo(tmp_path / "s.mp4")
    video.append(frames(2, 0))
    with pytest.raises(VideoSinkError, match="keeps one size"):
        video.append(frames(2, 0, size=(32, 64)))
    video.close()
    with pytest.raises(VideoSinkError, match="start a new session"):
        SessionVideo(tmp_path / "s.mp4").append(frames(2, 0, size=(32, 64)))
    with pytest.raises(VideoSinkError, match=r"\[n, H, W, 3\]"):
        SessionVideo(tmp_path / "t.mp4").append(np.zeros((2, 8, 8)))
    with pytest.raises(VideoSinkError, match="even frame size"):
        SessionVideo(tmp_path / "u.mp4").append(frames(1, 0, size=(15, 16)))
    with pytest.raises(VideoSinkError, match="batch size 1"):
        import torch
        decoded_to_images(torch.zeros(2, 3, 1, 8, 8))


def test_missing_pyav_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(VideoSinkError, match="pip install av"):
        SessionVideo(tmp_path / "s.mp4").append(frames(1, 0))


def test_a_refused_reopen_leaves_the_old_video_in_place(tmp_path):
    path = tmp_path / "s.mp4"
    video = SessionVideo(path)
    video.append(frames(6, 0))
    video.close()
    with pytest.raises(VideoSinkError, match="start a new session"):
        SessionVideo(path).append(frames(2, 0, size=(32, 64)))
    assert count_frames(path) == 6 and not video.previous_path.exists()
    path.write_bytes(b"not a video")
    with pytest.raises(VideoSinkError, match="move it away"):
        SessionVideo(path).append(frames(2, 0))
