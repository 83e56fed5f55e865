"""A request as raw JSON data, before the one ``GarmentRequest`` validates it: fields set by dotted path
(``segment.phrases``) and one object laid over another. The command line's flags and a catalogue's rows build a
request's data this way; validation then names whatever is wrong."""

from __future__ import annotations

import copy
from typing import Any


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


def lay_over(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """``extra`` laid over ``target``, objects merged key by key (a row sets one field, the base keeps the rest)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            lay_over(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
