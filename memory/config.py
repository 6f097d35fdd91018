"""Settings of the Echo-Forcing scene memory. Defaults reproduce the released code
(research notes §1.4, §3-§6); improvements over it are named options, off by default."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..engine.errors import EchoError
from ..engine.transitions import MODES as TRANSITIONS


KV_STORAGE = ("model", "fp8_e4m3")


@dataclass(frozen=True)
class ModeSettings:
    """What a transition does to the old scene's memory (notes §6.3)."""

    old_recent_frames: int  # previous scene's last frames staged besides its recall frame
    first_block_weight: float  # weight of the staged memory in the new scene's first block
    decay: str  # "diff": per-position rates from the key difference; "fixed": rate_max everywhere
    rate_min: float
    rate_max: float
    clear_after_blocks: int  # staged memory is evicted after this many blocks
    jump: int | None  # RoPE jump of the first block; None = from recall similarity (0..recall_jump_max)
    use_old_memory: bool = True


DEFAULT_MODES = {
    "smooth": ModeSettings(2, 1.0, "diff", 0.80, 0.95, 5, 0),
    "cut": ModeSettings(0, 0.8, "fixed", 1.0, 1.0, 1, 45),
    "recall": ModeSettings(0, 1.0, "diff", 0.55, 0.90, 5, None),
}


@dataclass(frozen=True)
class EchoConfig:
    # Hierarchical temporal memory (frames); window = anchors + compressed + recent + block
    anchor_frames: int = 12
    compressed_frames: int = 3
    recent_frames: int = 3
    # drift-gated phase compression
    future_offsets: tuple[int, ...] = (1, 2, 4, 8, 16)
    drift_lambda: float = 3.0
    use_drift_gate: bool = True
    use_magnitude_compensation: bool = True
    fusion: str = "sum"  # "sum" (mean over offsets and heads) or "max"
    max_reuse: int = 8
    # scene recall frames and the pool
    recall_source_frames: int = 12
    recall_stride: int = 4
    recall_base_weight: float = 0.9
    recall_jump_max: int = 6
    pool_size: int = 64
    pool_device: str = "cpu"  # where recall frames wait; "same" keeps them with the cache
    # transitions
    default_transition: str = "smooth"  # a prompt change without a named transition
    modes: dict = field(default_factory=lambda: dict(DEFAULT_MODES))
    auto_recall_similarity: float = 0.90  # auto: recall a past scene at least this similar ...
    auto_smooth_similarity: float = 0.80  # ... else smooth if the current scene is this similar, else cut
    # named improvements over the released code (off = released behaviour)
    true_spatial_ids: bool = False  # compressed tokens keep their own (h, w) RoPE ids
    decay_as_log_weight: bool = False  # decay adds log(w) to the logits instead of scaling K and V
    per_sample_selection: bool = False  # batch > 1: each sample its own selection and decay rates
    # storage of the ring and anchor pool: "model" (the model's dtype) or "fp8_e4m3" (8-bit, one scale
    # per token and head, dequantised into the work buffer; about half the bytes)
    kv_storage: str = "model"

    def __post_init__(self):
        for name in ("anchor_frames", "compressed_frames", "recent_frames", "pool_size"):
            if getattr(self, name) < 1:
                raise EchoError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.kv_storage not in KV_STORAGE:
            raise EchoError(f"kv_storage must be one of {KV_STORAGE}, got {self.kv_storage!r}")
        if self.fusion not in ("sum", "max"):
            raise EchoError(f"fusion must be 'sum' or 'max', got {self.fusion!r}")
        if not 0 <= self.recall_base_weight <= 1:
            raise EchoError(f"recall_base_weight must lie in [0, 1], got {self.recall_base_weight}")
        missing = [m for m in TRANSITIONS if m not in self.modes]
        if missing:
            raise EchoError(f"modes must define {missing}")
        for name, mode in self.modes.items():
            if not 0 < mode.rate_min <= mode.rate_max <= 1:
                raise EchoError(f"{name}: decay rates need 0 < rate_min <= rate_max <= 1, got "
                                f"{mode.rate_min}..{mode.rate_max}")
        if self.default_transition not in TRANSITIONS:
            raise EchoError(f"default_transition must be one of {TRANSITIONS}")

    def window_frames(self, block_frames: int) -> int:
        return self.anchor_frames + self.compressed_frames + self.recent_frames + block_frames

    def with_mode(self, name: str, **changes) -> "EchoConfig":
        modes = dict(self.modes)
        modes[name] = replace(modes[name], **changes)
        return replace(self, modes=modes)
