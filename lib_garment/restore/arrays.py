"""Checks on the arrays restoration works on, and boxes as pixel rectangles.

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


def describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def check_rgb(image: object, what: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous (H, W, 3) uint8 RGB array; BadInput naming ``what`` otherwise."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise BadInput(f"{what} must be a uint8 RGB array, got {describe(image)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise BadInput(f"{what} must be (H, W, 3) RGB, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BadInput(f"{what} is empty (shape {image.shape})")
    return np.ascontiguousarray(image)


def check_alpha(alpha: object, shape: tuple[int, int], what: str = "alpha") -> np.ndarray:
    """A (H, W) alpha of ``shape`` as float32 in [0, 1]: float in [0, 1], uint8 0..255 or bool."""
    if not isinstance(alpha, np.ndarray) or alpha.ndim != 2:
        raise BadInput(f"{what} must be a (H, W) array, got {describe(alpha)}")
    if alpha.shape != tuple(shape):
        raise BadInput(f"{what} is {alpha.shape[1]}x{alpha.shape[0]} but the image is {shape[1]}x{shape[0]}")
    if alpha.dtype == np.bool_:
        return alpha.astype(np.float32)
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / np.float32(255)
    if np.issubdtype(alpha.dtype, np.floating):
        values = alpha.astype(np.float32)
        if not np.isfinite(values).all() or values.min(initial=0.0) < 0.0 or values.max(initial=0.0) > 1.0:
            raise BadInput(f"{what} must hold values in [0, 1]")
        return values
    raise BadInput(f"{what} must be float in [0, 1], uint8 or bool, got {alpha.dtype}")


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
