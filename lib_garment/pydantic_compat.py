"""One import point for pydantic's v1 API, so the same models run on pydantic 1 (A1111) and 2 (Forge).

Also :func:`refuse_coercion`: pydantic's v1 API converts types quietly (a seed of 1.9 becomes 1, a prompt of 5
becomes "5", ``"yes"`` becomes True). A request that says something else than it means must be refused, so the
request models run this check on every plain field before pydantic's own validation.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

try:  # pydantic 2, and pydantic >= 1.10.17, ship the v1 API under this name
    from pydantic.v1 import (
        BaseModel,
        Extra,
        Field,
        StrictBool,
        StrictStr,
        ValidationError,
        root_validator,
        validator,
    )
    from pydantic.v1.fields import SHAPE_SINGLETON
except ImportError:  # older pydantic 1.x
    from pydantic import (  # type: ignore[assignment]
        BaseModel,
        Extra,
        Field,
        StrictBool,
        StrictStr,
        ValidationError,
        root_validator,
        validator,
    )
    from pydantic.fields import SHAPE_SINGLETON  # type: ignore[no-redef]

__all__ = [
    "BaseModel",
    "Extra",
    "Field",
    "StrictBool",
    "StrictStr",
    "ValidationError",
    "refuse_coercion",
    "root_validator",
    "validator",
]

# JSON type names, most specific first (bool before int: True is an int to Python, never a number to us)
_JSON_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    ((bool, StrictBool), "a boolean"),  # pydantic's StrictBool is an int subclass, not a bool one
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    ((list, tuple), "a list"),
    ((dict, BaseModel), "an object"),
)


def _json_type(value: Any) -> str:
    return next((name for types, name in _JSON_NAMES if isinstance(value, types)), type(value).__name__)


def _expected_name(expected: type) -> str | None:
    return next((name for types, name in _JSON_NAMES if issubclass(expected, types)), None)


def _wanted(value: Any, expected: type) -> bool:
    """Is ``value`` of the JSON type ``expected`` (bool is not a number; an int is a fine float)?"""
    wanted = _expected_name(expected)
    if wanted is None:
        return True  # other types validate themselves
    given = _json_type(value)
    return given == wanted or (wanted == "a number" and given == "an integer")


def refuse_coercion(value: Any, field: Any) -> Any:
    """``value`` unchanged when its type is the one ``field`` declares, else TypeError (pydantic reports it under
    the field's name). None is left to pydantic (allowed or not by the annotation); lists and dicts are checked
    item by item by their own models or types."""
    if value is None or field.shape != SHAPE_SINGLETON:
        return value
    expected = field.type_
    if get_origin(expected) is Literal:
        choices = get_args(expected)
        if not any(type(value) is type(choice) for choice in choices):  # a wrong value of the right type: pydantic's
            listed = ", ".join(repr(choice) for choice in choices)
            raise TypeError(f"must be one of {listed}, got {_json_type(value)} ({value!r}); types are not converted")
        return value
    if isinstance(expected, type) and not _wanted(value, expected):
        kind = _expected_name(expected)
        raise TypeError(f"must be {kind}, got {_json_type(value)} ({value!r}); types are not converted")
    return value
