"""The REST routes' answers: JSON responses, and every failure as its status code with a message.

- 422 ``{"detail": [{"loc": ["body", ...], "msg", "type"}]}``: the body is invalid (each field named, unknown
  fields refused) or the engine refused the input (BadInput: a mask of another size, nothing found, ...);
- 424 ``{"error", "detail"}``: a model or ControlNet the job needs is missing (ModelUnavailable). The request is
  valid and the server healthy, but something it depends on must be installed first; retrying does not help,
  which is why it is not 503 (that invites automatic retries);
- 500 ``{"error", "detail"}``: any other failure, as one line; the traceback goes to the console only.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.responses import Response

from lib_garment.errors import BadInput, GarmentError, ModelUnavailable
from lib_garment.host.webui.messages import warn
from lib_garment.pydantic_compat import ValidationError
from lib_garment.request import validation_problems

# The OpenAPI body of every POST route: one JSON object (its fields are documented in each route's description).
JSON_OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


def _plain(value: Any) -> Any:
    """JSON for what ``json.dumps`` does not know: numpy scalars and arrays, paths, tuples of those."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, default=_plain, ensure_ascii=False, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class Refused(Exception):
    """A request answered with an error status (raised by the work functions, turned into the response)."""

    def __init__(self, status: int, content: dict[str, Any]) -> None:
        super().__init__(content)
        self.status = status
        self.content = content


def problem(loc: Sequence[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def invalid(problems: list[dict[str, Any]]) -> Refused:
    return Refused(422, {"detail": problems})


def body_problems(err: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as 422 entries with every location under "body" (the request's one formatter)."""
    return [dict(found) for found in validation_problems(err, prefix=("body",))]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def answer(work: Callable[[], dict[str, Any]]) -> Response:
    """``work()`` as a response; every failure becomes its status code and a message, never a traceback."""
    try:
        return json_response(work())
    except Refused as refused:
        return json_response(refused.content, refused.status)
    except BadInput as err:
        return json_response({"detail": [problem(["body", *err.loc], str(err), "value_error.bad_input")]}, 422)
    except ModelUnavailable as err:
        return json_response({"error": type(err).__name__, "detail": str(err)}, 424)
    except GarmentError as err:
        warn(f"REST: {_one_line(str(err))}")
        return json_response({"error": type(err).__name__, "detail": _one_line(str(err))}, 500)
    except Exception as err:  # noqa: BLE001 - the server answers and keeps serving; the console gets the trace
        traceback.print_exc()
        message = f"internal error: {type(err).__name__}: {err} (the traceback is in the WebUI console)"
        warn(f"REST: {_one_line(message)}")
        return json_response({"error": type(err).__name__, "detail": _one_line(message)}, 500)


def json_object(raw: bytes) -> dict[str, Any]:
    """A route's body as a JSON object, or Refused(422) saying it is not JSON, or not an object."""
    try:
        data = json.loads(raw or b"null")
    except ValueError as err:
        raise invalid([problem(["body"], f"the body is not valid JSON: {err}", "value_error.jsondecode")]) from None
    if not isinstance(data, dict):
        raise invalid([problem(["body"], "the body must be a JSON object", "type_error.dict")])
    return data
