"""The trimap around the clean mask: 255 sure foreground, 0 sure background, 128 unknown (for the matte).

Kong & Wu smooth the mask with a low-pass filter, re-threshold it, and take ``fg = erode(mask, k)``,
``bg = not dilate(mask, k)``. Here, exactly:

1. ``smooth``: the clean mask's majority over a (2s+1)² box (s = ``smooth``, default ``k // 2``; 0 skips it),
   with the image frame extended outwards, so that staircase edges of a mask upsampled from a model's working
   size do not become ragged bands;
2. ``fg`` = erode(smooth, disc of radius k): pixels farther than k from every pixel outside ``smooth``;
   ``bg`` = not dilate(smooth, disc of radius k): pixels farther than k from every pixel of ``smooth``
   (exact Euclidean distances, so the cost does not grow with k);
3. the guarantees the matte relies on, whatever the smoothing did: a 255 pixel is inside the clean mask and not
   on its boundary, a 0 pixel is outside it and not on its boundary. The boundary is every pixel whose 3x3
   neighbourhood inside the image holds both mask and non-mask pixels, so every boundary pixel is 128.

The image frame is not an edge (a garment cut by the frame continues beyond it): a full mask gives an
all-255 trimap, an empty mask an all-0 one. A component too small to keep a sure core is all 128.

``k`` (the band's half-width: the unknown band reaches k px into and k px out of the mask) defaults to 1 % of
the image's short side, rounded half up, at least 1: :func:`trimap_radius`. ``SegmentOptions.trimap_size``
sets it in pixels of the original photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.segment.cleanup import foreground, to_uint8

FOREGROUND, UNKNOWN, BACKGROUND = 255, 128, 0
TRIMAP_FRACTION = 0.01  # k as a share of the short side
_SQUARE = np.ones((3, 3), np.uint8)


def trimap_radius(height: int, width: int) -> int:
    """The default k: ``max(1, floor(min(height, width) * 0.01 + 0.5))`` (5 px at 512, 45 px at 4480)."""
    return max(1, int(min(height, width) * TRIMAP_FRACTION + 0.5))


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood within the image holds both mask and non-mask pixels (bool)."""
    solid = to_uint8(foreground(mask))
    # erode/dilate ignore the frame by default (the outside never wins), so the frame is no boundary.
    return cv2.dilate(solid, _SQUARE) != cv2.erode(solid, _SQUARE)


def smooth_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """The mask's majority vote over a (2·radius+1)² box, frame replicated outwards (bool); radius 0: as is."""
    solid = foreground(mask)
    if radius <= 0 or solid.all() or not solid.any():
        return solid
    size = 2 * radius + 1
    # Unnormalised float sums of 0/1 are exact integers, and the odd window has no tie.
    votes = cv2.boxFilter(
        solid.astype(np.float32), cv2.CV_32F, (size, size), normalize=False, borderType=cv2.BORDER_REPLICATE
    )
    return votes * 2 > size * size


def make_trimap(mask: np.ndarray, radius: int | None = None, smooth: int | None = None) -> np.ndarray:
    """The trimap of a clean (H, W) mask as uint8 {0, 128, 255} (see the module docstring for the rules).

    ``radius``: k in pixels (None: :func:`trimap_radius`). ``smooth``: the low-pass radius s (None: k // 2).
    """
    clean = foreground(mask)
    height, width = clean.shape
    k = trimap_radius(height, width) if radius is None else int(radius)
    if k < 1:
        raise BadInput(f"trimap size must be at least 1 px, got {radius}")
    s = k // 2 if smooth is None else int(smooth)
    if s < 0:
        raise BadInput(f"trimap smoothing must be at least 0 px, got {smooth}")

    smooth_fg = smooth_mask(clean, s)
    trimap = np.full(clean.shape, UNKNOWN, np.uint8)
    solid = to_uint8(clean)
    interior = cv2.erode(solid, _SQUARE) > 0  # mask pixels off the boundary
    exterior = cv2.dilate(solid, _SQUARE) == 0  # non-mask pixels off the boundary
    trimap[_farther_than(smooth_fg, k) & interior] = FOREGROUND
    trimap[_farther_than(~smooth_fg, k) & exterior] = BACKGROUND
    return trimap


def trimap_to_size(trimap: np.ndarray, width: int, height: int) -> np.ndarray:
    """A trimap at another size (a model's working size), never surer than the original.

    A working pixel is unknown if any original pixel it covers is unknown (or it covers both sure kinds);
    otherwise it takes the sure value it covers. Area-weighted, so thin bands survive a strong reduction.
    """
    if trimap.shape == (height, width):
        return trimap.copy()
    # INTER_AREA averages footprints when shrinking; enlarging interpolates (LINEAR says so plainly).
    shrinking = width <= trimap.shape[1] and height <= trimap.shape[0]
    how = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    unknown, sure_fg, sure_bg = (
        cv2.resize((trimap == value).astype(np.float32), (width, height), interpolation=how)
        for value in (UNKNOWN, FOREGROUND, BACKGROUND)
    )
    out = np.full((height, width), UNKNOWN, np.uint8)
    # 1e-6: float rounding of area weights must not turn a sure pixel unknown.
    out[(sure_fg >= 1 - 1e-6) & (unknown <= 1e-6)] = FOREGROUND
    out[(sure_bg >= 1 - 1e-6) & (unknown <= 1e-6)] = BACKGROUND
    return out


def check_trimap(trimap: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """BadInput unless ``trimap`` is (H, W) uint8 with values in {0, 128, 255} (of ``shape`` when given)."""
    if not isinstance(trimap, np.ndarray) or trimap.ndim != 2 or trimap.dtype != np.uint8:
        raise BadInput(f"a trimap must be a (H, W) uint8 array, got {getattr(trimap, 'shape', type(trimap))}")
    if shape is not None and trimap.shape != tuple(shape):
        raise BadInput(f"trimap is {trimap.shape[1]}x{trimap.shape[0]} but the image is {shape[1]}x{shape[0]}")
    extra = np.setdiff1d(np.unique(trimap), (BACKGROUND, UNKNOWN, FOREGROUND))
    if extra.size:
        raise BadInput(f"a trimap holds only 0, 128 and 255, found {extra[:5].tolist()}")
    return trimap


def _farther_than(region: np.ndarray, k: int) -> np.ndarray:
    """Pixels of ``region`` farther than k (Euclidean) from every pixel outside it: erosion by a disc of
    radius k, {(dx, dy): dx² + dy² <= k²}. The frame counts as inside (OpenCV's distance ignores it)."""
    if region.all() or not region.any():
        return region.copy()
    distance = cv2.distanceTransform(to_uint8(region), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # Squared distances are whole numbers: d > k means d² >= k² + 1. Cutting at sqrt(k² + 0.5) keeps a margin
    # of about 0.25/k on both sides, far above float32 rounding, so a pixel exactly k away is never "farther".
    return distance > np.float32(np.sqrt(k * k + 0.5))
