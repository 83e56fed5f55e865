"""Checks on the arrays the engine works on: images are uint8 RGB (or gray where allowed), masks and alpha
mattes are one (H, W) plane. Every room checks its inputs with these, so one wrong array reads the same
wherever it is caught."""

from __future__ import annotations

import cv2
import numpy as np

from lib_garment.errors import BadInput


def describe(value: object) -> str:
    """What a value is, for an error message: an array's dtype and shape, else its type's name."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def check_image(image: object, what: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous uint8 (H, W, 3) RGB or (H, W) gray array; BadInput for anything else."""
    return _checked_uint8(image, what, gray=True)


def check_rgb(image: object, what: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous (H, W, 3) uint8 RGB array; BadInput naming ``what`` otherwise."""
    return _checked_uint8(image, what, gray=False)


def _checked_uint8(image: object, what: str, *, gray: bool) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise BadInput(f"{what} must be a {'uint8 array' if gray else 'uint8 RGB array'}, got {describe(image)}")
    if not ((gray and image.ndim == 2) or (image.ndim == 3 and image.shape[2] == 3)):
        raise BadInput(f"{what} must be {'(H, W) or (H, W, 3)' if gray else '(H, W, 3) RGB'}, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BadInput(f"{what} is empty (shape {image.shape})")
    # OpenCV copies non-contiguous input anyway; doing it here keeps that cost visible in one place.
    return np.ascontiguousarray(image)


def check_plane(value: object, what: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``value`` if it is a (H, W) array (of ``shape`` (H, W) when given); BadInput naming ``what`` otherwise."""
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise BadInput(f"{what} must be a (H, W) array, got {describe(value)}")
    if shape is not None and value.shape != tuple(shape):
        raise BadInput(f"{what} is {value.shape[1]}x{value.shape[0]} but the image is {shape[1]}x{shape[0]}")
    return value


def check_mask(mask: object, shape: tuple[int, int] | None = None) -> None:
    """BadInput unless ``mask`` is a (H, W) bool, uint8 or float array (of ``shape`` (H, W) when given)."""
    plane = check_plane(mask, "mask", shape)
    if not (plane.dtype in (np.bool_, np.uint8) or np.issubdtype(plane.dtype, np.floating)):
        raise BadInput(f"mask must be bool, uint8 or float, got {plane.dtype}")


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


def check_alpha(alpha: object, shape: tuple[int, int], what: str = "alpha") -> np.ndarray:
    """A (H, W) alpha of ``shape`` as float32 in [0, 1]: float in [0, 1], uint8 0..255 or bool."""
    plane = check_plane(alpha, what, shape)
    if plane.dtype == np.bool_:
        return plane.astype(np.float32)
    if plane.dtype == np.uint8:
        return plane.astype(np.float32) / np.float32(255)
    if np.issubdtype(plane.dtype, np.floating):
        values = plane.astype(np.float32)
        if not np.isfinite(values).all() or values.min(initial=0.0) < 0.0 or values.max(initial=0.0) > 1.0:
            raise BadInput(f"{what} must hold values in [0, 1]")
        return values
    raise BadInput(f"{what} must be float in [0, 1], uint8 or bool, got {plane.dtype}")
