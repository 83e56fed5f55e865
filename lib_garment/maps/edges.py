"""Canny of the image and the outline of the product mask (its silhouette), white on black."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.arrays import binary_mask, check_image
from lib_garment.errors import BadInput


@dataclass(frozen=True)
class CannyParams:
    """Hysteresis thresholds on the Sobel gradient magnitude; ControlNet's canny preprocessor defaults."""

    low: float = 100.0
    high: float = 200.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not 0 <= self.low <= self.high:
            raise BadInput(f"Canny thresholds need 0 <= low <= high, got low={self.low}, high={self.high}")


DEFAULT_CANNY = CannyParams()

# A 4-neighbour erosion leaves an 8-connected, one-pixel-wide outline: the same kind of line Canny draws.
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def canny_map(image: np.ndarray, params: CannyParams = DEFAULT_CANNY) -> np.ndarray:
    """OpenCV's Canny of an RGB (or gray) uint8 image: (H, W) uint8, 255 on edges.

    The colour image goes in as is, as ControlNet's canny preprocessor does: OpenCV then takes the strongest
    channel's gradient, so edges between colours of equal brightness survive.
    """
    return cv2.Canny(check_image(image), params.low, params.high)


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """The product's silhouette: mask pixels with a 4-neighbour outside the mask, as (H, W) uint8 0/255.

    This is what edge detection of a mask means, made exact: Canny on a binary mask finds the same one-pixel
    line but puts it half a pixel off depending on the edge direction (outside the mask on top and left edges,
    inside on bottom and right, corners cut). The image frame is not an edge: a garment cut by the frame has no
    outline there, as Canny would give none.
    """
    solid = binary_mask(mask)
    return cv2.subtract(solid, cv2.erode(solid, _CROSS))
