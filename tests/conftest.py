"""Tests import the pack from this working tree as `echo_stream`, not from any installed copy."""
import os

# Before torch loads OpenMP: torch.set_num_threads below only sets the calling thread, and a run in a
# worker thread (live steering) would otherwise sum with two threads and differ in the last bits
# from the same run on the main thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from pack_import import load_pack

load_pack()
# The tests' models are tiny: one thread is ~20x faster than two threads that spin against each other
# (and against anything else on a 2-core CI machine).
torch.set_num_threads(1)
