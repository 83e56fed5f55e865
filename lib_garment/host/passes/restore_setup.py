"""What a restore job needs before its first pass: the models (made once per generation and kept on its
processing object) and the optional crop unit with its ControlNet.

The options were checked up front (:mod:`lib_garment.host.passes.checks`, before any model ran); the check's
:class:`~lib_garment.host.passes.checks.JobChecks` rides on the processing object and brings the crop unit's
ControlNet bridge. :func:`restore_job_of` makes the detectors, skin and matting models and the crop unit's maker
(:mod:`lib_garment.restore.models`, :mod:`lib_garment.restore.control`) with the WebUI's settings.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.errors import GarmentError
from lib_garment.host.passes.checks import JobChecks, checks_of
from lib_garment.host.webui.controlnet import ControlNetBridge
from lib_garment.host.webui.settings import model_settings
from lib_garment.request import GarmentRequest
from lib_garment.restore.control import CropControl, crop_control
from lib_garment.restore.models import RestoreModels, build_restore_models

RESTORE_JOB_ATTR = "_garment_studio_restore_job"  # the restore job made once per generation, on the parent p
# The options that decide which models a job makes (the cache key of RESTORE_JOB_ATTR).
MODEL_FIELDS = {
    "faces",
    "hands",
    "face_detector",
    "hand_detector",
    "confidence",
    "matte",
    "skin_model",
    "skin_model_path",
    "controlnet",
}


@dataclass
class RestoreJob:
    """The models, the crop unit's maker and its ControlNet (bridge and resolved model title) of one job."""

    models: RestoreModels
    control: CropControl | None = None
    bridge: ControlNetBridge | None = None
    control_model: str | None = None
    notes: list[str] = field(default_factory=list)


def _extra_folders() -> tuple[Path, ...]:
    """ADetailer's models folder, whose YOLO files are reused when they are the registry's."""
    try:
        from modules import paths

        folder = Path(paths.models_path) / "adetailer"
    except (ImportError, AttributeError):
        return ()
    return (folder,) if folder.is_dir() else ()


def make_restore_job(request: GarmentRequest, checks: JobChecks) -> RestoreJob:
    """The job's models and crop unit with the WebUI's settings (models folder, offline, trust, runtime); the
    crop unit's ControlNet bridge and model are those the job's up-front check resolved."""
    if not checks.restore:
        raise GarmentError("internal error: a restore job whose options were not checked up front")
    env = model_settings()
    models = build_restore_models(request.restore, env, extra_folders=_extra_folders())
    control = crop_control(request, env)
    bridge, title = (checks.restore_controlnet, checks.restore_control_model) if control is not None else (None, None)
    return RestoreJob(models, control, bridge, title, list(models.notes))


def restore_job_of(p: Any, request: GarmentRequest) -> RestoreJob:
    """The job for ``p``'s generation: made at its first image, reused for the others (same options)."""
    key = request.restore.json(include=MODEL_FIELDS)
    cached = getattr(p, RESTORE_JOB_ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    job = make_restore_job(request, checks_of(p))
    with contextlib.suppress(AttributeError):
        setattr(p, RESTORE_JOB_ATTR, (key, job))
    return job
