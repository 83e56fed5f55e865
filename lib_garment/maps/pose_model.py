"""YOLOv8-pose as the pose estimator: COCO-17 keypoints of every person, in the photo's own pixels.

The model is loaded with ``ultralytics.YOLO(path)`` only after its file passed the registry's SHA-256 check
(``yolov8n-pose``), or, for a file the user names, after they said they trust unverified files: a ``.pt``
file is a pickle, and unpickling runs code. ultralytics' own predictor letterboxes the image, runs the
model, applies NMS and maps boxes and keypoints back to the original image, so keypoints come back in the
caller's pixels whatever the image size.

ultralytics needs no transformers, so the model runs in the WebUI's process (the runtime's ``auto`` choice);
``GARMENT_MODEL_RUNTIME=worker`` moves it into the model worker like every other family. Before ultralytics
is first imported, :func:`lib_garment.models.yolo.prepare_ultralytics` makes it offline-safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.maps.scale import model_copy
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.yolo import (
    CONFIG_SUBDIR,
    YOLO_REQUIREMENT,
    check_predict_params,
    load_yolo,
    predict_resident,
)
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.runtime import ModelRuntime, get_runtime
from lib_garment.runtime.devices import check_device

POSE_REQUIREMENT = YOLO_REQUIREMENT
DEFAULT_POSE_MODEL = "yolov8n-pose"
POSE_MODEL_NAMES = ("yolov8n-pose", "yolov8s-pose")  # registry entries of the "pose" family
COCO_KEYPOINTS = 17


@dataclass(frozen=True)
class PoseModelParams:
    """How people are detected. ``conf``: the least person (box) confidence kept, ultralytics' 0.25 by default;
    ``iou``: NMS overlap; ``imgsz``: the letterboxed side the model sees (640, what YOLOv8-pose was trained at);
    ``max_people``: at most this many, most confident first; ``half``: FP16 on CUDA."""

    conf: float = 0.25
    iou: float = 0.7
    imgsz: int = 640
    max_people: int = 20
    half: bool = False

    def __post_init__(self) -> None:
        what = "person confidence threshold"
        check_predict_params(self.conf, self.iou, self.imgsz, self.max_people, what=what, count_name="max_people")


DEFAULT_POSE_MODEL_PARAMS = PoseModelParams()


@dataclass(frozen=True, eq=False)
class PeopleFound:
    """Detections, most confident first: ``keypoints`` (N, 17, 3) float32 (x, y in the image's pixels,
    confidence), ``boxes`` (N, 4) float32 x1, y1, x2, y2 in pixels, ``scores`` (N,) float32 person confidence."""

    keypoints: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray


# -- the engine function (runs in whichever process the runtime chose) ------------------------------------------


def load_yolo_pose(model_path: str, device: str) -> Any:
    """``ultralytics.YOLO(model_path)`` on ``device``, checked to be a COCO-17 pose model.

    The caller has verified the file (hash or explicit trust): this function only loads.
    """
    model = load_yolo(model_path, device, ("pose",), "a pose model (e.g. yolov8n-pose.pt)")
    network = model.model
    if getattr(network, "kpt_shape", None) is None:
        # Models built from a yaml and saved without training lack kpt_shape, which the predictor needs
        # (environment notes §2d); the yaml they carry has it.
        kpt_shape = (getattr(network, "yaml", None) or {}).get("kpt_shape")
        if kpt_shape is None:
            raise BadInput(f"{model_path} is a pose model without a keypoint shape (kpt_shape)")
        network.kpt_shape = tuple(kpt_shape)
    kpt_shape = tuple(int(v) for v in network.kpt_shape)
    if kpt_shape[0] != COCO_KEYPOINTS or kpt_shape[1] not in (2, 3):
        raise BadInput(f"{model_path} predicts {kpt_shape[0]} keypoints; the pose map needs the 17 COCO keypoints")
    return model


def detect_people(
    image: np.ndarray,
    model_path: str,
    device: str | None = None,
    params: PoseModelParams = DEFAULT_POSE_MODEL_PARAMS,
    config_dir: str | None = None,
) -> PeopleFound:
    """Every person in ``image`` ((H, W, 3) uint8 RGB) with their COCO-17 keypoints, in the image's pixels.

    The model stays resident (``cached_model``) under its path and device.
    """
    result = predict_resident(
        "yolo-pose",
        model_path,
        image,
        device,
        load_yolo_pose,
        config_dir,
        conf=params.conf,
        iou=params.iou,
        imgsz=params.imgsz,
        max_det=params.max_people,
        half=params.half,
    )
    boxes = result.boxes
    count = 0 if boxes is None else len(boxes)
    if count == 0 or result.keypoints is None:
        empty = np.zeros((0,), np.float32)
        return PeopleFound(np.zeros((0, COCO_KEYPOINTS, 3), np.float32), np.zeros((0, 4), np.float32), empty)
    scores = boxes.conf.float().cpu().numpy()
    xyxy = boxes.xyxy.float().cpu().numpy()
    points = result.keypoints.data.float().cpu().numpy()
    if points.shape[-1] == 2:  # a model without keypoint visibility: each point is as sure as its person
        points = np.concatenate([points, np.broadcast_to(scores[:, None, None], (*points.shape[:2], 1))], axis=-1)
    order = np.argsort(-scores, kind="stable")
    return PeopleFound(
        np.ascontiguousarray(points[order], np.float32),
        np.ascontiguousarray(xyxy[order], np.float32),
        np.ascontiguousarray(scores[order], np.float32),
    )


# -- the estimator (what compute_maps calls) --------------------------------------------------------------------


@dataclass(frozen=True)
class YoloPoseEstimator:
    """A :class:`~lib_garment.maps.compute.PoseEstimator` backed by a verified YOLO pose file.

    ``runtime``: where it runs (None: ``get_runtime(POSE_REQUIREMENT)`` at the first call, i.e. in-process
    unless ``GARMENT_MODEL_RUNTIME=worker``). ``config_dir``: ultralytics' settings folder when
    ``YOLO_CONFIG_DIR`` is not set.
    """

    model_path: Path
    device: str | None = None
    params: PoseModelParams = DEFAULT_POSE_MODEL_PARAMS
    runtime: ModelRuntime | None = field(default=None, compare=False)
    config_dir: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", check_device(self.device))

    @cached_property
    def name(self) -> str:
        """Names the file (path, size, modification time) and the detection settings: a cache key part."""
        stat = Path(self.model_path).stat()
        p = self.params
        return (
            f"yolo-pose:{Path(self.model_path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}:"
            f"conf={p.conf}:iou={p.iou}:imgsz={p.imgsz}:max={p.max_people}:half={p.half}"
        )

    def detect(self, image: np.ndarray) -> PeopleFound:
        runtime = self.runtime if self.runtime is not None else get_runtime(POSE_REQUIREMENT)
        small, to_x, to_y = model_copy(image)  # YOLO sees 640 px: a bounded copy crosses to it, never the photo
        found: PeopleFound = runtime.call(
            "lib_garment.maps.pose_model:detect_people",
            small,
            str(self.model_path),
            self.device,
            self.params,
            str(self.config_dir) if self.config_dir is not None else None,
        )
        if small is image:
            return found
        keypoints = found.keypoints.copy()
        keypoints[..., 0] *= to_x
        keypoints[..., 1] *= to_y
        boxes = found.boxes * np.array([to_x, to_y, to_x, to_y], np.float32)
        return PeopleFound(keypoints, boxes.astype(np.float32), found.scores)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.detect(image).keypoints


def resolve_pose_model(
    model: str,
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
) -> Path:
    """The verified pose model file for a registry name (downloaded when missing and allowed) or a path.

    A registry name goes through ``ensure_model`` (SHA-256 checked; ``yolov8s-pose`` has no known hash and
    needs ``trust_unverified``). A path the user names is a pickle of unknown origin: it is loaded only when
    unverified files are trusted (argument, or ``GARMENT_TRUST_UNVERIFIED=1``).
    """
    from lib_garment.models import registry
    from lib_garment.models.store import ensure_model, verify_file

    if model in POSE_MODEL_NAMES:
        # Looked up at call time, so a test can stand a registry of its own in for the real one.
        spec = registry.get_spec(model, registry.MODELS)
        return ensure_model(spec, models_root, offline=offline, progress=progress, trust_unverified=trust_unverified)
    path = Path(model).expanduser()
    if path.is_file():
        return verify_file(path, None, trust=trust_unverified)
    if path.suffix or os.sep in model or "/" in model:
        raise BadInput(f"pose model {model}: no such file")
    raise BadInput(f"unknown pose model {model!r}; use {' or '.join(POSE_MODEL_NAMES)}, or the path of a .pt file")


def pose_estimator(
    model: str = DEFAULT_POSE_MODEL,
    models_root: Path | None = None,
    *,
    device: str | None = None,
    params: PoseModelParams = DEFAULT_POSE_MODEL_PARAMS,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
    runtime: ModelRuntime | None = None,
) -> YoloPoseEstimator:
    """A ready pose estimator: the model file found (or downloaded) and verified now, loaded on first use."""
    from lib_garment.paths import models_root as default_models_root

    root = Path(models_root) if models_root is not None else default_models_root()
    path = resolve_pose_model(model, root, offline=offline, progress=progress, trust_unverified=trust_unverified)
    return YoloPoseEstimator(path, device, params, runtime, root / MODELS_SUBDIR / CONFIG_SUBDIR)
