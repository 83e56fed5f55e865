"""Detector backends: ADetailer's YOLOv8 files through ultralytics, mediapipe's bundled face detector, OpenCV's
Haar cascade. Each is a :class:`~lib_garment.restore.detect.PartDetector`.

- **YOLOv8** (``face_yolov8n``, ``face_yolov8s``, ``hand_yolov8n`` from ``Bingsu/adetailer``): the registry's
  files, verified by SHA-256 through ``ensure_model``, which also finds the copies ADetailer keeps in
  ``models/adetailer``. A file the user names is loaded when it is byte for byte a registry file, or when they
  trust unverified files (a ``.pt`` is a pickle: loading it runs code). Like the pose model, it runs through the
  model runtime (in-process unless ``GARMENT_MODEL_RUNTIME=worker``); a segmentation model's masks come back
  at the image's size.
- **mediapipe** (optional, where ``mediapipe`` imports): the face detectors bundled in its wheel
  (``face_detection_short_range.tflite`` for faces within about 2 m, ``face_detection_full_range_sparse.tflite``
  within 5 m), and its hand tracker (``mp.solutions.hands``: palm detector + 21 hand landmarks, both bundled),
  run on single images (``static_image_mode``); a hand's box is its landmarks' extent, padded, since the joints
  lie inside the skin. Nothing is downloaded; a wheel without the files is reported as unavailable.
- **Haar** (``haarcascade_frontalface_default.xml`` from ``cv2.data``): an offline, weight-free-to-download
  frontal face detector, coarse but real. Its confidence is the cascade's last-stage weight passed through a
  logistic (the cascade has no calibrated probability).

A detection's kind comes from its class name (``hand``…, ``face``/``head``…), else from the detector's kind
(given, or read from the file name, as ADetailer's names say it); a detection of neither kind is dropped.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.yolo import (
    CONFIG_SUBDIR,
    YOLO_REQUIREMENT,
    check_predict_params,
    load_yolo,
    predict_resident,
)
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.restore.detect import KINDS, Kind, PartDetection, PartDetector
from lib_garment.runtime import ModelRuntime, get_runtime
from lib_garment.runtime.devices import check_device

YOLO_MODEL_NAMES = ("face_yolov8n", "face_yolov8s", "hand_yolov8n")  # registry entries of the "restore" family
MEDIAPIPE_FACE_MODELS = {
    "mediapipe_face_short": (0, "face_detection_short_range.tflite"),
    "mediapipe_face_full": (1, "face_detection_full_range_sparse.tflite"),
}
MEDIAPIPE_HANDS = "mediapipe_hands"
MEDIAPIPE_HAND_FILES = {  # by model complexity: the lite pair (0) or the full pair (1)
    0: ("palm_detection/palm_detection_lite.tflite", "hand_landmark/hand_landmark_lite.tflite"),
    1: ("palm_detection/palm_detection_full.tflite", "hand_landmark/hand_landmark_full.tflite"),
}
HAAR_FACE = "haar_face"
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
DETECTOR_NAMES = (*YOLO_MODEL_NAMES, *MEDIAPIPE_FACE_MODELS, MEDIAPIPE_HANDS, HAAR_FACE)


def kind_from_name(text: str) -> Kind | None:
    """The kind a class or file name speaks of: ``hand``… → hand, ``face``/``head``… → face, else None."""
    lowered = text.lower()
    if "hand" in lowered:
        return "hand"
    if "face" in lowered or "head" in lowered:
        return "face"
    return None


def _check_kind(kind: str | None) -> Kind | None:
    if kind is not None and kind not in KINDS:
        raise BadInput(f"detector kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind  # type: ignore[return-value]


def _clip_box(box: Iterable[float], shape: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The box inside an image of ``shape`` (H, W); None when nothing of it is left."""
    x0, y0, x1, y1 = (float(v) for v in box)
    height, width = shape
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


# -- YOLOv8 (ultralytics) -------------------------------------------------------------------------------------------


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
        kind = _check_kind(self.kind)
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
            "lib_garment.restore.detectors:detect_yolo",
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
            box = _clip_box(found.boxes[i], image.shape[:2])
            if kind is None or box is None:
                continue
            score = min(max(float(found.scores[i]), 0.0), 1.0)
            mask = None if found.masks is None else found.masks[i]
            detections.append(PartDetection(box, score, kind, label, mask))
        return detections


# -- mediapipe ------------------------------------------------------------------------------------------------------


def mediapipe_face_model(model: str) -> Path:
    """The bundled ``.tflite`` file of a mediapipe face detector; ModelUnavailable when mediapipe or the file
    is missing (nothing is downloaded)."""
    if model not in MEDIAPIPE_FACE_MODELS:
        raise BadInput(f"unknown mediapipe face model {model!r}; use {' or '.join(MEDIAPIPE_FACE_MODELS)}")
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise ModelUnavailable("mediapipe is not installed: use a YOLO face model or haar_face")
    path = Path(spec.origin).parent / "modules" / "face_detection" / MEDIAPIPE_FACE_MODELS[model][1]
    if not path.is_file():
        raise ModelUnavailable(f"this mediapipe wheel does not bundle {path.name}; use a YOLO face model")
    return path


@dataclass(frozen=True)
class MediapipeFaceDetector:
    """mediapipe's bundled face detector (``mediapipe_face_short`` or ``mediapipe_face_full``), in-process.

    ``min_confidence``: mediapipe's own cut (the finer one is ``FilterParams.confidence``)."""

    model: str = "mediapipe_face_short"
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        mediapipe_face_model(self.model)  # unknown name or missing file: say so now, not at the first image
        if not 0.0 <= self.min_confidence <= 1.0:
            raise BadInput(f"mediapipe confidence must be within 0..1, got {self.min_confidence}")

    @property
    def name(self) -> str:
        return f"{self.model}:conf={self.min_confidence}"

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        import mediapipe as mp

        image = check_rgb(image)
        height, width = image.shape[:2]
        selection = MEDIAPIPE_FACE_MODELS[self.model][0]
        with mp.solutions.face_detection.FaceDetection(
            model_selection=selection, min_detection_confidence=self.min_confidence
        ) as finder:
            result = finder.process(image)
        detections = []
        for found in result.detections or ():
            rel = found.location_data.relative_bounding_box
            box = _clip_box(
                (rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width, (rel.ymin + rel.height) * height),
                (height, width),
            )
            if box is not None:
                score = min(max(float(found.score[0]), 0.0), 1.0)
                detections.append(PartDetection(box, score, "face", "face"))
        return detections


def mediapipe_hand_files(complexity: int = 1) -> tuple[Path, ...]:
    """The bundled palm detector and hand landmark files of a model complexity; ModelUnavailable when mediapipe
    or one of them is missing."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise ModelUnavailable("mediapipe is not installed: use hand_yolov8n or a hand .pt file")
    folder = Path(spec.origin).parent / "modules"
    paths = tuple(folder / name for name in MEDIAPIPE_HAND_FILES[complexity])
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise ModelUnavailable(f"this mediapipe wheel does not bundle {', '.join(missing)}; use hand_yolov8n")
    return paths


def landmarks_box(
    points: np.ndarray, shape: tuple[int, int], padding: float = 0.25
) -> tuple[float, float, float, float] | None:
    """The box around a hand's landmarks ((N, 2) x, y in the image's pixels), grown by ``padding`` times its
    longer side on every side (joints lie inside the skin: fingertips, palm edge and wrist reach beyond them),
    clipped to an image of ``shape`` (H, W); None when nothing of it is inside."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if points.size == 0 or not np.all(np.isfinite(points)):
        return None
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    grow = padding * max(x1 - x0, y1 - y0, 1.0)
    return _clip_box((x0 - grow, y0 - grow, x1 + grow, y1 + grow), shape)


@dataclass(frozen=True)
class MediapipeHandDetector:
    """mediapipe's hand tracker on single images (``mediapipe_hands``), in-process.

    ``min_confidence``: the palm detector's cut, applied by mediapipe itself. The solutions API does not give the
    palm detector's score back, so a hand's score is the handedness classifier's probability (>= 0.5 by
    construction); ``FilterParams.confidence`` therefore filters hands mainly through ``min_confidence``.
    ``max_hands``: at most this many; ``padding``: see :func:`landmarks_box`; ``model_complexity``: 1 is the
    full landmark model, 0 the lite one."""

    min_confidence: float = 0.3
    max_hands: int = 8
    padding: float = 0.25
    model_complexity: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise BadInput(f"mediapipe confidence must be within 0..1, got {self.min_confidence}")
        if not isinstance(self.max_hands, int) or self.max_hands < 1:
            raise BadInput(f"mediapipe max_hands must be a whole number >= 1, got {self.max_hands!r}")
        if not 0.0 <= self.padding <= 2.0:
            raise BadInput(f"hand box padding must be within 0..2, got {self.padding}")
        if self.model_complexity not in MEDIAPIPE_HAND_FILES:
            raise BadInput(f"mediapipe hand model_complexity must be 0 or 1, got {self.model_complexity!r}")
        mediapipe_hand_files(self.model_complexity)  # missing mediapipe or files: said now, not at the first image

    @property
    def name(self) -> str:
        return (
            f"{MEDIAPIPE_HANDS}:conf={self.min_confidence}:max={self.max_hands}:pad={self.padding}:"
            f"complexity={self.model_complexity}"
        )

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        import mediapipe as mp

        image = np.ascontiguousarray(check_rgb(image))
        height, width = image.shape[:2]
        with mp.solutions.hands.Hands(
            static_image_mode=True,  # every image on its own: no tracking between calls
            max_num_hands=self.max_hands,
            model_complexity=self.model_complexity,
            min_detection_confidence=self.min_confidence,
        ) as tracker:
            result = tracker.process(image)
        hands = result.multi_hand_landmarks or ()
        handedness = result.multi_handedness or ()
        detections = []
        for index, landmarks in enumerate(hands):
            points = np.array([(p.x * width, p.y * height) for p in landmarks.landmark], dtype=np.float64)
            box = landmarks_box(points, (height, width), self.padding)
            if box is None:
                continue
            score = 1.0
            if index < len(handedness) and handedness[index].classification:
                score = min(max(float(handedness[index].classification[0].score), 0.0), 1.0)
            detections.append(PartDetection(box, score, "hand", "hand"))
        return detections


# -- OpenCV Haar cascade --------------------------------------------------------------------------------------------


_HAAR_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _haar_classifier(path: str) -> Any:
    import cv2

    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise ModelUnavailable(f"OpenCV could not read the cascade {path}")
    return classifier


def haar_cascade_path(name: str = HAAR_CASCADE) -> Path:
    import cv2

    path = Path(cv2.data.haarcascades) / name
    if not path.is_file():
        raise ModelUnavailable(f"OpenCV's {name} is missing from {path.parent}")
    return path


@dataclass(frozen=True)
class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade. ``scale_factor``/``min_neighbors``: ``detectMultiScale``'s;
    ``min_size``: the smallest face side in pixels."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 24
    cascade: str = HAAR_CASCADE

    def __post_init__(self) -> None:
        if not self.scale_factor > 1.0:
            raise BadInput(f"Haar scale_factor must be above 1, got {self.scale_factor}")
        if self.min_neighbors < 0 or self.min_size < 1:
            raise BadInput(
                f"Haar min_neighbors must be >= 0 and min_size >= 1, got {self.min_neighbors}, {self.min_size}"
            )
        haar_cascade_path(self.cascade)

    @property
    def name(self) -> str:
        return f"haar:{self.cascade}:{self.scale_factor}:{self.min_neighbors}:{self.min_size}"

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        import cv2

        image = check_rgb(image)
        classifier = _haar_classifier(str(haar_cascade_path(self.cascade)))
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        with _HAAR_LOCK:  # one cached classifier: its scratch buffers are not shared between threads
            rects, _levels, weights = classifier.detectMultiScale3(
                gray,
                scaleFactor=self.scale_factor,
                minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size),
                outputRejectLevels=True,
            )
        detections = []
        for (x, y, w, h), weight in zip(np.reshape(rects, (-1, 4)), np.reshape(weights, (-1,)), strict=True):
            score = 1.0 / (1.0 + math.exp(-float(weight)))
            detections.append(PartDetection((float(x), float(y), float(x + w), float(y + h)), score, "face", "face"))
        return detections


# -- by name --------------------------------------------------------------------------------------------------------


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
    _check_kind(kind)
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
