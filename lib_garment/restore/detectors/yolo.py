"""ADetailer's YOLOv8 face and hand detectors through ultralytics.

``face_yolov8n``, ``face_yolov8s`` and ``hand_yolov8n`` from ``Bingsu/adetailer``: the registry's
files, verified by SHA-256 through ``ensure_model``, which also finds the copies ADetailer keeps in
``models/adetailer``. A file the user names is loaded when it is byte for byte a registry file, or when they
trust unverified files (a ``.pt`` is a pickle: loading it runs code). Like the pose model, it runs through the
model runtime (in-process unless ``GARMENT_MODEL_RUNTIME=worker``); a segmentation model's masks come back
at the image's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.models.yolo import (
    YOLO_REQUIREMENT,
    check_predict_params,
    load_yolo,
    predict_resident,
)
from lib_garment.restore.detect import Kind, PartDetection
from lib_garment.restore.detectors.common import check_kind, clip_box, kind_from_name
from lib_garment.runtime import ModelRuntime, get_runtime
from lib_garment.runtime.devices import check_device

YOLO_MODEL_NAMES = ("face_yolov8n", "face_yolov8s", "hand_yolov8n")  # registry entries of the "restore" family


@dataclass(frozen=True)
class YoloParams:
    """``conf``: the least confidence ultralytics keeps (the finer cut is ``FilterParams.confidence``);
    ``iou``: NMS overlap; ``imgsz``: the letterboxed side (640, what ADetailer's models were trained at);
    ``max_det``: at most this many; ``half``: FP16 on CUDA."""

    conf: float = 0.25
    iou: float = 0.7
    imgsz: int = 640
    max_det: int = 100
    half: bool = False

    def __post_init__(self) -> None:
        check_predict_params(
            self.conf, self.iou, self.imgsz, self.max_det, what="detector confidence", count_name="max_det"
        )


DEFAULT_YOLO_PARAMS = YoloParams()


@dataclass(frozen=True, eq=False)
class YoloFound:
    """What the model saw, in the image's pixels: ``boxes`` (N, 4) float32 x0, y0, x1, y1, ``scores`` (N,)
    float32, ``labels`` the class names, ``masks`` (N, H, W) bool for segmentation models, else None."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: tuple[str, ...]
    masks: np.ndarray | None = None


def load_yolo_detector(model_path: str, device: str) -> Any:
    """``ultralytics.YOLO(model_path)`` on ``device``, checked to be a box (or segmentation) detector.

    The caller has verified the file (hash or explicit trust): this function only loads.
    """
    return load_yolo(model_path, device, ("detect", "segment"), "a detector (e.g. face_yolov8n.pt)")


def detect_yolo(
    image: np.ndarray,
    model_path: str,
    device: str | None = None,
    params: YoloParams = DEFAULT_YOLO_PARAMS,
    config_dir: str | None = None,
) -> YoloFound:
    """Boxes (and masks) the model finds in ``image`` ((H, W, 3) uint8 RGB), most confident first.

    The model stays resident (``cached_model``) under its path and device.
    """
    result = predict_resident(
        "yolo-detect",
        model_path,
        image,
        device,
        load_yolo_detector,
        config_dir,
        conf=params.conf,
        iou=params.iou,
        imgsz=params.imgsz,
        max_det=params.max_det,
        half=params.half,
        retina_masks=True,  # masks at the image's own size
    )
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return YoloFound(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), ())
    scores = boxes.conf.float().cpu().numpy()
    xyxy = boxes.xyxy.float().cpu().numpy()
    names = result.names or {}
    labels = [str(names.get(int(c), int(c))) for c in boxes.cls.cpu().numpy()]
    masks = None
    if result.masks is not None:
        masks = result.masks.data.cpu().numpy() > 0.5
        if masks.shape[1:] != image.shape[:2]:  # not expected with retina masks; never guess a mapping
            masks = None
    order = np.argsort(-scores, kind="stable")
    return YoloFound(
        np.ascontiguousarray(xyxy[order], np.float32),
        np.ascontiguousarray(scores[order], np.float32),
        tuple(labels[i] for i in order),
        None if masks is None else np.ascontiguousarray(masks[order]),
    )


@dataclass(frozen=True)
class YoloDetector:
    """A :class:`~lib_garment.restore.detect.PartDetector` backed by a verified ultralytics file.

    ``kind``: what its detections are when the class name does not say (None: read from the file name).
    ``runtime``: where it runs (None: ``get_runtime(YOLO_REQUIREMENT)`` at the first call).
    """

    model_path: Path
    kind: Kind | None = None
    device: str | None = None
    params: YoloParams = DEFAULT_YOLO_PARAMS
    runtime: ModelRuntime | None = field(default=None, compare=False)
    config_dir: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_path", Path(self.model_path))
        object.__setattr__(self, "device", check_device(self.device))
        kind = check_kind(self.kind)
        object.__setattr__(self, "kind", kind if kind is not None else kind_from_name(self.model_path.name))

    @cached_property
    def name(self) -> str:
        """Names the file (path, size, modification time) and the settings: a cache key part."""
        stat = self.model_path.stat()
        p = self.params
        return (
            f"yolo:{self.model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:kind={self.kind}:"
            f"conf={p.conf}:iou={p.iou}:imgsz={p.imgsz}:max={p.max_det}:half={p.half}"
        )

    def found(self, image: np.ndarray) -> YoloFound:
        runtime = self.runtime if self.runtime is not None else get_runtime(YOLO_REQUIREMENT)
        return runtime.call(
            "lib_garment.restore.detectors.yolo:detect_yolo",
            check_rgb(image),
            str(self.model_path),
            self.device,
            self.params,
            str(self.config_dir) if self.config_dir is not None else None,
        )

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        image = check_rgb(image)
        found = self.found(image)
        detections = []
        for i, label in enumerate(found.labels):
            kind = kind_from_name(label) or self.kind
            box = clip_box(found.boxes[i], image.shape[:2])
            if kind is None or box is None:
                continue
            score = min(max(float(found.scores[i]), 0.0), 1.0)
            mask = None if found.masks is None else found.masks[i]
            detections.append(PartDetection(box, score, kind, label, mask))
        return detections
