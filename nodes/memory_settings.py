"""Scene Memory Settings: which KV memory policy the sampler uses, with optional overrides."""
from __future__ import annotations

from ..memory.config import DEFAULT_MODES, KV_STORAGE, EchoConfig
from ..memory.presets import BOUNDED
from ..runtime.memory_choice import MemoryChoice
from .types import CATEGORY, MEMORY_CONFIG

PRESETS = list(BOUNDED)  # the full cache stops after 21 frames: not offered for long videos
DEFAULTS = EchoConfig()


def _frames(default: int, what: str):
    return ("INT", {"default": default, "min": 1, "max": 64, "tooltip": what})


def _rate(default: float, what: str):
    return ("FLOAT", {"default": default, "min": 0.01, "max": 1.0, "step": 0.01, "tooltip": what})


class EchoSceneMemorySettings:
    DESCRIPTION = ("How the sampler keeps its KV cache. echo_forcing is the Echo-Forcing scene memory "
                   "(anchors, drift-gated compressed history, recent window, scene recall, decay of the old "
                   "scene after a switch); the others are the baselines it is compared with. The frame and "
                   "decay settings apply to echo_forcing; window_frames and sink_frames to the others.")
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["echo forcing", "kv cache", "memory budget", "long video memory"]
    FUNCTION = "settings"
    RETURN_TYPES = (MEMORY_CONFIG,)
    RETURN_NAMES = ("memory",)
    OUTPUT_TOOLTIPS = ("Memory settings for the Streaming Sampler.",)

    @classmethod
    def INPUT_TYPES(cls):
        smooth, recall = DEFAULT_MODES["smooth"], DEFAULT_MODES["recall"]
        return {"required": {
            "preset": (PRESETS, {"default": "echo_forcing", "tooltip": "The memory policy."}),
        }, "optional": {
            "anchor_frames": _frames(DEFAULTS.anchor_frames, "echo_forcing: rolling early anchor frames."),
            "compressed_frames": _frames(DEFAULTS.compressed_frames,
                                         "echo_forcing: frames' worth of tokens kept from the older history."),
            "recent_frames": _frames(DEFAULTS.recent_frames, "echo_forcing: newest frames kept whole."),
            "drift_lambda": ("FLOAT", {"default": DEFAULTS.drift_lambda, "min": 0.0, "max": 20.0, "step": 0.1,
                                       "tooltip": "echo_forcing: strength of the drift gate exp(-lambda(1-cos))."}),
            "smooth_decay_min": _rate(smooth.rate_min, "echo_forcing: slowest per-block decay of the old scene "
                                                       "after a smooth switch (1 = no decay)."),
            "smooth_decay_max": _rate(smooth.rate_max, "echo_forcing: fastest-kept rate after a smooth switch."),
            "recall_decay_min": _rate(recall.rate_min, "echo_forcing: decay range after a recall (lower bound)."),
            "recall_decay_max": _rate(recall.rate_max, "echo_forcing: decay range after a recall (upper bound)."),
            "pool_size": ("INT", {"default": DEFAULTS.pool_size, "min": 1, "max": 1024,
                                  "tooltip": "echo_forcing: past scenes kept for recall (oldest forgotten first)."}),
            "kv_storage": (list(KV_STORAGE), {"default": DEFAULTS.kv_storage,
                                              "tooltip": "echo_forcing: how the ring and anchor pool are stored. model = "
                                                         "the model's dtype; fp8_e4m3 = 8-bit floats with a scale per "
                                                         "token and head (about half the cache bytes of bf16, attention "
                                                         "output ~0.5 % away, slower on CPU; see the README)."}),
            "window_frames": ("INT", {"default": 0, "min": 0, "max": 256,
                                      "tooltip": "Baselines: attention window in latent frames; 0 = the preset's "
                                                 "own (21 Self-Forcing, 12 LongLive, 6 infinity-RoPE)."}),
            "sink_frames": ("INT", {"default": -1, "min": -1, "max": 64,
                                    "tooltip": "Baselines: attention-sink frames; -1 = the preset's own."}),
        }}

    def settings(self, preset, anchor_frames=DEFAULTS.anchor_frames, compressed_frames=DEFAULTS.compressed_frames,
                 recent_frames=DEFAULTS.recent_frames, drift_lambda=DEFAULTS.drift_lambda,
                 smooth_decay_min=None, smooth_decay_max=None, recall_decay_min=None, recall_decay_max=None,
                 pool_size=DEFAULTS.pool_size, window_frames=0, sink_frames=-1,
                 kv_storage=DEFAULTS.kv_storage):
        if preset != "echo_forcing":
            options = {}
            if window_frames > 0:
                options["window_frames"] = int(window_frames)
            if sink_frames >= 0:
                options["sink_frames"] = int(sink_frames)
            return (MemoryChoice(preset, options),)
        options = {"anchor_frames": int(anchor_frames), "compressed_frames": int(compressed_frames),
                   "recent_frames": int(recent_frames), "drift_lambda": float(drift_lambda),
                   "pool_size": int(pool_size), "kv_storage": kv_storage}
        options = {k: v for k, v in options.items() if v != getattr(DEFAULTS, k)}
        modes = {}
        for mode, low, high in (("smooth", smooth_decay_min, smooth_decay_max),
                                ("recall", recall_decay_min, recall_decay_max)):
            changes = {k: float(v) for k, v in (("rate_min", low), ("rate_max", high))
                       if v is not None and float(v) != getattr(DEFAULT_MODES[mode], k)}
            if changes:
                modes[mode] = changes
        choice = MemoryChoice("echo_forcing", options, modes)
        choice.build()  # fail here, on this node, for settings that do not fit together
        return (choice,)
