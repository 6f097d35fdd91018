"""Attention masks for the whole-sequence reference forward (training-style block causality)."""
from __future__ import annotations

import torch


def block_causal_mask(num_frames: int, frame_tokens: int, frames_per_block: int = 3,
                      window_frames: int | None = None, sink_frames: int = 0) -> torch.Tensor:
    """[N, N] bool, True = may attend. A query sees every frame up to the end of its own block;
    with `window_frames`, only the newest `window_frames - sink_frames` of them plus the first
    `sink_frames` frames (the rolling-window cache's view)."""
    frame = torch.arange(num_frames * frame_tokens) // frame_tokens
    end = (frame // frames_per_block + 1) * frames_per_block  # first frame after the query's block
    q_end, k_frame = end[:, None], frame[None, :]
    allowed = k_frame < q_end
    if window_frames is not None:
        allowed &= (k_frame >= q_end - (window_frames - sink_frames)) | (k_frame < sink_frames)
    return allowed
