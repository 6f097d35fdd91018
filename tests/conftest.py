"""Tests import the pack from this working tree as `echo_stream`, not from any installed copy."""
from pack_import import load_pack

load_pack()
