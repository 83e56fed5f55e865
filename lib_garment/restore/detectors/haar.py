"""OpenCV's Haar cascade face detector.

``haarcascade_frontalface_default.xml`` from ``cv2.data``: an offline, weight-free-to-download
frontal face detector, coarse but real. Its confidence is the cascade's last-stage weight passed through a
logistic (the cascade has no calibrated probability).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.restore.detect import PartDetection

HAAR_FACE = "haar_face"
HAAR_CASCADE = "haarcascade_frontalface_default.xml"

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
