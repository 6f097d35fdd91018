"""Run the demo from this working tree, without installing the pack:

    python bench/demo.py [--short] [--out DIR] ...   # = python -m echo_stream demo ...

It imports the working tree as `echo_stream` (as the tests do) and runs the pack's `__main__`.
"""
import runpy
import sys

import loadpack  # noqa: F401

if __name__ == "__main__":
    sys.argv = ["python -m echo_stream", "demo", *sys.argv[1:]]
    runpy.run_module("echo_stream", run_name="__main__", alter_sys=True)
