"""Bench scripts run as plain files (`python bench/suite.py`): import the pack from this working
tree as `echo_stream`, the way the tests do, whether or not a copy is installed."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from pack_import import load_pack  # noqa: E402

echo_stream = load_pack()
