"""mediapipe's bundled face detectors and hand tracker (optional: where ``mediapipe`` imports).

The face detectors bundled in its wheel
(``face_detection_short_range.tflite`` for faces within about 2 m, ``face_detection_full_range_sparse.tflite``
within 5 m), and its hand tracker (``mp.solutions.hands``: palm detector + 21 hand landmarks, both bundled),
run on single images (``static_image_mode``); a hand's box is its landmarks' extent, padded, since the joints
lie inside the skin. Nothing is downloaded; a wheel without the files is reported as unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.restore.detect import PartDetection
from lib_garment.restore.detectors.common import clip_box

MEDIAPIPE_FACE_MODELS = {
    "mediapipe_face_short": (0, "face_detection_short_range.tflite"),
    "mediapipe_face_full": (1, "face_detection_full_range_sparse.tflite"),
}
MEDIAPIPE_HANDS = "mediapipe_hands"
MEDIAPIPE_HAND_FILES = {  # by model complexity: the lite pair (0) or the full pair (1)
    0: ("palm_detection/palm_detection_lite.tflite", "hand_landmark/hand_landmark_lite.tflite"),
    1: ("palm_detection/palm_detection_full.tflite", "hand_landmark/hand_landmark_full.tflite"),
}


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
            box = clip_box(
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
    return clip_box((x0 - grow, y0 - grow, x1 + grow, y1 + grow), shape)


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
