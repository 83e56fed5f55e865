"""A request from a JSON file with command-line flags laid over it: what ``run`` and ``restore`` share."""

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


def set_field(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the dotted ``path`` (``segment.phrases``) in ``data``, making the objects above it as needed."""
    *parents, last = path.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {} if child is None else child
        if not isinstance(child, dict):  # the file has a non-object here: let validation name it
            return
        node = child
    node[last] = value


def get_field(data: dict[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` in ``data`` (None where it is missing)."""
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def flag_for(flags: dict[str, str], path: str) -> str | None:
    """The flag that set the field at ``path`` (or a field above it), if a flag did."""
    return next((flag for field, flag in flags.items() if path == field or path.startswith(field + ".")), None)
