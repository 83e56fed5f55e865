"""Property: whatever JSON a client sends, parse_request gives a valid GarmentRequest or a BadInput that names
the fields at fault — never another exception (design.md "Arguments and API": a clear message naming the
field, never a traceback). Runs in both package sets, so on pydantic 1 and 2."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from lib_garment.errors import BadInput
from lib_garment.request import GarmentRequest, parse_request, request_json_schema
from tests.properties import BOUNDED, json_values

PREFIX = "invalid Garment Studio request: "


def _field_names(schema: dict[str, Any]) -> list[str]:
    """Every property name of the request and its nested models, so that drawn objects reach deep fields."""
    names = set(schema.get("properties", {}))
    for definition in schema.get("definitions", schema.get("$defs", {})).values():
        names |= set(definition.get("properties", {}))
    return sorted(names)


FIELDS = _field_names(request_json_schema())
TOP_LEVEL = set(request_json_schema()["properties"])
# Unknown keys without ":" or ";", which separate a path from its problem and problems from each other.
KEYS = st.sampled_from(FIELDS) | st.text(st.characters(blacklist_characters=":;"), max_size=8)
# Objects shaped like requests: known keys (and some unknown ones) holding any JSON, nested models included.
REQUEST_LIKE = st.recursive(
    st.dictionaries(KEYS, json_values(6), max_size=5),
    lambda children: st.dictionaries(KEYS, children | json_values(4), max_size=4),
    max_leaves=6,
)


UNKNOWN = "unknown field (not part of the Garment Studio request)"


@BOUNDED
@given(json_values() | REQUEST_LIKE)
@example({"taks": "model"})
@example({"seed": 1.5, "segment": {"box_threshold": "high"}})
@example([])
@example("background")
def test_any_json_is_a_request_or_bad_input_naming_fields(data: Any) -> None:
    try:
        request = parse_request(data)
    except BadInput as err:
        message = str(err)
        if not isinstance(data, dict) and data is not None:
            assert message == f"Garment Studio settings must be a JSON object, got {type(data).__name__}"
            return
        assert message.startswith(PREFIX), message
        # The first problem is located by a key the client sent, or is the request's own rule ("request").
        first = message.removeprefix(PREFIX).split(": ", 1)[0]
        assert first == "request" or any(first == k or first.startswith(f"{k}.") for k in data), message
        # Every unknown top-level key is named as such (none is dropped silently).
        for key in set(data) - TOP_LEVEL:
            assert f"{key}: {UNKNOWN}" in message, message
    else:
        assert isinstance(request, GarmentRequest)
        assert data is None or isinstance(data, dict)
        # A valid request round-trips through its own JSON unchanged.
        assert parse_request(request.dict()) == request
