"""Progress lines on stderr and the machine's load, for benchmarks run on shared machines.

A long benchmark that prints nothing until it ends cannot be told from a hung one, and a figure
measured while other processes compete for the cores means little without the load beside it. So
every stage says what it does as it goes, with the elapsed time and the 1-minute load average, and
the result records the load (os.getloadavg), the CPU count, the cores this process may use and
torch's thread count at the start, at the end and per stage.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import torch


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine() -> dict:
    """What the process runs on and how busy that is right now."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "usable_cpus": affinity, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"), "load_average": load_average()}


def summary(samples: list[float]) -> dict | None:
    """min / median / max of 1-minute load samples."""
    if not samples:
        return None
    return {"min": min(samples), "median": round(statistics.median(samples), 2), "max": max(samples),
            "samples": len(samples)}


class Progress:
    """`say(stage, message)` prints `[suite 1m05s load 7.9] stage: message` on stderr and keeps a
    load sample; `stage_loads()` is every stage's load samples summarised for the JSON."""

    def __init__(self, name: str = "suite", stream=None, quiet: bool = False):
        self.name, self.stream, self.quiet = name, stream, quiet
        self.started = time.perf_counter()
        self.samples: dict[str, list[float]] = {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def say(self, stage: str, message: str) -> None:
        load = load_average()
        if load is not None:
            self.samples.setdefault(stage, []).append(load[0])
        if self.quiet:
            return
        t = self.elapsed()
        stamp = f"{int(t // 60)}m{int(t % 60):02d}s"
        text = f"[{self.name} {stamp} load {load[0] if load else '?'}] {stage}: {message}"
        print(text, file=self.stream or sys.stderr, flush=True)

    def stage_loads(self) -> dict:
        return {stage: summary(samples) for stage, samples in self.samples.items()}


def quantiles(values: list[float]) -> dict:
    """Median and spread of a sample: quartiles (IQR), 10th/90th percentiles, min, max, count."""
    v = sorted(values)
    if not v:
        raise ValueError("no values to summarise")
    t = torch.tensor(v, dtype=torch.float64)
    q = torch.quantile(t, torch.tensor([0.10, 0.25, 0.50, 0.75, 0.90], dtype=torch.float64)).tolist()
    r = lambda x: round(x, 4)  # noqa: E731
    return {"median": r(q[2]), "p25": r(q[1]), "p75": r(q[3]), "iqr": r(q[3] - q[1]), "p10": r(q[0]),
            "p90": r(q[4]), "min": r(v[0]), "max": r(v[-1]), "n": len(v)}
