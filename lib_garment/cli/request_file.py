"""A request from a JSON file with command-line flags laid over it: what ``run`` and ``restore`` share (the
dotted-path setters are lib_garment/request_data.py's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput


def read_request_file(path: str) -> dict[str, Any]:
    """The JSON object in ``--request``'s file; BadInput (naming the flag) for anything else."""
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"--request {path}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"--request {path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as err:
        raise BadInput(f"--request {path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--request {path}: must hold a JSON object (the Garment Studio request)")
    return data


def flag_for(flags: dict[str, str], path: str) -> str | None:
    """The flag that set the field at ``path`` (or a field above it), if a flag did."""
    return next((flag for field, flag in flags.items() if path == field or path.startswith(field + ".")), None)
