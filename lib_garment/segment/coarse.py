"""Starting from a mask the user drew (or cut out) instead of detection and SAM.

The rule is the simplest one that cannot surprise: **any non-zero pixel is foreground**. A cut-out with
transparency counts by its alpha (any alpha above 0); any other picture counts by its colour channels (any
channel above 0), so a dark red stroke is as much a mask as a white one. Save masks as PNG: JPEG noise makes
near-black pixels non-zero. The mask then goes through the same clean-up, trimap and matte as SAM's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lib_garment.errors import BadInput
from lib_garment.imageio import DEFAULT_LIMITS, ImageLimits, check_pixel_count, open_image


def coarse_mask_from_array(mask: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W), (H, W, 1|3) or (H, W, 4) pixels as a bool mask of their non-zero pixels (RGBA: by alpha when
    any pixel is transparent, else by colour). ``shape`` (H, W): the image's, which the mask must match."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (1, 3, 4):
        if mask.shape[2] == 4:
            alpha = mask[..., 3]
            mask = alpha if alpha.min() < _opaque(alpha) else mask[..., :3]
        if mask.ndim == 3:
            mask = (mask != 0).any(axis=2)
    if mask.ndim != 2:
        raise BadInput(f"a mask must be (H, W) or (H, W, 1|3|4) pixels, got shape {mask.shape}")
    if mask.shape[0] < 1 or mask.shape[1] < 1:
        raise BadInput(f"the mask has no pixels (shape {mask.shape})")
    if shape is not None and mask.shape != tuple(shape):
        raise BadInput(
            f"the mask is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}; "
            "they must have the same size"
        )
    if not (mask.dtype == np.bool_ or mask.dtype.kind in "iuf"):
        raise BadInput(f"mask pixels must be numbers, got {mask.dtype}")
    return mask != 0


def coarse_mask_from_image(
    picture: Image.Image, shape: tuple[int, int] | None = None, limits: ImageLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """A decoded PIL mask (as the WebUI hands them over) as a bool mask of its non-zero pixels."""
    check_pixel_count(*picture.size, "mask", limits)
    if picture.mode == "P":  # palette indices say nothing: look at the colours (and transparency)
        picture = picture.convert("RGBA")
    elif picture.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16", "F"):
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    if picture.mode == "LA":
        pixels = np.asarray(picture)
        alpha = pixels[..., 1]
        return coarse_mask_from_array(alpha if alpha.min() < 255 else pixels[..., 0], shape)
    return coarse_mask_from_array(np.asarray(picture), shape)


def read_coarse_mask(
    path: str | Path, shape: tuple[int, int] | None = None, limits: ImageLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """A mask file (upright, within ``limits``) as a bool mask of its non-zero pixels."""
    return coarse_mask_from_image(open_image(path, "mask", limits), shape, limits)


def _opaque(alpha: np.ndarray) -> float:
    return 1.0 if alpha.dtype.kind in "fb" else float(np.iinfo(alpha.dtype).max)
