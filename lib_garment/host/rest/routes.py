"""Garment Studio's REST routes, ``/garment-studio/v1/...``, added to the WebUI's FastAPI app in ``app_started``.

- ``GET  version``  → ``{"version", "request_version"}``
- ``GET  schema``   → the JSON schema of the request (``lib_garment.request.request_json_schema``)
- ``GET  presets``  → ``{"presets": [...], "notes", "user_dir"}``: every marketplace preset (shipped, and the
  user's in ``<models>/garment_studio/presets`` of the Settings page's models folder), each with its name,
  title, marketplace, description, canvas, rules (id, kind, value, severity, source, note), sources (id,
  title, url, read), missing, origin and path
- ``POST segment``  → mask, alpha, trimap, overlay (base64 PNG) and the segmentation's json
- ``POST maps``     → the control maps of the request's units (base64 PNG by kind) and how they were made
- ``POST generate`` → the images, the plan, the kept-pixel check per image, seeds, infotexts, ... (restored,
  when the request's ``restore.enabled`` is set). With ``request.preset`` each image is the preset's file
  (base64 of its bytes, in ``info.formats``' format: jpeg, png, ...), framed on its canvas, and
  ``info.compliance`` holds its report (one per image: verdict, every rule, measurements, framing, file) and
  ``info.framing`` its placement; with ``request.output.background`` ("white", "#RRGGBB") the product is put on
  that colour and nothing is generated (no diffusion: segmentation, matte, colour). ``mask`` and ``alpha`` are
  the photo's. An unknown preset is a 422 at ``["body", "request", "preset"]`` naming the valid ones. With the
  body's ``exact_matte`` (opt-in, off by default) the answer adds ``matte`` (the photo's float32 matte) and
  ``depth`` (the depth map the drop shadow weighs; null without a depth unit) as exact arrays
  (``lib_garment.b64images.encode_array``): what a caller needs to frame the composite on a preset itself, as
  the catalogue's ``--broker`` coordinator does, byte for byte as the local runner.
- ``POST restore``  → the image with its faces and hands restored (``request.restore``; ``mask`` keeps pixels
  exact), and how (:mod:`.restore_route`)
- ``POST batch``, ``GET batch/{id}``, ``POST batch/{id}/stop``: catalogue runs (:mod:`.batch_routes`)

The POST routes take one body (:mod:`.body`: parsed and decoded in one go) and answer as :mod:`.answers` says
(422 naming each field, 424 for what must be installed first, 500 as one line). With ``--api-auth`` set, the
credentials must match: 401 with ``WWW-Authenticate: Basic`` otherwise (the WebUI protects only its own
``/sdapi`` routes, so these routes check the same credentials themselves).

The model-running routes take the WebUI's queue lock (:mod:`lib_garment.host.webui.queue`). No pipeline logic
here: the engine (``lib_garment.generate``, ``lib_garment.segment``, ``lib_garment.presets``) and the host's passes
(:mod:`lib_garment.host.passes`) do the work.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from modules import scripts, shared
from starlette.concurrency import run_in_threadpool

from lib_garment import __version__
from lib_garment.b64images import encode_array, encode_png
from lib_garment.errors import BadInput
from lib_garment.generate.composite import check_kept
from lib_garment.generate.plan import UnitPlan
from lib_garment.generate.prepare import Prepared, check_inputs, prepare, reference_units, segmentation_backends
from lib_garment.generate.tasks import control_units, map_kinds, unit_map
from lib_garment.host.passes.checks import JobChecks, check_generation
from lib_garment.host.passes.generation import delivery_info, run_plan
from lib_garment.host.passes.infotext import INFOTEXT_KEY, delivery_params, request_infotext, with_params
from lib_garment.host.passes.outputs import output_folder, save_delivered
from lib_garment.host.rest.answers import JSON_OBJECT_BODY, answer, json_response
from lib_garment.host.rest.batch_routes import BATCH_ROUTES
from lib_garment.host.rest.body import RouteJob, parse_body, unused_notes
from lib_garment.host.rest.evaluate_route import EVALUATE_ROUTE
from lib_garment.host.rest.restore_route import restore_job
from lib_garment.host.webui.progress import webui_progress
from lib_garment.host.webui.queue import queued
from lib_garment.host.webui.settings import current_settings, model_settings
from lib_garment.presets.deliver import Delivered, deliver_without_generation, map_depth, plain_background
from lib_garment.presets.load import load_presets, user_dir
from lib_garment.request import REQUEST_VERSION, request_json_schema
from lib_garment.segment.backends.assemble import run_segmentation
from lib_garment.segment.matte import alpha_to_uint8

PREFIX = "/garment-studio/v1"
TAG = "Garment Studio"


def _segmentation_json(segmentation: Any) -> dict[str, Any] | None:
    return segmentation.to_json() if segmentation is not None else None


# -- the routes' work (run in a worker thread) ---------------------------------------------------------------


def segment_job(job: RouteJob) -> dict[str, Any]:
    request, started, timings = job.request, time.perf_counter(), {}
    photo, source = check_inputs(request, job.photo, job.mask)
    with queued(timings), webui_progress() as progress:
        env = model_settings(progress)
        backends = segmentation_backends(request, env, from_mask=source == "mask")
        run = run_segmentation(photo, request.segment, backends, job.mask if source == "mask" else None)
    seg = run.segmentation
    info = {"mask_source": source, **run.to_json()}
    info["notes"] = [*info.get("notes", []), *unused_notes(job, "segment")]
    info["timings"] = {**info.get("timings", {}), **timings, "total_s": time.perf_counter() - started}
    return {
        "mask": encode_png(seg.mask),
        "alpha": encode_png(alpha_to_uint8(seg.alpha)),
        "trimap": encode_png(seg.trimap),
        "overlay": encode_png(seg.overlay(photo)),
        "info": info,
    }


def maps_job(job: RouteJob) -> dict[str, Any]:
    """The maps of the request's units. Segmentation runs only when a unit needs the mask (mask_canny): then
    through prepare() (as /generate does); else straight from the photo, as txt2img reference units are made."""
    request, started, timings = job.request, time.perf_counter(), {}
    notes = unused_notes(job, "maps")
    segmentation, source = None, None
    if "mask_canny" in map_kinds(request):
        photo, source = check_inputs(request, job.photo, job.mask, job.maps)
        with queued(timings), webui_progress() as progress:
            prepared = prepare(request, photo, model_settings(progress), mask=job.mask, supplied_maps=job.maps)
        units, segmentation = prepared.plan.units, prepared.segmentation
        notes = [*prepared.notes, *notes]
        timings.update(prepared.timings)
    else:
        height, width = job.photo.shape[:2]
        supplied = tuple(UnitPlan(kind, unit_map(kind, array, (width, height))) for kind, array in job.maps.items())
        missing = [unit for unit in control_units(request) if unit.kind not in job.maps]
        with queued(timings), webui_progress() as progress:
            # The caller's depth map, when given, is what a normal unit's map is made from, as /generate does.
            depth = job.maps.get("depth")
            units = reference_units(
                request.copy(update={"control": missing}), job.photo, model_settings(progress), depth=depth
            )
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


def _image_b64(delivered: Delivered | None, composite: Any) -> str:
    """An answer's image: the delivered file's bytes (a preset's JPEG as checked), else the composite as PNG."""
    return base64.b64encode(delivered.encoded.data).decode("ascii") if delivered is not None else encode_png(composite)


def exact_matte(job: RouteJob, prepared: Prepared) -> dict[str, Any]:
    """The body's ``exact_matte`` asked: the float matte and the depth map that framing takes, exactly (a PNG of
    the matte rounds it to 1/255, which moves the framed pixels); nothing otherwise, so the answer is unchanged."""
    if not job.exact_matte:
        return {}
    depth = map_depth(prepared.maps)
    return {
        "matte": encode_array(prepared.segmentation.alpha),
        "depth": encode_array(depth) if depth is not None else None,
    }


def plain_job(job: RouteJob, photo: Any, checks: JobChecks) -> dict[str, Any]:
    """``output.background`` set: the product on that colour, no diffusion (the engine's
    ``deliver_without_generation``: segmentation or the body's mask, matte, colour, the preset's frame)."""
    request, started, timings = job.request, time.perf_counter(), {}
    with queued(timings), webui_progress() as progress:
        prepared, delivered = deliver_without_generation(
            request, photo, model_settings(progress), mask=job.mask, presets=checks.presets
        )
    text = with_params("", {**delivery_params(delivered), INFOTEXT_KEY: request_infotext(request)})
    files = []
    if job.save_images:
        files.append(save_delivered(delivered, output_folder(), None, request.prompt, text))
    kept = [] if delivered.framed is not None else [check_kept(photo, delivered.image, prepared.plan.keep_alpha)]
    info = {
        **prepared.to_json(),
        "seeds": [],
        "infotexts": [text],
        "files": files,
        "controlnet": "none: nothing was generated (plain background)",
        "kept": [check.to_json() for check in kept],
        "interrupted": False,
        "generated": False,
        **delivery_info([delivered]),
    }
    info["notes"] = [*prepared.notes, *delivered.notes]
    if job.maps:
        info["notes"].append("the body's maps were not used: nothing is generated on a plain background")
    info["timings"] = {**prepared.timings, **timings, "total_s": time.perf_counter() - started}
    seg = prepared.segmentation
    return {
        "images": [_image_b64(delivered, None)],
        "info": info,
        "mask": encode_png(seg.mask),
        "alpha": encode_png(alpha_to_uint8(seg.alpha)),
        **exact_matte(job, prepared),
    }


def generate_job(job: RouteJob) -> dict[str, Any]:
    request, started, timings = job.request, time.perf_counter(), {}
    photo, _ = check_inputs(request, job.photo, job.mask, job.maps)
    checks = check_generation(request, scripts.scripts_img2img)  # 422 / 424 before any model runs or queue wait
    if plain_background(request):
        return plain_job(job, photo, checks)
    with queued(timings) as state:
        state.job_count = request.generation.batch_count
        with webui_progress() as progress:
            prepared = prepare(
                request, photo, model_settings(progress), mask=job.mask, supplied_maps=job.maps, units=checks.units
            )
        state.job_count = prepared.plan.batch_count
        generating = time.perf_counter()
        result = run_plan(prepared.plan, request, checks, save=job.save_images)
        timings["generate_s"] = time.perf_counter() - generating
    info = {**prepared.to_json(), **result.info, "notes": [*prepared.notes, *result.info.get("notes", [])]}
    info["timings"] = {**prepared.timings, **timings, "total_s": time.perf_counter() - started}
    seg = prepared.segmentation
    info["generated"] = True
    return {
        "images": [_image_b64(done, image) for done, image in zip(result.delivered, result.images, strict=True)],
        "info": info,
        "mask": encode_png(seg.mask),
        "alpha": encode_png(alpha_to_uint8(seg.alpha)),
        **exact_matte(job, prepared),
    }


# -- auth and routes -----------------------------------------------------------------------------------------

_basic = HTTPBasic(auto_error=False)


def api_credentials() -> dict[str, str]:
    """``--api-auth user:pass,user2:pass2`` as {user: password}; empty when the flag is not set."""
    text = getattr(shared.cmd_opts, "api_auth", None) or ""
    return dict(entry.split(":", 1) for entry in text.split(",") if ":" in entry)


async def require_auth(request: Request) -> None:
    """With ``--api-auth`` set, HTTP Basic credentials matching one of its pairs (as the WebUI's Api.auth).

    Without it no credentials are asked for and none are read, as on the WebUI's own routes: a request carrying
    an Authorization header of another kind, or a malformed one (a proxy's, a browser's), is not refused."""
    allowed = api_credentials()
    if not allowed:
        return
    try:
        credentials: HTTPBasicCredentials | None = await _basic(request)
    except HTTPException:  # a malformed Basic header: the same 401 as wrong credentials
        credentials = None
    if credentials is not None:
        expected = allowed.get(credentials.username)
        given = credentials.password.encode("utf8")
        if expected is not None and secrets.compare_digest(given, expected.encode("utf8")):
            return
    raise HTTPException(status_code=401, detail="Incorrect username or password", headers={"WWW-Authenticate": "Basic"})


def _post(work: Callable[[RouteJob], dict[str, Any]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        return await run_in_threadpool(answer, lambda: work(parse_body(raw)))

    endpoint.__name__ = f"garment_studio_{work.__name__}"
    endpoint.__doc__ = work.__doc__
    return endpoint


def version() -> dict[str, Any]:
    return {"version": __version__, "request_version": REQUEST_VERSION}


def schema() -> dict[str, Any]:
    return request_json_schema()


def presets() -> Response:
    """Every preset with its rules and sources; a broken user preset file is a 500 naming the file and key."""
    models = current_settings().models_root()
    try:
        found = load_presets(models)
    except BadInput as err:
        return json_response({"error": "PresetFileInvalid", "detail": str(err)}, 500)
    return json_response(
        {
            "presets": [preset.to_json() for preset in found.presets.values()],
            "notes": list(found.notes),
            "user_dir": str(user_dir(models)),
        }
    )


BODY_DOC = (
    'JSON body: {"request": {...} (see GET schema), "image": base64 photo, "mask": base64 keep mask (white = keep) '
    'or null, "maps": {kind: base64} or null, "save_images": false, "exact_matte": false (generate: also the '
    "float matte and the depth map, exactly)}"
)
ROUTES: tuple[tuple[str, str, Callable[..., Any], str], ...] = (
    ("GET", "version", version, "Garment Studio's version and the request model's version"),
    ("GET", "schema", schema, "JSON schema of the Garment Studio request"),
    ("GET", "presets", presets, "The marketplace presets: their canvas, rules and public sources"),
    ("POST", "segment", _post(segment_job), "Segment the photo: mask, alpha, trimap and overlay (base64 PNG)"),
    ("POST", "maps", _post(maps_job), "The control maps of the request's units (base64 PNG by kind)"),
    (
        "POST",
        "generate",
        _post(generate_job),
        "Generate: composited images (a preset's files, with their compliance reports), the plan, the kept check",
    ),
    ("POST", "restore", _post(restore_job), "Restore the faces and hands of an image (request.restore options)"),
)


def register_routes(demo: Any, app: FastAPI) -> None:
    """``on_app_started(demo, app)``: add the routes (again after a reload: the old ones are replaced)."""
    table = [
        (method, name, endpoint, summary, *((BODY_DOC, JSON_OBJECT_BODY) if method == "POST" else (summary, None)))
        for method, name, endpoint, summary in ROUTES
    ]
    table += list(BATCH_ROUTES)  # the catalogue routes (batch_routes.py)
    table.append(EVALUATE_ROUTE)  # evaluate_route.py
    paths = {f"{PREFIX}/{row[1]}" for row in table}
    app.router.routes[:] = [route for route in app.router.routes if getattr(route, "path", None) not in paths]
    for method, name, endpoint, summary, description, extra in table:
        app.add_api_route(
            f"{PREFIX}/{name}",
            endpoint,
            methods=[method],
            dependencies=[Depends(require_auth)],
            tags=[TAG],
            summary=summary,
            description=description or summary,
            openapi_extra=extra,
        )
    app.openapi_schema = None  # rebuilt with our routes on the next /docs
