"""Detection boxes as pixel rectangles.

Boxes are ``(x0, y0, x1, y1)`` in continuous pixel coordinates: pixel (row r, column c) covers
``[c, c + 1) x [r, r + 1)``, so a box from 10 to 20 covers the ten pixels 10..19. :func:`box_pixels` turns a
box into the integer rectangle of every pixel it touches, clipped to the image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lib_garment.errors import BadInput

Box = tuple[float, float, float, float]
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 integer pixel bounds, x1/y1 exclusive


def check_box(box: Sequence[float], what: str = "box") -> Box:
    """Four finite numbers x0 < x1, y0 < y1 (BadInput otherwise)."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError) as err:
        raise BadInput(f"{what} must be four numbers x0, y0, x1, y1, got {box!r}") from err
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadInput(f"{what} must be four finite numbers x0, y0, x1, y1, got {box!r}")
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise BadInput(f"{what} must have x1 > x0 and y1 > y0, got {values}")
    return x0, y0, x1, y1


def box_pixels(box: Box, shape: tuple[int, int]) -> Rect:
    """Every pixel the box touches, clipped to an image of ``shape`` (H, W); may be empty (x0 == x1)."""
    height, width = shape
    x0, y0, x1, y1 = box
    left = min(max(math.floor(x0), 0), width)
    top = min(max(math.floor(y0), 0), height)
    right = max(min(math.ceil(x1), width), left)
    bottom = max(min(math.ceil(y1), height), top)
    return left, top, right, bottom


def box_mask(box: Box, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool, True on :func:`box_pixels`."""
    mask = np.zeros(shape, bool)
    left, top, right, bottom = box_pixels(box, shape)
    mask[top:bottom, left:right] = True
    return mask
