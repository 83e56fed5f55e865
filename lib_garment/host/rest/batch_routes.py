"""The catalogue routes, ``/garment-studio/v1/batch``: start a run, watch it, stop it.

- ``POST batch`` → 202 ``{"id", "status", "jobs", "folder", "notes"}``. The body (:class:`BatchBody`) names the
  manifest on the server (``manifest``: a CSV/JSONL file or a photo folder, under the catalogue folder of the
  Settings page) or carries it (``rows``: the JSONL form's objects, ``photos``: the files they name, base64 by
  file name); ``request`` is the base request (the one ``GarmentRequest``) each row starts from; ``output`` the
  output folder's name under the catalogue folder, which is also the run's id. Posting again with the same
  output resumes: done jobs are skipped. A bad manifest is a 422 with one entry per problem (row number and
  column in each message); a path outside the catalogue folder a 422 naming the field; a missing ControlNet or
  model a 424; a run already going on that folder a 409.
- ``GET batch/{id}`` → status (running, stopping, finished, stopped, failed), counts, every job's record with its
  files (relative to ``folder``), the run's notes and log lines; 404 for an unknown id.
- ``POST batch/{id}/stop`` → the same report, the run stopping after its running job; 404 for an unknown id.

Errors are answered as the other routes' (:mod:`.answers`); ``--api-auth`` is applied where the routes are
registered (:mod:`.routes`). The runs themselves are :mod:`lib_garment.host.passes.catalogue_runs`'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lib_garment.b64images import decode_base64
from lib_garment.catalogue.manifest import ManifestProblems
from lib_garment.errors import BadInput
from lib_garment.host.passes.catalogue_runs import RUNS, CatalogueStart, RunConflict, UnknownRun
from lib_garment.host.rest.answers import (
    JSON_OBJECT_BODY,
    Refused,
    answer,
    body_problems,
    invalid,
    json_object,
    problem,
)
from lib_garment.pydantic_compat import Field, StrictBool, StrictStr, ValidationError
from lib_garment.request import GarmentRequest, StrictModel

# An uploaded file's name: one plain name (no folders, not hidden), as the rows' image and mask columns name it.
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,200}")
MAX_ROWS = 10_000


class BatchBody(StrictModel):
    """The body of ``POST batch``: a manifest on the server, or the rows and photos inline."""

    manifest: StrictStr | None = Field(
        None,
        description="A .csv/.jsonl manifest or a folder of photos on the server: relative to the catalogue folder "
        "(Settings → Garment Studio) or absolute inside it.",
    )
    rows: list[dict[str, Any]] | None = Field(
        None,
        description="The manifest inline: one object per SKU (sku, image, mask, keep, task, prompt, negative_prompt, "
        "preset, variants, seed, request); image and mask name files of photos.",
    )
    photos: dict[StrictStr, StrictStr] | None = Field(
        None, description="With rows: the photos and masks they name, base64 by file name."
    )
    request: GarmentRequest = Field(
        default_factory=GarmentRequest, description="The base request every row starts from."
    )
    output: StrictStr = Field(
        ..., description="The output folder's name under the catalogue folder; also the run's id (same name: resume)."
    )
    retry_failed: StrictBool = Field(False, description="Run only the jobs that failed before.")
    max_failures: int | None = Field(None, ge=1, description="Stop after this many jobs failed in this run.")


def _source_problems(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Exactly one manifest source, photos only with rows, every photo a plain file name."""
    found = []
    has_manifest, has_rows = data.get("manifest") is not None, data.get("rows") is not None
    if has_manifest == has_rows:
        found.append(
            problem(["body", "manifest"], "give either manifest (a path on the server) or rows (inline)", "value_error")
        )
    if data.get("photos") is not None and not has_rows:
        message = "photos go with rows (a manifest on the server names its own)"
        found.append(problem(["body", "photos"], message, "value_error"))
    if isinstance(data.get("rows"), list) and len(data["rows"]) > MAX_ROWS:
        found.append(problem(["body", "rows"], f"at most {MAX_ROWS} rows in one body", "value_error"))
    photos = data.get("photos")
    if isinstance(photos, dict):
        message = "a photo's name is one plain file name (no folders)"
        found += [
            problem(["body", "photos", name], message, "value_error")
            for name in photos
            if isinstance(name, str) and (not _FILE_NAME.fullmatch(name) or ".." in name)
        ]
    return found


def parse_batch_body(raw: bytes) -> tuple[BatchBody, dict[str, Any], dict[str, bytes]]:
    """The body checked (Refused 422 naming every problem): the model, the raw base request (what the rows are
    laid over, as written) and the photos' bytes by name."""
    data = json_object(raw)
    problems: list[dict[str, Any]] = []
    body = None
    try:
        body = BatchBody.parse_obj(data)
    except ValidationError as err:
        problems = body_problems(err)
    problems += _source_problems(data)
    photos: dict[str, bytes] = {}
    for name, text in (data.get("photos") or {}).items() if isinstance(data.get("photos"), dict) else ():
        if isinstance(name, str) and isinstance(text, str):
            try:
                photos[name] = decode_base64(text, f"photos.{name}")
            except BadInput as err:
                problems.append(problem(["body", "photos", name], str(err), "value_error.image"))
    if problems or body is None:
        raise invalid(problems)
    base = data.get("request") if isinstance(data.get("request"), dict) else {}
    return body, base, photos


def _manifest_refused(err: ManifestProblems, inline: bool) -> Refused:
    where = ["body", "rows" if inline else "manifest"]
    return invalid([problem(where, text, "value_error.manifest") for text in err.problems])


def start_job(raw: bytes) -> dict[str, Any]:
    body, base, photos = parse_batch_body(raw)
    inline = body.rows is not None
    upload = None
    manifest = body.manifest or ""
    try:
        if inline:
            upload = RUNS.new_upload()
            for name, data in photos.items():
                (upload / name).write_bytes(data)
            lines = (json.dumps(row, ensure_ascii=False) for row in body.rows or [])
            (upload / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            manifest = str(upload / "manifest.jsonl")
        start = CatalogueStart(manifest, body.output, base, body.retry_failed, body.max_failures)
        run = RUNS.start(start, upload=upload)
    except ManifestProblems as err:
        raise _manifest_refused(err, inline) from None
    except RunConflict as err:
        raise Refused(409, {"error": "Conflict", "detail": str(err)}) from None
    report = RUNS.report(run.id)
    return {key: report[key] for key in ("id", "status", "folder", "counts", "total", "notes")} | {"jobs": run.jobs}


def _known(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return work()
    except UnknownRun as err:
        raise Refused(404, {"error": "NotFound", "detail": str(err)}) from None


async def start_batch(request: Request) -> Response:
    raw = await request.body()
    response = await run_in_threadpool(answer, lambda: start_job(raw))
    if response.status_code == 200:
        response.status_code = 202  # accepted: the run goes on in the background
    return response


async def batch_status(run_id: str) -> Response:
    return await run_in_threadpool(answer, lambda: _known(lambda: RUNS.report(run_id)))


async def stop_batch(run_id: str) -> Response:
    return await run_in_threadpool(answer, lambda: _known(lambda: RUNS.stop(run_id)))


BATCH_BODY_DOC = (
    'JSON body: {"manifest": "shoot/catalogue.csv" (on the server, under the catalogue folder) or "rows": '
    '[{"sku", "image", ...}] with "photos": {name: base64}, "request": {...} (the base request), "output": "name", '
    '"retry_failed": false, "max_failures": null}'
)
# (method, name under the prefix, endpoint, summary, description, openapi_extra)
BATCH_ROUTES: tuple[tuple[str, str, Callable[..., Any], str, str, dict[str, Any] | None], ...] = (
    (
        "POST",
        "batch",
        start_batch,
        "Start (or resume) a catalogue run in the background",
        BATCH_BODY_DOC,
        JSON_OBJECT_BODY,
    ),
    ("GET", "batch/{run_id}", batch_status, "A catalogue run: status, counts, every job's record", "", None),
    ("POST", "batch/{run_id}/stop", stop_batch, "Stop a catalogue run after its running job", "", None),
)
