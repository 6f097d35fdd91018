"""Process and device memory readings for benchmarks, without psutil.

tracemalloc does not see torch's allocations, so on the CPU we read the kernel's view of the process
from /proc: resident set size (VmRSS) and its high-water mark (VmHWM), which writing "5" to
/proc/self/clear_refs resets (Linux >= 4.0). Before a measured region the C heap's free pages are
handed back (glibc malloc_trim), so memory a block allocates shows up as new resident pages rather
than hiding in pages an earlier block left behind. What RSS measures is pages touched, not bytes
allocated: it includes the Python heap, and a tensor that is allocated but never written is not
counted. On CUDA the same questions are answered exactly by torch's allocator statistics.
"""
from __future__ import annotations

import ctypes
import os

import torch

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Resident set size of this process (None where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return None


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _trim_heap() -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)  # not glibc: nothing to trim, readings may undercount reused pages


def trim_heap() -> None:
    """Hand the C heap's free pages back to the kernel (glibc; a no-op elsewhere)."""
    _trim_heap()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_stats() -> dict | None:
    """glibc's own count of the C heap: bytes in live allocations vs free bytes it keeps (None off glibc).

    The C heap holds torch's CPU tensors and C extension objects; Python's small objects live in
    their own arenas (count them with sys.getallocatedblocks()).

    RSS can creep while nothing leaks: freed chunks between live ones stay resident (fragmentation).
    `in_use` is what the process's malloc'd objects really hold, so a flat `in_use` with a growing RSS
    means fragmentation, which `trim_heap()` returns to the kernel.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"in_use": info.uordblks + info.hblkhd, "free": info.fordblks}


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMeter:
    """Peak memory of a region above what was in use when it began: `with meter: ...; meter.peak`.

    CPU: VmHWM - VmRSS at entry (0 when the kernel cannot reset the mark; `exact` says which).
    CUDA: torch.cuda.max_memory_allocated - memory_allocated at entry.
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.peak = 0
        self.exact = True

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            _trim_heap()
            self.exact = _reset_hwm()
            self.base = rss_bytes() or 0
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            hwm = _status_kib("VmHWM") if self.exact else None
            self.peak = max(0, (hwm if hwm is not None else rss_bytes() or 0) - self.base)
        return False


def in_use_bytes(device: torch.device) -> int | None:
    """What the process holds now: CUDA tensors on a GPU, resident pages on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return rss_bytes()


def describe(device: torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return "torch.cuda allocator: bytes of live tensors (peak via max_memory_allocated)"
    return ("process resident set size from /proc/self (pages touched, Python heap included; peak via "
            "VmHWM reset through clear_refs, C heap trimmed first)")
