"""Load the pack from this working tree as the package `echo_stream`, as ComfyUI would load it."""
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "echo_stream"

if PACKAGE not in sys.modules or pathlib.Path(sys.modules[PACKAGE].__file__).parent != ROOT:
    spec = importlib.util.spec_from_file_location(PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
