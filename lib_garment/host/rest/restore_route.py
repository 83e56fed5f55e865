"""``POST /garment-studio/v1/restore``: a finished image's faces and hands restored, under the WebUI's queue lock.

The body is the other routes' (``{"request": {...}, "image": b64, "mask": b64 keep mask | null}``): the request's
``restore`` options say what to restore and how (``enabled`` is implied by calling this route), its ``prompt`` and
``negative_prompt`` are the image's own (``[PROMPT]``, and the prompt of passes without one of their own), its
``seed`` the first pass's (-1: a random one, reported). The mask's white pixels stay exact (the garment).

Answer: ``{"image": b64 PNG, "info": {"restore": the one-line summary, "seed", "prompt", "steps", "cfg_scale",
"sampler", "kept" (with a mask), "request", "notes", "timings"}}``. Statuses as the other routes: 422 naming the
field (bad options, a mask of another size), 424 when a detector file, the skin model or the ControlNet model of
``restore.controlnet`` must be installed first.
"""

from __future__ import annotations

import time
from typing import Any

from modules import scripts

from lib_garment.b64images import encode_png
from lib_garment.errors import BadInput
from lib_garment.host.passes.checks import check_restoring
from lib_garment.host.passes.restore_run import restore_standalone
from lib_garment.host.rest.body import RouteJob, unused_notes
from lib_garment.host.webui.queue import queued


def restore_job(job: RouteJob) -> dict[str, Any]:
    """Restore the image's faces and hands (``request.restore``; the mask's white pixels stay exact); every
    check runs before the queue and any model."""
    started, timings = time.perf_counter(), {}
    request = job.request
    checks = check_restoring(request, scripts.scripts_img2img)
    height, width = job.photo.shape[:2]
    if job.mask is not None and job.mask.shape[:2] != (height, width):
        raise BadInput(f"the mask is {job.mask.shape[1]}x{job.mask.shape[0]} but the image is {width}x{height}")
    notes = unused_notes(job, "restore")
    with queued(timings):
        result = restore_standalone(job.photo, job.mask, request, checks)
    info = {**result.info, "notes": notes}
    info["timings"] = {**result.info["timings"], **timings, "total_s": time.perf_counter() - started}
    return {"image": encode_png(result.image), "info": info}
