"""``modules.paths``: re-exports the path constants (the real one also puts repositories on sys.path)."""

from __future__ import annotations

from modules.paths_internal import (  # noqa: F401  (re-exported like the real module)
    data_path,
    default_output_dir,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
)

paths: dict[str, str] = {}
