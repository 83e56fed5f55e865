"""Checks on the arrays maps are made from: images are uint8 RGB (or gray), masks are one channel."""

from __future__ import annotations

import cv2
import numpy as np

from lib_garment.errors import BadInput


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous uint8 (H, W, 3) RGB or (H, W) gray array; BadInput for anything else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise BadInput(f"{what} must be a uint8 array, got {_describe(image)}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise BadInput(f"{what} must be (H, W) or (H, W, 3), got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BadInput(f"{what} is empty (shape {image.shape})")
    # OpenCV copies non-contiguous input anyway; doing it here keeps that cost visible in one place.
    return np.ascontiguousarray(image)


def check_mask(mask: np.ndarray, shape: tuple[int, int] | None = None) -> None:
    """BadInput unless ``mask`` is a (H, W) bool, uint8 or float array (of ``shape`` (H, W) when given)."""
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise BadInput(f"mask must be a (H, W) array, got {_describe(mask)}")
    if shape is not None and mask.shape != tuple(shape):
        raise BadInput(f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}")
    if not (mask.dtype in (np.bool_, np.uint8) or np.issubdtype(mask.dtype, np.floating)):
        raise BadInput(f"mask must be bool, uint8 or float, got {mask.dtype}")


def binary_mask(mask: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A (H, W) mask as uint8 0/255: kept where it is more than half on.

    Accepts bool, uint8 (0..255, e.g. an alpha matte) and float (0..1) masks, so a soft ViTMatte alpha and a
    hard SAM mask give the same silhouette. ``shape`` (H, W), when given, must match.
    """
    check_mask(mask, shape)
    if mask.dtype == np.bool_:
        return mask.view(np.uint8) * np.uint8(255)
    if mask.dtype == np.uint8:
        return cv2.compare(np.ascontiguousarray(mask), 127, cv2.CMP_GT)
    return cv2.compare(np.ascontiguousarray(mask, dtype=np.float32), 0.5, cv2.CMP_GT)


# ControlNet's annotators run with the short side at 512 px (its default processor resolution), and the
# models learned line widths and dot sizes at that scale; sizes given "at 512" grow with the image.
REFERENCE_SIDE = 512


def size_scale(height: int, width: int) -> float:
    """How much bigger than the 512 px reference the image's short side is."""
    return min(height, width) / REFERENCE_SIDE


def scaled_size(size_at_512: float, height: int, width: int) -> int:
    """A line width or radius given at 512 px, for an image of this size (at least 1 px)."""
    return max(1, round(size_at_512 * size_scale(height, width)))


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
