"""Garment Studio's REST routes, ``/garment-studio/v1/...``, added to the WebUI's FastAPI app in ``app_started``.

- ``GET  version``  → ``{"version", "request_version"}``
- ``GET  schema``   → the JSON schema of the request (``lib_garment.request.request_json_schema``)
- ``POST segment``  → mask, alpha, trimap, overlay (base64 PNG) and the segmentation's json
- ``POST maps``     → the control maps of the request's units (base64 PNG by kind) and how they were made
- ``POST generate`` → the composited images, the plan, the kept-pixel check per image, seeds, infotexts, ...
  (restored, when the request's ``restore.enabled`` is set)
- ``POST restore``  → the image with its faces and hands restored (``request.restore``; ``mask`` keeps pixels
  exact), and how (:mod:`lib_garment.host.api_restore`)

The three POST routes take one body: ``{"request": {...}, "image": b64, "mask": b64|null, "maps": {kind: b64}|null,
"save_images": false}``. The body is parsed here, not by FastAPI, and validated with the pydantic-v1-API models
(``lib_garment.pydantic_compat``), so a request behaves the same on AUTOMATIC1111 (pydantic 1) and Forge
(pydantic 2). Status codes:

- 422 ``{"detail": [{"loc": ["body", ...], "msg", "type"}]}``: the body is invalid (each field named, unknown
  fields refused) or the engine refused the input (BadInput: a mask of another size, nothing found, ...);
- 424 ``{"error", "detail"}``: a model or ControlNet the job needs is missing (ModelUnavailable). The request is
  valid and the server healthy, but something it depends on must be installed first; retrying does not help,
  which is why it is not 503 (that invites automatic retries);
- 401 with ``WWW-Authenticate: Basic`` when ``--api-auth`` is set and the credentials do not match (the WebUI
  protects only its own ``/sdapi`` routes, so these routes check the same credentials themselves);
- 500 ``{"error", "detail"}``: any other failure, as one line; the traceback goes to the console only.

The model-running routes take the WebUI's ``queue_lock`` with ``shared.state.begin(job="garment_studio")``, so
they wait for (and hold back) generations like the WebUI's own API. No pipeline logic here: the engine
(``lib_garment.generate``, ``lib_garment.segment``) and ``lib_garment.host.jobs`` do the work.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from modules import call_queue, scripts, shared
from starlette.concurrency import run_in_threadpool

from lib_garment import __version__
from lib_garment.b64images import decode_image, encode_png
from lib_garment.errors import BadInput, GarmentError, ModelUnavailable
from lib_garment.generate.plan import UnitPlan
from lib_garment.generate.prepare import check_inputs, prepare, reference_units, segmentation_backends
from lib_garment.generate.tasks import control_units, map_kinds, unit_map
from lib_garment.host.jobs import check_controlnet, engine_environment, run_plan
from lib_garment.host.messages import warn
from lib_garment.host.progress import webui_progress
from lib_garment.imageio import image_to_mask, image_to_rgb
from lib_garment.pydantic_compat import Field, StrictBool, StrictStr, ValidationError
from lib_garment.request import REQUEST_VERSION, GarmentRequest, MapKind, StrictModel, request_json_schema
from lib_garment.segment.backends.assemble import run_segmentation
from lib_garment.segment.matte import alpha_to_uint8

PREFIX = "/garment-studio/v1"
JOB = "garment_studio"
TAG = "Garment Studio"
EXTRA_MESSAGE = "unknown field (not part of the Garment Studio request)"


class RouteBody(StrictModel):
    """The body of ``segment``, ``maps`` and ``generate`` (types checked as strictly as the request's)."""

    request: GarmentRequest = Field(default_factory=GarmentRequest, description="The Garment Studio request.")
    image: StrictStr = Field(..., description="The photo: base64, bare or as a data URL.")
    mask: StrictStr | None = Field(
        None, description="The product mask (white = keep), same size as the photo; base64 or a data URL."
    )
    maps: dict[MapKind, StrictStr] | None = Field(
        None, description="Control maps you made yourself, by kind, same size as the photo; used instead of ours."
    )
    save_images: StrictBool = Field(False, description="generate: the WebUI saves the outputs as for img2img.")


# -- responses and errors ------------------------------------------------------------------------------------


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


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, default=_plain, ensure_ascii=False, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class Refused(Exception):
    """A request answered with an error status (raised by the work functions, turned into the response)."""

    def __init__(self, status: int, content: dict[str, Any]) -> None:
        super().__init__(content)
        self.status = status
        self.content = content


def _problem(loc: Sequence[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _invalid(problems: list[dict[str, Any]]) -> Refused:
    return Refused(422, {"detail": problems})


def _validation_problems(err: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors with every location under "body" ("__root__" dropped: a model's own check)."""
    problems = []
    for problem in err.errors():
        loc = ["body", *(part for part in problem["loc"] if part != "__root__")]
        message = EXTRA_MESSAGE if problem["type"] == "value_error.extra" else problem["msg"]
        problems.append(_problem(loc, message, problem["type"]))
    return problems


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _answer(work: Callable[[], dict[str, Any]]) -> Response:
    """``work()`` as a response; every failure becomes its status code and a message, never a traceback."""
    try:
        return _json(work())
    except Refused as refused:
        return _json(refused.content, refused.status)
    except BadInput as err:
        return _json({"detail": [_problem(["body", *err.loc], str(err), "value_error.bad_input")]}, 422)
    except ModelUnavailable as err:
        return _json({"error": type(err).__name__, "detail": str(err)}, 424)
    except GarmentError as err:
        warn(f"REST: {_one_line(str(err))}")
        return _json({"error": type(err).__name__, "detail": _one_line(str(err))}, 500)
    except Exception as err:  # noqa: BLE001 - the server answers and keeps serving; the console gets the trace
        traceback.print_exc()
        message = f"internal error: {type(err).__name__}: {err} (the traceback is in the WebUI console)"
        warn(f"REST: {_one_line(message)}")
        return _json({"error": type(err).__name__, "detail": _one_line(message)}, 500)


# -- the body ------------------------------------------------------------------------------------------------


@dataclass
class Job:
    """A validated body with its images decoded: the photo RGB, the mask (H, W) uint8, maps by kind."""

    request: GarmentRequest
    photo: np.ndarray
    mask: np.ndarray | None
    maps: dict[str, np.ndarray]
    save_images: bool


REFERENCE_ONLY = (
    "{} belongs to the txt2img section's reference photo; these routes work on the body's image and mask "
    "(send them there)"
)


def _images_of(data: dict[str, Any]) -> list[tuple[list[str], Callable[[Any, str], np.ndarray], Any]]:
    """Every image the body carries, with its location and how it is decoded (the raw values: a wrong type is
    validation's to report)."""
    found: list[tuple[list[str], Callable[[Any, str], np.ndarray], Any]] = [
        (["image"], image_to_rgb, data.get("image"))
    ]
    if data.get("mask") is not None:
        found.append((["mask"], image_to_mask, data["mask"]))
    maps = data.get("maps")
    if isinstance(maps, dict):
        kinds = get_args(MapKind)  # an unknown kind is validation's to report
        found += [(["maps", kind], image_to_rgb, text) for kind, text in maps.items() if kind in kinds]
    return found


def _decode_all(data: dict[str, Any], flagged: set[tuple[Any, ...]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each string image decoded, by dotted location, and a problem for each one that does not decode; images
    already reported by validation (wrong type, unknown map kind) are left to that report."""
    decoded, problems = {}, []
    for loc, convert, value in _images_of(data):
        if not isinstance(value, str) or any(tuple(loc[: len(f)]) == f for f in flagged if f):
            continue
        name = ".".join(loc)
        try:
            decoded[name] = convert(decode_image(value, name), name)
        except BadInput as err:
            problems.append(_problem(["body", *loc], str(err), "value_error.image"))
    return decoded, problems


def parse_body(raw: bytes) -> Job:
    """The request body checked and decoded, or Refused(422) naming every bad field and every bad image at once."""
    try:
        data = json.loads(raw or b"null")
    except ValueError as err:
        raise _invalid([_problem(["body"], f"the body is not valid JSON: {err}", "value_error.jsondecode")]) from None
    if not isinstance(data, dict):
        raise _invalid([_problem(["body"], "the body must be a JSON object", "type_error.dict")])
    problems: list[dict[str, Any]] = []
    body = None
    try:
        body = RouteBody.parse_obj(data)
    except ValidationError as err:
        problems = _validation_problems(err)
    request = data.get("request")
    for name in ("reference_image", "reference_mask"):
        if isinstance(request, dict) and request.get(name) is not None:
            problems.append(_problem(["body", "request", name], REFERENCE_ONLY.format(name), "value_error.unused"))
    flagged = {tuple(problem["loc"][1:3]) for problem in problems}
    decoded, bad_images = _decode_all(data, flagged)
    problems += bad_images
    if problems or body is None:
        raise _invalid(problems)
    maps = {kind: decoded[f"maps.{kind}"] for kind in body.maps or {}}
    return Job(body.request, decoded["image"], decoded.get("mask"), maps, body.save_images)


# -- the WebUI's queue ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def queued(timings: dict[str, float]) -> Iterator[Any]:
    """Hold the WebUI's generation lock with a "garment_studio" job begun (host-contract §4); yields the state."""
    asked = time.perf_counter()
    with call_queue.queue_lock:
        timings["queue_wait_s"] = time.perf_counter() - asked
        state = shared.state
        state.begin(job=JOB)
        try:
            yield state
        finally:
            state.end()


def _segmentation_json(segmentation: Any) -> dict[str, Any] | None:
    return segmentation.to_json() if segmentation is not None else None


def _unused_notes(job: Job, route: str) -> list[str]:
    """What this route took but does not use (the body is the same for all three)."""
    notes = [f"save_images is used by /generate only; /{route} saved nothing"] if job.save_images else []
    if job.maps and route == "segment":
        notes.append("maps are used by /maps and /generate only")
    return notes


# -- the routes' work (run in a worker thread) ---------------------------------------------------------------


def segment_job(job: Job) -> dict[str, Any]:
    request, started, timings = job.request, time.perf_counter(), {}
    photo, source = check_inputs(request, job.photo, job.mask)
    with queued(timings), webui_progress() as progress:
        env = engine_environment(progress)
        backends = segmentation_backends(request, env, from_mask=source == "mask")
        run = run_segmentation(photo, request.segment, backends, job.mask if source == "mask" else None)
    seg = run.segmentation
    info = {"mask_source": source, **run.to_json()}
    info["notes"] = [*info.get("notes", []), *_unused_notes(job, "segment")]
    info["timings"] = {**info.get("timings", {}), **timings, "total_s": time.perf_counter() - started}
    return {
        "mask": encode_png(seg.mask),
        "alpha": encode_png(alpha_to_uint8(seg.alpha)),
        "trimap": encode_png(seg.trimap),
        "overlay": encode_png(seg.overlay(photo)),
        "info": info,
    }


def maps_job(job: Job) -> dict[str, Any]:
    """The maps of the request's units. Segmentation runs only when a unit needs the mask (mask_canny): then
    through prepare() (as /generate does); else straight from the photo, as txt2img reference units are made."""
    request, started, timings = job.request, time.perf_counter(), {}
    notes = _unused_notes(job, "maps")
    segmentation, source = None, None
    if "mask_canny" in map_kinds(request):
        photo, source = check_inputs(request, job.photo, job.mask, job.maps)
        with queued(timings), webui_progress() as progress:
            prepared = prepare(request, photo, engine_environment(progress), mask=job.mask, supplied_maps=job.maps)
        units, segmentation = prepared.plan.units, prepared.segmentation
        notes = [*prepared.notes, *notes]
        timings.update(prepared.timings)
    else:
        height, width = job.photo.shape[:2]
        supplied = tuple(UnitPlan(kind, unit_map(kind, array, (width, height))) for kind, array in job.maps.items())
        missing = [unit for unit in control_units(request) if unit.kind not in job.maps]
        with queued(timings), webui_progress() as progress:
            env = engine_environment(progress)
            # The caller's depth map, when given, is what a normal unit's map is made from, as /generate does.
            depth = job.maps.get("depth")
            units = reference_units(request.copy(update={"control": missing}), job.photo, env, depth=depth)
        units = (*units, *supplied)
        if job.mask is not None:
            notes.append("the mask was not used: no unit needs it (mask_canny does)")
    timings["total_s"] = time.perf_counter() - started
    return {
        "maps": {unit.kind: encode_png(unit.image) for unit in units},
        "info": {
            "request": request.dict(),
            "mask_source": source,
            "segmentation": _segmentation_json(segmentation),
            "units": [unit.to_json() for unit in units],
            "notes": notes,
            "timings": timings,
        },
    }


def _check_controlnet_first(request: GarmentRequest) -> bool:
    """ControlNet and its models for the request's units, before any of our models runs (ModelUnavailable);
    run_plan checks again on its own processing object, whose runner has the same ControlNet script. False
    when ControlNet is absent and the request allows going without (then no maps are made)."""
    return check_controlnet(scripts.scripts_img2img, request) is not None or not control_units(request)


def generate_job(job: Job) -> dict[str, Any]:
    request, started, timings = job.request, time.perf_counter(), {}
    photo, _ = check_inputs(request, job.photo, job.mask, job.maps)
    _check_restore_first(request)
    with queued(timings) as state:
        state.job_count = request.generation.batch_count
        units = _check_controlnet_first(request)
        with webui_progress() as progress:
            env = engine_environment(progress)
            prepared = prepare(request, photo, env, mask=job.mask, supplied_maps=job.maps, units=units)
        state.job_count = prepared.plan.batch_count
        generating = time.perf_counter()
        result = run_plan(prepared.plan, request, save=job.save_images)
        timings["generate_s"] = time.perf_counter() - generating
    info = {**prepared.to_json(), **result.info, "notes": [*prepared.notes, *result.info.get("notes", [])]}
    info["timings"] = {**prepared.timings, **timings, "total_s": time.perf_counter() - started}
    seg = prepared.segmentation
    return {
        "images": [encode_png(image) for image in result.images],
        "info": info,
        "mask": encode_png(seg.mask),
        "alpha": encode_png(alpha_to_uint8(seg.alpha)),
    }


def _check_restore_first(request: GarmentRequest) -> None:
    """Bad restore options (422) or a missing ControlNet model for its unit (424) before any model runs."""
    if request.restore.enabled:
        from lib_garment.host.restore_setup import check_restore

        check_restore(request.restore, scripts.scripts_img2img)


def restore_job(job: Job) -> dict[str, Any]:
    """Restore the image's faces and hands (``request.restore``; the mask's white pixels stay exact)."""
    from lib_garment.host.api_restore import restore_route_job

    return restore_route_job(job)


# -- auth and routes -----------------------------------------------------------------------------------------

_basic = HTTPBasic(auto_error=False)


def api_credentials() -> dict[str, str]:
    """``--api-auth user:pass,user2:pass2`` as {user: password}; empty when the flag is not set."""
    text = getattr(shared.cmd_opts, "api_auth", None) or ""
    return dict(entry.split(":", 1) for entry in text.split(",") if ":" in entry)


def require_auth(credentials: HTTPBasicCredentials | None = Depends(_basic)) -> None:  # noqa: B008 - FastAPI API
    """With ``--api-auth`` set, HTTP Basic credentials matching one of its pairs (as the WebUI's Api.auth)."""
    allowed = api_credentials()
    if not allowed:
        return
    if credentials is not None:
        expected = allowed.get(credentials.username)
        given = credentials.password.encode("utf8")
        if expected is not None and secrets.compare_digest(given, expected.encode("utf8")):
            return
    raise HTTPException(status_code=401, detail="Incorrect username or password", headers={"WWW-Authenticate": "Basic"})


def _post(work: Callable[[Job], dict[str, Any]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        return await run_in_threadpool(_answer, lambda: work(parse_body(raw)))

    endpoint.__name__ = f"garment_studio_{work.__name__}"
    endpoint.__doc__ = work.__doc__
    return endpoint


def version() -> dict[str, Any]:
    return {"version": __version__, "request_version": REQUEST_VERSION}


def schema() -> dict[str, Any]:
    return request_json_schema()


BODY_DOC = (
    'JSON body: {"request": {...} (see GET schema), "image": base64 photo, "mask": base64 keep mask (white = keep) '
    'or null, "maps": {kind: base64} or null, "save_images": false}'
)
ROUTES: tuple[tuple[str, str, Callable[..., Any], str], ...] = (
    ("GET", "version", version, "Garment Studio's version and the request model's version"),
    ("GET", "schema", schema, "JSON schema of the Garment Studio request"),
    ("POST", "segment", _post(segment_job), "Segment the photo: mask, alpha, trimap and overlay (base64 PNG)"),
    ("POST", "maps", _post(maps_job), "The control maps of the request's units (base64 PNG by kind)"),
    ("POST", "generate", _post(generate_job), "Generate: composited images, the plan and the kept-pixel check"),
    ("POST", "restore", _post(restore_job), "Restore the faces and hands of an image (request.restore options)"),
)
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


def register_routes(demo: Any, app: FastAPI) -> None:
    """``on_app_started(demo, app)``: add the routes (again after a reload: the old ones are replaced)."""
    paths = {f"{PREFIX}/{name}" for _method, name, _endpoint, _summary in ROUTES}
    app.router.routes[:] = [route for route in app.router.routes if getattr(route, "path", None) not in paths]
    for method, name, endpoint, summary in ROUTES:
        app.add_api_route(
            f"{PREFIX}/{name}",
            endpoint,
            methods=[method],
            dependencies=[Depends(require_auth)],
            tags=[TAG],
            summary=summary,
            description=BODY_DOC if method == "POST" else summary,
            openapi_extra=_BODY if method == "POST" else None,
        )
    app.openapi_schema = None  # rebuilt with our routes on the next /docs
