"""What a restore job needs from the WebUI before its first pass: options checked, ControlNet for the optional
crop unit, and the models (made once per generation and kept on its processing object).

:func:`check_restore` is what every entry point calls before any model runs (always-on script, img2img script,
REST ``generate`` and ``restore``, the tab): bad options are BadInput naming the field; a ControlNet unit asked
for without ControlNet, or without a model of its kind, is ControlNetMissing / ModelUnavailable naming what to
install. :func:`restore_job` makes the detectors, skin and matting models and the crop unit's maker
(:mod:`lib_garment.restore.models`, :mod:`lib_garment.restore.control`) with the WebUI's settings.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.host.controlnet import (
    INSTALL_HINT,
    ControlNetBridge,
    ControlNetMissing,
    find_cn_script,
    find_controlnet,
)
from lib_garment.host.jobs import engine_environment
from lib_garment.request import GarmentRequest, RestoreOptions
from lib_garment.restore.control import CropControl, crop_control
from lib_garment.restore.models import RestoreModels, build_restore_models
from lib_garment.restore.options import check_options

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


def check_restore(options: RestoreOptions, runner: Any) -> ControlNetBridge | None:
    """Every restore option checked before any model runs (see the module docstring); the ControlNet bridge of
    the crop unit, or None when no unit is asked for. ``runner``: the script runner the nested passes copy."""
    check_options(options)
    unit = options.controlnet
    if unit is None:
        return None
    bridge = find_controlnet()
    if bridge is None or find_cn_script(runner) is None:
        raise ControlNetMissing(f"restore.controlnet ({unit.kind}) needs ControlNet: {INSTALL_HINT}")
    bridge.resolve([(unit.kind, unit.model)])
    return bridge


def _extra_folders() -> tuple[Path, ...]:
    """ADetailer's models folder, whose YOLO files are reused when they are the registry's."""
    try:
        from modules import paths

        folder = Path(paths.models_path) / "adetailer"
    except (ImportError, AttributeError):
        return ()
    return (folder,) if folder.is_dir() else ()


def make_restore_job(request: GarmentRequest, runner: Any) -> RestoreJob:
    """The job's models and crop unit with the WebUI's settings (models folder, offline, trust, runtime)."""
    options = request.restore
    bridge = check_restore(options, runner)
    env = engine_environment()
    models = build_restore_models(options, env, extra_folders=_extra_folders())
    control = crop_control(request, env)
    title = None
    if control is not None and bridge is not None:
        (title,) = bridge.resolve([(control.kind, control.unit.model)])
    return RestoreJob(models, control, bridge, title, list(models.notes))


def restore_job(p: Any, request: GarmentRequest) -> RestoreJob:
    """The job for ``p``'s generation: made at its first image, reused for the others (same options)."""
    key = request.restore.json(include=MODEL_FIELDS)
    cached = getattr(p, RESTORE_JOB_ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    job = make_restore_job(request, getattr(p, "scripts", None))
    with contextlib.suppress(AttributeError):
        setattr(p, RESTORE_JOB_ATTR, (key, job))
    return job
