"""Masks made binary, united over boxes, and cleaned of small connected components (Kong & Wu: under 50 px).

Clean-up removes foreground components only: holes inside the garment (a buttonhole, the gap under an arm) are
left as they are, as in the paper; a hole is a real part of the outline that the trimap and matte then refine.
Components are 8-connected (two pixels touching at a corner are one component) and measured in pixels of the
resolution the mask is given at; the pipeline cleans at the original photo's resolution, so "50 px" means 50
pixels of the photo whatever size the models ran at.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from lib_garment.errors import BadInput

DEFAULT_MIN_AREA = 50


def foreground(mask: np.ndarray) -> np.ndarray:
    """A (H, W) model mask as bool: bool as it is, integers where non-zero, floats where more than 0.5.

    SAM hands over bool masks (or 0/1 integers); floats are probabilities. A soft 0..255 alpha is not a model
    mask: make it binary first (``lib_garment.arrays.binary_mask`` cuts at half).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be (H, W), got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return mask
    if mask.dtype.kind in "iu":
        return mask != 0
    if mask.dtype.kind == "f":
        return mask > 0.5
    raise ValueError(f"a mask must be bool, integer or float, got {mask.dtype}")


def to_uint8(mask: np.ndarray) -> np.ndarray:
    """A bool mask as uint8 0/255 (what masks are saved and compared as)."""
    return np.ascontiguousarray(mask, dtype=bool).view(np.uint8) * np.uint8(255)


def union_masks(masks: Iterable[np.ndarray] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels in any of ``masks`` (each (H, W) of ``shape``, see :func:`foreground`), as uint8 0/255.

    A stacked (N, H, W) or SAM's (N, 1, H, W) array counts as N masks; no masks give an empty mask.
    """
    if isinstance(masks, np.ndarray):
        masks = masks.reshape(-1, *masks.shape[-2:]) if masks.ndim > 2 else masks[None]
    united = np.zeros(shape, bool)
    for mask in masks:
        if mask.shape != tuple(shape):
            raise ValueError(f"mask of shape {mask.shape} in a union of shape {tuple(shape)}")
        united |= foreground(mask)
    return to_uint8(united)


def remove_small_components(mask: np.ndarray, min_area: int = DEFAULT_MIN_AREA, connectivity: int = 8) -> np.ndarray:
    """``mask`` (see :func:`foreground`) without its connected components of fewer than ``min_area`` pixels.

    A component of exactly ``min_area`` pixels stays. ``min_area`` 0 or 1 removes nothing. Holes are kept.
    Returns uint8 0/255.
    """
    if min_area < 0:
        raise BadInput(f"min_area must be at least 0, got {min_area}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    solid = to_uint8(foreground(mask))
    if min_area <= 1 or not solid.any():
        return solid
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=connectivity, ltype=cv2.CV_32S)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    if keep[1:].all():
        return solid
    return to_uint8(keep[labels])
