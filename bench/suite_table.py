"""The suite's short human-readable table (the JSON has everything)."""
from __future__ import annotations

import loadpack  # noqa: F401  (imports echo_stream from this working tree)
from echo_stream.memory import PRESETS

NAMES = {p.name: p.title for p in PRESETS.values()}


def mib(n) -> str:
    return "-" if n is None else f"{n / 2**20:9.2f} MiB"


def ratio(r) -> str:
    return f"{r:8.3f}" if r is not None else f"{'-':>8s}"  # no rolling window in this run


def iqr(spread) -> str:
    return f"{'-':>13s}" if not spread else f"{spread['p25']:.3f}-{spread['p75']:.3f}".rjust(13)


def gb(n) -> str:
    return f"{n / 1e9:7.2f} GB"


def table(result: dict) -> str:
    m = result["model"]
    cuda = any("peak_gpu_bytes" in p for p in result["policies"].values())
    peak = "peak GPU" if cuda else "peak RSS+"  # CUDA: allocator peak incl. weights; CPU: RSS above start
    lines = [f"{result['device']} | dim {m['dim']}, {m['layers']} layers, {m['width']}x{m['height']}, {m['dtype']}, "
             f"random weights | {result['paired_rounds']} paired rounds (full cache {result['full_cache_frames']} frames)",
             f"{'policy':34s} {'ms/block':>9s} {'x window':>8s} {'IQR':>13s} {'x wall':>7s} {'px fps':>8s} {'1st block':>9s} "
             f"{'cache':>13s} {peak:>13s} {'cache @1.3B':>10s}"]
    at = result["wan_1_3b_bytes"]["policies"]
    for name, p in result["policies"].items():
        label = NAMES.get(name, name) + (f" ({result['full_cache_frames']} fr)" if name == "full_cache" else "")
        lines.append(f"{label:34s} {p['per_block_s'] * 1000:9.1f} {ratio(p['ratio_to_rolling_window'])} "
                     f"{iqr(p.get('ratio_spread'))} {ratio(p.get('ratio_wall'))[1:]} "
                     f"{p['pixel_fps']:8.2f} {p['time_to_first_block_s']:8.3f}s {mib(p['cache_bytes'])} "
                     f"{mib(p.get('peak_gpu_bytes', p['peak_bytes_above_start']))} {gb(at[name]['bytes'])}")
    echo = at["echo_forcing"]
    lines.append("cache @1.3B: 832x480 bf16, 30 layers (the full cache at Self-Forcing's 21 frames)")
    lines.append(f"echo_forcing at 1.3B: {echo['GB']} GB = {100 * echo['fraction_of_released_code']:.1f}% of the "
                 f"released code's {result['wan_1_3b_bytes']['released_echo_forcing_GB']} GB")
    fp8 = at.get("echo_forcing_fp8")
    if fp8:
        lines.append(f"echo_forcing with kv_storage=fp8_e4m3 at 1.3B: {fp8['GB']} GB "
                     f"({fp8['ratio_to_rolling_window']:.3f} x the rolling window's "
                     f"{at['self_forcing_window']['GB']} GB)")
    length = result["against_length"]
    rows = length["checkpoints"]
    flat = ", ".join(n for n, ok in length["flat"].items() if ok)
    grown = [n for n, ok in length["flat"].items() if not ok]
    rss = " -> ".join(f"{r['process_rss_bytes'] / 2**20:.0f}" for r in rows)
    lines.append(f"cache bytes at {' / '.join(str(r['minutes']) for r in rows)} min: flat for {flat or 'none'}"
                 + (f"; NOT flat: {', '.join(grown)}" if grown else "")
                 + f"; process RSS {rss} MiB"
                 + f"; full cache would need {gb(length['full_cache_would_need'][-1]['bytes_wan_1_3b']).strip()} "
                   f"at 1.3B after {rows[-1]['minutes']} min")
    wide = result.get("wan_1_3b_width")
    if wide:
        wm, echo = wide["model"], wide["policies"]["echo_forcing"]
        where = "at 1.3B's layer width" if wm["dim"] == 1536 else "wide stage, quick stand-in"
        lines.append(f"{where} (dim {wm['dim']}, {wm['layers']} layers, {wm['width']}x{wm['height']}): "
                     f"echo_forcing {echo['ratio_to_rolling_window']:.3f} x window (IQR "
                     f"{iqr(echo.get('ratio_spread')).strip()}), "
                     f"{echo['per_block_s'] * 1000:.0f} ms/block")
    if "fidelity" in result:
        f = result["fidelity"]
        lines.append("attention error vs full history: " + ", ".join(
            f"{k} {v['mean_rel_error_last_20_blocks']:.3f}" for k, v in f.items() if isinstance(v, dict)))
    clock = next(iter(result["policies"].values())).get("ratio_clock")
    if clock:
        lines.append(f"x window: median of per-pair {clock} time ratios (IQR over the pairs); x wall: the same "
                     f"on wall time; ms/block and px fps: wall time")
    m = result.get("machine")
    if m:
        loads = [v["median"] for v in m["load_1min_by_stage"].values() if v]
        lines.append(f"machine: {m['start']['cpu_count']} CPUs ({m['start']['usable_cpus']} usable), "
                     f"{m['start']['torch_threads']} torch threads, load average {m['start']['load_average']} at "
                     f"start, {m['end']['load_average']} at end, stage medians {loads}")
    lines.append(f"wall time {result['wall_s']} s")
    return "\n".join(lines)
