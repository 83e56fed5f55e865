"""Sizes given at ControlNet's 512 px working scale, for an image of any size.

ControlNet's annotators run with the short side at 512 px (its default processor resolution), and the models
learned line widths and dot sizes at that scale; sizes given "at 512" grow with the image.
"""

from __future__ import annotations

import cv2
import numpy as np

REFERENCE_SIDE = 512
# The most a photo handed to a pose or depth model measures on its long side. Their own inputs are 640 px (YOLOv8)
# and 518 px (Depth Anything), so more pixels change nothing they see but cost a full-size copy in every call,
# through the model worker's pipe too (37 MB for a 12 MP photo).
MODEL_COPY_MAX_SIDE = 1536


def size_scale(height: int, width: int) -> float:
    """How much bigger than the 512 px reference the image's short side is."""
    return min(height, width) / REFERENCE_SIDE


def scaled_size(size_at_512: float, height: int, width: int) -> int:
    """A line width or radius given at 512 px, for an image of this size (at least 1 px)."""
    return max(1, round(size_at_512 * size_scale(height, width)))


def model_copy(image: np.ndarray, max_side: int = MODEL_COPY_MAX_SIDE) -> tuple[np.ndarray, float, float]:
    """The image a pose or depth model is given: ``image`` itself when its long side is at most ``max_side``,
    else an area-averaged copy that fits; with the x and y factors from the copy's pixels back to the image's."""
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image, 1.0, 1.0
    shrink = max_side / max(height, width)
    small_w, small_h = max(1, round(width * shrink)), max(1, round(height * shrink))
    small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
    return small, width / small_w, height / small_h
