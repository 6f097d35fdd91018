"""Tests import the pack from this working tree as `echo_stream`, not from any installed copy."""
import torch

from pack_import import load_pack

load_pack()
# The tests' models are tiny: one thread is ~20x faster than two threads that spin against each other
# (and against anything else on a 2-core CI machine).
torch.set_num_threads(1)
