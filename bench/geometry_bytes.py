"""Cache bytes of every policy at the real Wan2.1-1.3B geometry, without allocating them.

The policies are set up on the "meta" device: tensors with shapes and dtypes but no storage, so
`nbytes()` is exact and nothing is allocated. Two checks keep that honest: the frame caches must
equal window x bytes-per-frame (arithmetic), and at a geometry small enough to allocate for real
(1.3B layers and heads, fewer tokens per frame) the process's resident memory must grow by the
bytes the policy reports.
"""
from __future__ import annotations

import torch

import loadpack  # noqa: F401
from echo_stream.engine import CacheGeometry, WanConfig
from echo_stream.engine.geometry import cache_geometry
from echo_stream.memory import PRESETS, make_memory
from procmem import PeakMeter

WAN_1_3B = WanConfig()
WIDTH, HEIGHT = 832, 480  # latent 104 x 60, 52 x 30 = 1560 tokens per frame
FRAME_CACHE_WINDOWS = {p.name: p.window_frames for p in PRESETS.values() if p.window_frames}
POLICIES = tuple(PRESETS)
RELEASED_ECHO_BYTES = 25.2e9  # research notes §7.3: the released Echo-Forcing code at 1.3B, 832x480


def geometry(cfg: WanConfig, grid_h: int, grid_w: int, device="meta", dtype=torch.bfloat16) -> CacheGeometry:
    """A grid of grid_h x grid_w tokens per latent frame (16 pixels per token)."""
    return cache_geometry(cfg, width=16 * grid_w, height=16 * grid_h, dtype=dtype, device=device)


def bytes_per_frame(g: CacheGeometry) -> int:
    """K and V of one latent frame in every layer."""
    return 2 * g.num_layers * g.batch * g.frame_tokens * g.num_heads * g.head_dim * torch.empty(0, dtype=g.dtype).element_size()


# option variants measured beside the presets: the Echo memory's ring and pool in 8 bits
VARIANTS = {"echo_forcing_fp8": ("echo_forcing", {"kv_storage": "fp8_e4m3"})}


def policy_bytes(name: str, g: CacheGeometry) -> int:
    preset, options = VARIANTS.get(name, (name, {}))
    memory = make_memory(preset, **options)  # full_cache defaults to Self-Forcing's 21 frames
    memory.setup(g)
    return memory.nbytes()


def at_wan_1_3b() -> dict:
    g = geometry(WAN_1_3B, HEIGHT // 16, WIDTH // 16)
    per_frame = bytes_per_frame(g)
    out = {"geometry": {"width": WIDTH, "height": HEIGHT, "layers": g.num_layers, "heads": g.num_heads,
                        "head_dim": g.head_dim, "tokens_per_frame": g.frame_tokens, "dtype": "bfloat16"},
           "bytes_per_latent_frame": per_frame, "policies": {}}
    for name in POLICIES + tuple(VARIANTS):
        n = policy_bytes(name, g)
        entry = {"bytes": n, "GB": round(n / 1e9, 3), "GiB": round(n / 2**30, 3),
                 "latent_frames_equivalent": round(n / per_frame, 2)}
        if name in FRAME_CACHE_WINDOWS:
            entry["arithmetic_check"] = n == FRAME_CACHE_WINDOWS[name] * per_frame
        out["policies"][name] = entry
    base = out["policies"]["self_forcing_window"]["bytes"]
    for entry in out["policies"].values():
        entry["ratio_to_rolling_window"] = round(entry["bytes"] / base, 4)
    for name in ("echo_forcing", *VARIANTS):
        echo = out["policies"][name]
        echo["fraction_of_released_code"] = round(echo["bytes"] / RELEASED_ECHO_BYTES, 4)
    out["released_echo_forcing_GB"] = RELEASED_ECHO_BYTES / 1e9
    out["recall_frame_bytes_each"] = per_frame  # one frame of K and V per layer, waiting in the pool (CPU)
    return out


def allocation_check(grid=(4, 4), policies=("self_forcing_window", "echo_forcing")) -> dict:
    """Real CPU allocation at the 1.3B layers/heads and a small frame: RSS growth vs reported bytes."""
    g = geometry(WAN_1_3B, *grid, device="cpu")
    out = {"tokens_per_frame": g.frame_tokens}
    for name in policies:
        meter = PeakMeter(torch.device("cpu"))
        with meter:
            memory = make_memory(name)
            memory.setup(g)
            reported = memory.nbytes()
            del memory
        out[name] = {"reported_bytes": reported, "rss_growth_bytes": meter.peak, "exact": meter.exact,
                     "ratio": round(meter.peak / reported, 3)}
    return out
