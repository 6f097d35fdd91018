"""Import this working tree as the package `echo_stream`, the way ComfyUI loads a pack folder
(its folder name may be anything, and every import inside it is relative)."""
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "echo_stream"


def load_pack():
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None and pathlib.Path(loaded.__file__).parent == ROOT:
        return loaded
    spec = importlib.util.spec_from_file_location(PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module
