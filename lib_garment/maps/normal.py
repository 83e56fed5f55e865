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

from lib_garment.arrays import binary_mask
from lib_garment.errors import BadInput
from lib_garment.maps.scale import size_scale


@dataclass(frozen=True)
class NormalParams:
    """``depth_scale``: how deep the depth map's full range (black → white) is, as a fraction of the image's
    short side; larger tilts the normals more. ``background_depth``: where set, pixels darker than this
    (0..1 of the depth map) face the camera, like a cut-out background; a mask can do the same.
    ``smooth``: Gaussian sigma (px at 512, scaled with the image) applied to the depth first; None leaves the
    choice to the caller that knows the source (compute_maps smooths 8-bit depth, whose steps would show)."""

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
    depth: np.ndarray, params: NormalParams = DEFAULT_NORMAL, mask: np.ndarray | None = None
) -> np.ndarray:
    """The normal map: (H, W, 3) uint8 RGB from a near-bright depth map.

    ``depth``: uint8 (0..255, the depth map) or float (0..1). ``mask``: where given, pixels outside it face
    the camera (background cut by the product or person mask).
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
