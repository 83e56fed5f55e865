"""``modules.script_loading``: a script file becomes a module named after its file, not put in sys.modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

loaded_scripts: dict[str, ModuleType] = {}


def load_module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(path).name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded_scripts[path] = module
    return module
