"""A detector by name (``DETECTOR_NAMES``) or by the path of a YOLO file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lib_garment.errors import BadInput
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.yolo import CONFIG_SUBDIR
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.restore.detect import Kind, PartDetector
from lib_garment.restore.detectors.common import check_kind
from lib_garment.restore.detectors.haar import HAAR_FACE, HaarFaceDetector
from lib_garment.restore.detectors.mediapipe import (
    MEDIAPIPE_FACE_MODELS,
    MEDIAPIPE_HANDS,
    MediapipeFaceDetector,
    MediapipeHandDetector,
)
from lib_garment.restore.detectors.yolo import DEFAULT_YOLO_PARAMS, YOLO_MODEL_NAMES, YoloDetector, YoloParams
from lib_garment.runtime import ModelRuntime

DETECTOR_NAMES = (*YOLO_MODEL_NAMES, *MEDIAPIPE_FACE_MODELS, MEDIAPIPE_HANDS, HAAR_FACE)


def resolve_yolo_model(
    model: str,
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
    extra_folders: Iterable[Path] = (),
) -> Path:
    """The verified file for a registry name (``face_yolov8n`` or ADetailer's ``face_yolov8n.pt``; found in
    our folder, ``models/adetailer`` or ``extra_folders``, else downloaded when allowed) or for a path (loaded
    when it is a registry file byte for byte, or when unverified files are trusted)."""
    from lib_garment.models import registry
    from lib_garment.models.store import ensure_model
    from lib_garment.models.weights import user_file

    stem = model.removesuffix(".pt")
    if stem in YOLO_MODEL_NAMES:
        # Looked up at call time, so a test can stand a registry of its own in for the real one.
        spec = registry.get_spec(stem, registry.MODELS)
        return ensure_model(
            spec,
            models_root,
            offline=offline,
            progress=progress,
            trust_unverified=trust_unverified,
            extra_folders=extra_folders,
        )
    path = Path(model).expanduser()
    if path.is_file():
        return user_file(path, "restore", models_root, trust_unverified=trust_unverified, progress=progress).path
    if path.suffix or "/" in model or "\\" in model:
        raise BadInput(f"detector model {model}: no such file")
    raise BadInput(f"unknown detector {model!r}; use one of {', '.join(DETECTOR_NAMES)}, or the path of a .pt file")


def make_detector(
    model: str,
    models_root: Path | None = None,
    *,
    kind: Kind | None = None,
    device: str | None = None,
    params: YoloParams = DEFAULT_YOLO_PARAMS,
    min_confidence: float = 0.3,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
    extra_folders: Iterable[Path] = (),
    runtime: ModelRuntime | None = None,
) -> PartDetector:
    """A ready detector by name (see ``DETECTOR_NAMES``) or YOLO file path; YOLO files are found (or
    downloaded) and verified now, loaded at the first image."""
    if not isinstance(model, str) or not model.strip():
        raise BadInput(f"detector must be a name or a path, got {model!r}")
    model = model.strip()
    check_kind(kind)
    if model in MEDIAPIPE_FACE_MODELS:
        return MediapipeFaceDetector(model, min_confidence)
    if model == MEDIAPIPE_HANDS:
        return MediapipeHandDetector(min_confidence)
    if model == HAAR_FACE:
        return HaarFaceDetector()
    from lib_garment.paths import models_root as default_models_root

    root = Path(models_root) if models_root is not None else default_models_root()
    path = resolve_yolo_model(
        model,
        root,
        offline=offline,
        progress=progress,
        trust_unverified=trust_unverified,
        extra_folders=extra_folders,
    )
    return YoloDetector(path, kind, device, params, runtime, root / MODELS_SUBDIR / CONFIG_SUBDIR)
