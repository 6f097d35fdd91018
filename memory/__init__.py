"""Scene memory policies on the engine's memory interface: Echo-Forcing and its baselines.

Pure torch; never imports ComfyUI.
"""
from .baselines import EchoInfinityRope, InfinityRope, LongLiveRecache
from .config import EchoConfig, ModeSettings
from .echo_forcing import EchoForcingMemory
from .presets import BOUNDED, PRESETS, Preset, make_memory

__all__ = ["EchoConfig", "EchoForcingMemory", "EchoInfinityRope", "InfinityRope", "LongLiveRecache",
           "ModeSettings", "BOUNDED", "PRESETS", "Preset", "make_memory"]
