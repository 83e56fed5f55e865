"""Schema-driven fuzzing of Garment Studio's REST routes (schemathesis), shared by the test on the host double
(tests/test_rest_fuzz.py) and the command for a running WebUI (tools/fuzz_api.py).

The WebUI's OpenAPI document describes each POST body only as ``{"type": "object"}`` (the routes parse the body
themselves, see README "The API"), so the document is first cut to ``/garment-studio/v1/*`` and each POST body is
described as documented: ``request`` by the JSON schema the ``schema`` route serves, ``image``/``mask`` as strings
that are sometimes real PNGs (so that generated calls get past image decoding), ``maps``, ``save_images``
and ``exact_matte``.
Schemathesis then draws both valid bodies (positive mode) and bodies that break the schema (negative mode).

Every answer must be in the documented shape (README "The API"): 200 with a JSON object, 422 with
``detail: [{loc: ["body", ...], msg, type}]``, 424 with ``{error, detail}``, 401 with ``WWW-Authenticate: Basic``
under ``--api-auth``; never a 5xx.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode

PREFIX = "/garment-studio/v1"
SEED = 20261207


def png_b64(array: np.ndarray) -> str:
    with io.BytesIO() as buffer:
        Image.fromarray(array).save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode("ascii")


def sample_images() -> list[str]:
    """Small real images: a 16x16 photo, its keep mask, an empty mask and a mask of another size."""
    photo = np.random.default_rng(SEED).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    keep = np.zeros((16, 16), np.uint8)
    keep[4:12, 4:12] = 255
    return [png_b64(photo), png_b64(keep), png_b64(np.zeros((16, 16), np.uint8)), png_b64(keep[:8])]


def _relocated(schema: Any) -> Any:
    """A pydantic JSON schema's ``#/definitions/X`` references pointed at ``#/components/schemas/X``."""
    text = (
        json.dumps(schema)
        .replace('"#/definitions/', '"#/components/schemas/')
        .replace('"#/$defs/', '"#/components/schemas/')
    )
    return json.loads(text)


def garment_openapi(
    openapi: dict[str, Any], request_schema: dict[str, Any], images: list[str], *, auth: bool = False
) -> dict[str, Any]:
    """The app's OpenAPI document cut to Garment Studio's routes, with each POST body described as documented.

    ``auth`` False (a WebUI without ``--api-auth``): the HTTP Basic scheme FastAPI documents on every route is
    dropped, so that calls carry no credentials, as clients of such a WebUI send none; with it, schemathesis
    also draws Authorization headers of its own (never the right ones)."""
    doc = copy.deepcopy(openapi)
    doc["paths"] = {path: item for path, item in doc["paths"].items() if path.startswith(PREFIX)}
    if not auth:
        for item in doc["paths"].values():
            for operation in item.values():
                operation.pop("security", None)
    request = _relocated(request_schema)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(request.pop("definitions", {}))
    schemas.update(request.pop("$defs", {}))
    schemas["GarmentRequest"] = request
    image = {"anyOf": [{"type": "string"}, {"enum": images}]}
    body = {
        "type": "object",
        "properties": {
            "request": {"$ref": "#/components/schemas/GarmentRequest"},
            "image": image,
            "mask": image,
            "maps": {"type": "object", "additionalProperties": image},
            "save_images": {"type": "boolean"},
            "exact_matte": {"type": "boolean"},
        },
        "required": ["image"],
        "additionalProperties": False,
    }
    # The catalogue's start: rows naming two of the sample photos (so that some calls are valid and start a
    # run, written under the double's catalogue folder), or a manifest path (mostly refused: outside, missing).
    row = {
        "type": "object",
        "properties": {
            "sku": {"type": "string"},
            "image": {"enum": ["photo.png", "missing.png"]},
            "mask": {"enum": ["mask.png", "empty.png"]},
            "variants": {"type": "integer"},
        },
    }
    batch = {
        "type": "object",
        "properties": {
            "manifest": {"type": "string"},
            "rows": {"type": "array", "items": row, "maxItems": 3},
            "photos": {"type": "object", "properties": {"photo.png": image, "mask.png": image, "empty.png": image}},
            "request": {"$ref": "#/components/schemas/GarmentRequest"},
            "output": {"type": "string"},
            "retry_failed": {"type": "boolean"},
            "max_failures": {"type": ["integer", "null"]},
        },
        "required": ["output"],
        "additionalProperties": False,
    }
    # Evaluation: two folders on the server; drawn names are mostly refused (outside the catalogue folder,
    # missing, empty), the catalogue folder itself holds no images.
    folder = {"anyOf": [{"type": "string"}, {"enum": [".", "..", "/", "shoot"]}]}
    evaluate = {
        "type": "object",
        "properties": {
            "real": folder,
            "generated": folder,
            "features": {"enum": ["64", "192", "768", "2048"]},
            "kid_subset_size": {"type": ["integer", "null"]},
            "kid_subsets": {"type": "integer"},
            "is_splits": {"type": ["integer", "null"]},
            "seed": {"type": "integer"},
        },
        "required": ["real", "generated"],
        "additionalProperties": False,
    }
    special = {f"{PREFIX}/batch": batch, f"{PREFIX}/evaluate": evaluate}
    for path, item in doc["paths"].items():
        post = item.get("post")
        if post is None or path.endswith("/stop"):
            continue  # stop takes no body
        schema = special.get(path, body)
        post["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return doc


# -- the documented shapes -------------------------------------------------------------------------------------


def _is_problem(problem: Any) -> bool:
    return (
        isinstance(problem, dict)
        and isinstance(problem.get("loc"), list)
        and problem["loc"][:1] == ["body"]
        and isinstance(problem.get("msg"), str)
        and bool(problem["msg"])
        and isinstance(problem.get("type"), str)
    )


def _header(headers: Any, name: str) -> str:
    """One header of a schemathesis response (its headers map names to lists of values)."""
    value = headers.get(name) or headers.get(name.title()) or ""
    return value[0] if isinstance(value, list) and value else str(value or "")


def _problem_401(headers: Any, payload: Any) -> str | None:
    return None if _header(headers, "www-authenticate").startswith("Basic") else "401 without WWW-Authenticate: Basic"


def _problem_200(headers: Any, payload: Any) -> str | None:
    return None if isinstance(payload, dict) else "200 without a JSON object"


def _problem_422(headers: Any, payload: Any) -> str | None:
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, list) and detail and all(_is_problem(p) for p in detail):
        return None
    return f"422 not in the shape detail[].loc/msg/type: {payload}"


def _problem_424(headers: Any, payload: Any) -> str | None:
    fields = (payload.get("error"), payload.get("detail")) if isinstance(payload, dict) else (None,)
    return (
        None if all(isinstance(f, str) and f for f in fields) else f"error answer without error and detail: {payload}"
    )


# 202: a catalogue run started; 404: an unknown run; 409: a run already going on that folder
DOCUMENTED = {
    200: _problem_200,
    202: _problem_200,
    404: _problem_424,
    409: _problem_424,
    422: _problem_422,
    424: _problem_424,
}


def shape_problem(status: int, headers: Any, payload: Any, auth: bool) -> str | None:
    """What is wrong with one answer (None when it is in the documented shape). Under ``--api-auth`` the fuzzed
    calls never carry the right credentials, so 401 is the only documented answer there."""
    if status >= 500:
        return f"server error {status}: {payload}"
    if auth:
        return _problem_401(headers, payload) if status == 401 else f"expected 401 without credentials, got {status}"
    check = DOCUMENTED.get(status)
    return f"undocumented status {status}: {payload}" if check is None else check(headers, payload)


# -- schema-breaking bodies -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def _breakage() -> st.SearchStrategy:
    """None (the body stays valid) or (what, where, value): how to break it."""
    change = st.tuples(st.sampled_from(["drop", "replace", "add"]), st.integers(0, 2**16), JSON)
    return st.none() | change


def _broken(drawn: tuple[Any, Any]) -> Any:
    case, change = drawn
    if change is None or not isinstance(case.body, dict):
        return case
    what, where, value = change
    body = copy.deepcopy(case.body)
    target = body
    if isinstance(body.get("request"), dict) and where % 2:
        target = body["request"]  # half of the breakages inside the request
    keys = sorted(target)
    if what == "add" or not keys:
        target[f"unknown_{where % 7}"] = value
    elif what == "drop":
        del target[keys[where % len(keys)]]
    else:
        target[keys[where % len(keys)]] = value
    case.body = body
    return case


# -- the run ---------------------------------------------------------------------------------------------------


@dataclass
class RouteTally:
    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


class TimeCapReached(Exception):
    """The run's safety net: no more calls after the time cap (a hang must not hold CI for its full limit)."""


def fuzz(
    doc: dict[str, Any],
    send: Callable[[Any], Any],
    *,
    examples: int,
    time_cap_s: float,
    auth: bool = False,
    limits: dict[str, int] | None = None,
) -> dict[str, RouteTally]:
    """Up to ``examples`` generated calls per operation of ``doc`` (fixed seed), each answer checked.

    ``send(case)`` makes the call and returns the response. Returns the tally per "METHOD path"."""
    schema = schemathesis.openapi.from_dict(doc)
    stop_at = time.monotonic() + time_cap_s
    tallies: dict[str, RouteTally] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        tally = tallies.setdefault(name, RouteTally())
        try:
            count = (limits or {}).get(operation.path, examples)  # a route's own, smaller count
            _fuzz_operation(operation, name, tally, send, examples=count, stop_at=stop_at, auth=auth)
        except TimeCapReached:
            tally.problems.append(f"{name}: time cap of {time_cap_s:.0f} s reached after {tally.calls} calls")
            break
    return tallies


def _fuzz_operation(
    operation: Any,
    name: str,
    tally: RouteTally,
    send: Callable[[Any], Any],
    *,
    examples: int,
    stop_at: float,
    auth: bool,
) -> None:
    """One operation's hypothesis run: bounded, seeded, no shrinking (a problem is recorded, not raised)."""
    # Schemathesis's negative mode costs ~0.4 s of generation per call here (most of a CI run's budget), so
    # schema-breaking bodies are made from positive ones instead: a field dropped, replaced by any JSON value,
    # or an unknown one added, at the top or inside the request.
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if operation.method.upper() == "POST":
        strategy = st.tuples(strategy, _breakage()).map(_broken)

    @fixed_seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if time.monotonic() > stop_at:
            raise TimeCapReached
        response = send(case)
        tally.calls += 1
        tally.statuses[response.status_code] += 1
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        problem = shape_problem(response.status_code, response.headers, payload, auth)
        if problem is not None:
            tally.problems.append(f"{name} body={str(case.body)[:300]!r}: {problem}")

    run()


def report(tallies: dict[str, RouteTally]) -> str:
    lines = [f"{'route':<40} {'calls':>6}  statuses"]
    for name, tally in tallies.items():
        statuses = ", ".join(f"{code}×{count}" for code, count in sorted(tally.statuses.items()))
        lines.append(f"{name:<40} {tally.calls:>6}  {statuses}")
    total = sum(t.calls for t in tallies.values())
    errors = sum(count for t in tallies.values() for code, count in t.statuses.items() if code >= 500)
    lines.append(f"{'total':<40} {total:>6}  server errors: {errors}")
    return "\n".join(lines)
