"""Pure-torch causal Wan2.1 engine: model, checkpoint loading, KV memory interface, block stream."""
from .config import WanConfig
from .errors import CheckpointError, EchoError, InputShapeError
from .geometry import cache_geometry, pixel_frames
from .layout import BlockLayout, FrameSource, LayerRecord
from .memory_api import AttentionContext, BlockEvent, CacheGeometry, LayerMemory, MemoryPolicy, Recaching
from .prompts import same_prompt
from .frame_cache import FrameCache, full_cache, rolling_window
from .loader import build_model, load_causal_wan, load_state_dict
from .masks import block_causal_mask
from .modules import WanDiT
from .schedule import FlowSchedule
from .stream import BlockStreamer, StreamSettings, latent_size, stream
from .rope import Rotary, RotaryEmbedding, grid_positions
from .transformer import CausalWan, TextContext

__all__ = [
    "AttentionContext", "BlockEvent", "BlockLayout", "BlockStreamer", "CacheGeometry", "CausalWan",
    "CheckpointError", "EchoError", "FlowSchedule", "FrameCache", "FrameSource", "InputShapeError", "LayerMemory",
    "LayerRecord", "MemoryPolicy", "Recaching", "Rotary", "RotaryEmbedding", "StreamSettings", "TextContext",
    "WanConfig", "WanDiT", "block_causal_mask", "build_model", "cache_geometry", "full_cache", "grid_positions",
    "latent_size", "load_causal_wan", "load_state_dict", "pixel_frames", "rolling_window", "same_prompt", "stream",
]
