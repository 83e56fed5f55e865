"""Normal maps from depth, in the convention of the depth-derived normals ControlNet's normal models read.

With z the distance from the camera, the normal is (−∂z/∂x, −∂z/∂y, c) normalised and RGB = n·127.5 + 127.5:
a surface facing the camera is (128, 128, 255), red grows for surfaces facing left, green for surfaces facing
up (image y runs down). The depth maps here are near-bright, i.e. they run against z, so −∂z/∂x is simply
the map's own +∂/∂x. This is ControlNet's normal-from-MiDaS rule with a resolution-independent c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.maps.arrays import binary_mask, size_scale


@dataclass(frozen=True)
class NormalParams:
    """``depth_scale``: how deep the depth map's full range (black → white) is, as a fraction of the image's
    short side; larger tilts the normals more. ``background_depth``: where set, pixels darker than this
    (0..1 of the depth map) face the camera, like a cut-out background; a mask can do the same.
    ``smooth``: Gaussian sigma (px at 512, scaled with the image) applied to the depth first. None (the default)
    picks by the source: depth known to come in 8-bit steps (a uint8 map, or a float one given with its ``step``)
    is reconstructed by :func:`dequantise`, smooth depth is used as it is."""

    depth_scale: float = 0.5
    background_depth: float | None = None
    smooth: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.depth_scale) and self.depth_scale > 0):
            raise BadInput(f"normal depth scale must be > 0, got {self.depth_scale}")
        bg = self.background_depth
        if bg is not None and not (math.isfinite(bg) and 0 <= bg <= 1):
            raise BadInput(f"normal background depth must be in 0..1, got {bg}")
        if self.smooth is not None and not (math.isfinite(self.smooth) and self.smooth >= 0):
            raise BadInput(f"normal smoothing must be >= 0 px, got {self.smooth}")


DEFAULT_NORMAL = NormalParams()


def normal_from_depth(
    depth: np.ndarray,
    params: NormalParams = DEFAULT_NORMAL,
    mask: np.ndarray | None = None,
    step: float | None = None,
) -> np.ndarray:
    """The normal map: (H, W, 3) uint8 RGB from a near-bright depth map.

    ``depth``: uint8 (0..255, the depth map) or float (0..1). ``mask``: where given, pixels outside it face
    the camera (background cut by the product or person mask). ``step``: for float depth that was rounded to
    levels, the size of one level in its units (a uint8 map's step is 1); with ``params.smooth`` None the depth
    is then reconstructed between its levels before differentiating.
    """
    if not isinstance(depth, np.ndarray) or depth.ndim != 2:
        raise BadInput(f"depth for normals must be a (H, W) array, got {getattr(depth, 'shape', type(depth))}")
    full_range = 255.0 if depth.dtype == np.uint8 else 1.0
    height, width = depth.shape
    values = depth.astype(np.float32, copy=False)  # never written to: blur and Sobel return new arrays
    background = None
    if params.background_depth is not None:
        background = values < params.background_depth * full_range
    if mask is not None:
        outside = binary_mask(mask, depth.shape) == 0
        background = outside if background is None else background | outside
    if step is None and depth.dtype == np.uint8:
        step = 1.0
    if params.smooth is None and step is not None:
        values = dequantise(values, step)
    sigma = (params.smooth or 0.0) * size_scale(height, width)
    if sigma > 0:
        values = cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    # Replicated borders make the edge rows' central difference a one-sided one of half the step; doubling it
    # there keeps a plane flat right up to the frame (the default reflected border would zero it instead).
    gx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    if width > 1:
        gx[:, 0] *= 2
        gx[:, -1] *= 2
    if height > 1:
        gy[0] *= 2
        gy[-1] *= 2
    # Sobel's 3x3 kernel sums 8 pixel steps; the full depth range spans depth_scale of the short side.
    k = params.depth_scale * min(height, width) / (8.0 * full_range)
    if background is not None:
        gx[background] = 0
        gy[background] = 0
    gx *= k
    gy *= k
    inv = 1.0 / cv2.sqrt(gx * gx + gy * gy + 1.0)
    # n · 127.5 + 127.5, rounded and saturated to uint8 in one pass.
    return cv2.convertScaleAbs(cv2.merge((gx * inv, gy * inv, inv)), alpha=127.5, beta=127.5)


# ---- depth that comes in 8-bit steps -----------------------------------------------------------------------
#
# An 8-bit depth map stores round(true depth): a plane becomes terraces one level high, and its gradient is zero
# on each terrace and a spike at each riser. A Gaussian of fixed width cannot undo that: the terraces' width is
# 1 / slope (2 px for the 180-levels-over-384-px ramp of issue 10, 30 px for a gentle one), rounding aliases
# the risers' rhythm into ripples many terraces long, and any blur wide enough for them also melts real depth
# edges. What the file does say exactly is that the true depth lies within half a level of each stored value.
# So we look for the smoothest surface inside that band (projection onto convex sets: smooth, then clip back
# into the band, repeated): a plane lies inside its own band and is left unchanged by the smoothing, so it is
# recovered, and a real edge, a jump of many levels, cannot move by more than half a level on either side, so
# it stays sharp however wide the smoothing is. The smoothing runs from wide (a radius of an eighth of the short
# side, for the widest terraces) to 1 px, with Nesterov momentum, which makes the slow, long ripples converge in
# a few dozen passes per width instead of hundreds.

DEQUANTISE_PASSES = 16  # per smoothing width at most; ramps of 0.03 to 3 levels/px come back within 0.1 level
DEQUANTISE_SCALE_STEP = 4  # each width a quarter of the last: wide, then down to 1 px
DEQUANTISE_SETTLED = 1e-4  # of a step: a pass that moves nothing more than this ends its width


def dequantise(values: np.ndarray, step: float = 1.0) -> np.ndarray:
    """The smoothest surface within ``step / 2`` of ``values`` (depth rounded to multiples of ``step``), float32."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if not (math.isfinite(step) and step > 0):
        raise BadInput(f"depth step must be > 0, got {step}")
    low = values - np.float32(step / 2)
    high = values + np.float32(step / 2)
    surface = values
    radius = max(1, min(values.shape) // 8)
    while True:
        previous = surface
        for k in range(DEQUANTISE_PASSES):
            ahead = surface if k == 0 else cv2.addWeighted(surface, 1 + k / (k + 3), previous, -k / (k + 3), 0)
            previous, surface = surface, cv2.min(cv2.max(_plane_preserving_blur(ahead, radius), low), high)
            if cv2.norm(surface, previous, cv2.NORM_INF) < DEQUANTISE_SETTLED * step:
                break  # settled at this width (for a plane, the finer widths find nothing left to do)
        if radius == 1:
            return surface
        radius = max(1, radius // DEQUANTISE_SCALE_STEP)


def _plane_preserving_blur(values: np.ndarray, radius: int) -> np.ndarray:
    """A (2r+1)-box applied twice (a tent: symmetric with a non-negative spectrum, so the passes converge) that
    maps a plane to itself up to the frame: the padding is the point reflection through each border pixel, which
    continues a plane as the same plane where a mirrored or repeated border would bend it."""
    height, width = values.shape
    pad_y, pad_x = min(2 * radius, height - 1), min(2 * radius, width - 1)
    border = (pad_y, pad_y, pad_x, pad_x)
    mirrored = cv2.copyMakeBorder(values, *border, cv2.BORDER_REFLECT_101)
    repeated = cv2.copyMakeBorder(values, *border, cv2.BORDER_REPLICATE)
    padded = cv2.addWeighted(repeated, 2.0, mirrored, -1.0, 0)  # 2·edge − mirror; inside: 2v − v = v
    # OpenCV's box filter costs in proportion to its width; a wide one runs on a grid coarsened to about a
    # quarter of the radius (area down, bilinear up: both keep a plane a plane), which is smooth at that scale.
    coarse = max(1, radius // 4)
    if coarse > 1:
        full = padded.shape[1], padded.shape[0]
        small = cv2.resize(padded, (-(-full[0] // coarse), -(-full[1] // coarse)), interpolation=cv2.INTER_AREA)
        blurred = cv2.resize(_tent(small, round(radius / coarse)), full, interpolation=cv2.INTER_LINEAR)
    else:
        blurred = _tent(padded, radius)
    out = blurred[pad_y : pad_y + height, pad_x : pad_x + width].copy()
    # The reflection pivots on the border pixels, so the blur never moves them; continue the smoothed inside
    # out to them instead (a straight line through two inner points, exact for a plane).
    m = min(radius, (width - 1) // 2)
    if m >= 1:
        out[:, 0] = 2 * out[:, m] - out[:, 2 * m]
        out[:, -1] = 2 * out[:, -1 - m] - out[:, -1 - 2 * m]
    m = min(radius, (height - 1) // 2)
    if m >= 1:
        out[0] = 2 * out[m] - out[2 * m]
        out[-1] = 2 * out[-1 - m] - out[-1 - 2 * m]
    return out


def _tent(values: np.ndarray, radius: int) -> np.ndarray:
    size = (2 * radius + 1, 2 * radius + 1)
    return cv2.blur(cv2.blur(values, size, borderType=cv2.BORDER_REPLICATE), size, borderType=cv2.BORDER_REPLICATE)
