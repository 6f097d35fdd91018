"""A one-line text progress bar on stderr (no tqdm): rewritten in place with a carriage return."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int, stream=None, width: int = 28, min_interval: float = 0.1):
        self.total, self.width, self.min_interval = max(total, 1), width, min_interval
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self._last = -1.0
        self._shown = 0

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        if done < self.total and now - self._last < self.min_interval:
            return  # throttled: redrawing costs more than a tiny block
        self._last = now
        elapsed = now - self.started
        filled = int(self.width * done / self.total)
        rate = elapsed / done if done else 0.0
        eta = f"ETA {rate * (self.total - done):4.0f} s" if done < self.total else f"{elapsed:.1f} s"
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} blocks"
                f"  {rate:6.3f} s/block  {eta}  {note}")
        pad = max(0, self._shown - len(line))  # blank out the rest of a longer previous line
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._shown = len(line)

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
