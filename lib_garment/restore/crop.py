"""The square region around a detection that is regenerated at 512 x 512, and the exact way back.

Kong & Wu crop 512 x 512 around each head or hand. Here a :class:`CropRegion` is a square of ``side`` image
pixels with its top-left corner at integer ``(x0, y0)``, resampled to ``size`` x ``size`` (512) for the
regeneration:

- ``side`` = ``max(ceil(longer box side * (1 + 2 * margin)), min_side)``: the detection plus ``margin`` of its
  longer side on every side fits, whatever the detection's size; the square is then scaled to ``size`` (up for
  small hands, down for large faces);
- the square is centred on the detection's centre, then shifted to lie inside the image;
- where the image is smaller than the square (a 100 x 80 image, a detection as large as the image), it covers
  the whole image along that axis, as centred on the detection as that allows, and the part outside the image
  is padded by repeating the edge pixels; :meth:`CropRegion.inside` says which crop pixels are real.

The mapping is affine and exact both ways: image x = ``x0 + crop x * side / size`` (continuous pixel
coordinates, pixel edges at whole numbers; the same convention as ``cv2.resize``, which maps pixel centres
``(i + 0.5)`` onto each other). :meth:`CropRegion.to_image_grid` brings a crop-sized array back onto the
region's image pixels, and :meth:`CropRegion.paste` composites it there through an alpha: where the alpha is 0
the image is left bit for bit as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.restore.boxes import Box, Rect, check_box

CROP_SIZE = 512  # Kong & Wu's crop
MIN_CROP_SIZE = 64
MAX_CROP_SIZE = 2048
ALPHA_FLOOR = 1.0 / 512  # resampled alpha below this is ringing, not coverage


@dataclass(frozen=True)
class CropParams:
    """``size``: the regenerated crop's side in pixels (512, a multiple of 8 within 64..2048); ``margin``: the
    context around the detection on each side, as a share of its longer side; ``min_side``: the least region
    side in image pixels (so a tiny detection still brings some context)."""

    size: int = CROP_SIZE
    margin: float = 0.25
    min_side: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise BadInput(f"crop size must be a whole number of pixels, got {self.size!r}")
        if not MIN_CROP_SIZE <= self.size <= MAX_CROP_SIZE or self.size % 8:
            raise BadInput(
                f"crop size must be a multiple of 8 within {MIN_CROP_SIZE}..{MAX_CROP_SIZE}, got {self.size}"
            )
        if not isinstance(self.margin, int | float) or not 0.0 <= self.margin <= 4.0:
            raise BadInput(f"crop margin must be within 0..4 (a share of the detection's side), got {self.margin!r}")
        if not isinstance(self.min_side, int) or isinstance(self.min_side, bool) or self.min_side < 1:
            raise BadInput(f"crop min_side must be a whole number of pixels >= 1, got {self.min_side!r}")


DEFAULT_CROP = CropParams()


@dataclass(frozen=True)
class CropRegion:
    """A ``side`` x ``side`` square of image pixels at ``(x0, y0)`` (may reach outside the image, then padded),
    resampled to ``size`` x ``size``; ``image_shape`` is the image's (H, W)."""

    x0: int
    y0: int
    side: int
    size: int
    image_shape: tuple[int, int]

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.size / self.side

    @property
    def rect(self) -> Rect:
        """The square in image pixels (x0, y0, x1, y1), possibly reaching outside the image."""
        return self.x0, self.y0, self.x0 + self.side, self.y0 + self.side

    @property
    def valid(self) -> Rect:
        """The part of the square inside the image, in image pixels."""
        height, width = self.image_shape
        x0, y0, x1, y1 = self.rect
        return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)

    @property
    def padded(self) -> bool:
        return self.valid != self.rect

    # -- coordinates -------------------------------------------------------------------------------------------
    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) image x, y → crop x, y (float64)."""
        pts = np.asarray(points, np.float64)
        return (pts - np.array([self.x0, self.y0], np.float64)) * (self.size / self.side)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop x, y → image x, y (float64)."""
        pts = np.asarray(points, np.float64)
        return pts * (self.side / self.size) + np.array([self.x0, self.y0], np.float64)

    def box_to_crop(self, box: Box) -> Box:
        (a, b), (c, d) = self.to_crop(np.array([box[:2], box[2:]]))
        return float(a), float(b), float(c), float(d)

    def box_to_image(self, box: Box) -> Box:
        (a, b), (c, d) = self.to_image(np.array([box[:2], box[2:]]))
        return float(a), float(b), float(c), float(d)

    # -- pixels ------------------------------------------------------------------------------------------------
    def region_pixels(self, image: np.ndarray) -> np.ndarray:
        """The ``side`` x ``side`` square of ``image`` (H, W[, C]), edge pixels repeated where it leaves the image."""
        self._check_shape(image)
        x0, y0, x1, y1 = self.rect
        vx0, vy0, vx1, vy1 = self.valid
        patch = image[vy0:vy1, vx0:vx1]
        if not self.padded:
            return patch.copy()
        return cv2.copyMakeBorder(patch, vy0 - y0, y1 - vy1, vx0 - x0, x1 - vx1, cv2.BORDER_REPLICATE)

    def extract(self, image: np.ndarray) -> np.ndarray:
        """The crop: the square resampled to ``size`` x ``size`` (area averaging down, cubic up; exact copy at
        scale 1), same dtype and channels as ``image``."""
        return _resize(self.region_pixels(image), self.size)

    def inside(self) -> np.ndarray:
        """(size, size) bool: crop pixels whose centre falls inside the image (the rest is padding)."""
        vx0, vy0, vx1, vy1 = self.valid
        centres = (np.arange(self.size) + 0.5) * (self.side / self.size)
        cols = (centres + self.x0 >= vx0) & (centres + self.x0 < vx1)
        rows = (centres + self.y0 >= vy0) & (centres + self.y0 < vy1)
        return rows[:, None] & cols[None, :]

    def to_image_grid(self, crop: np.ndarray) -> np.ndarray:
        """A crop-sized array resampled back onto the region's image pixels, cut to :attr:`valid`: the array to
        composite into ``image[vy0:vy1, vx0:vx1]``."""
        if crop.shape[:2] != (self.size, self.size):
            raise BadInput(f"a crop must be {self.size}x{self.size}, got {crop.shape[1]}x{crop.shape[0]}")
        square = _resize(crop, self.side)
        x0, y0, _, _ = self.rect
        vx0, vy0, vx1, vy1 = self.valid
        return square[vy0 - y0 : vy1 - y0, vx0 - x0 : vx1 - x0]

    def image_alpha(self, alpha: np.ndarray) -> np.ndarray:
        """A crop-sized alpha on the region's image pixels (:meth:`to_image_grid`), in [0, 1], with the faint
        values bicubic ringing leaves beside a hard edge (under 1/512) set to exactly 0."""
        a = np.clip(self.to_image_grid(np.asarray(alpha, np.float32)), 0.0, 1.0)
        a[a < ALPHA_FLOOR] = 0.0
        return a

    def paste(self, image: np.ndarray, crop: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """``image`` with ``crop`` composited through ``alpha`` (crop-sized float in [0, 1]) onto the region.

        A plain alpha paste (:mod:`.blend` has the Poisson one): ``round(crop * a + image * (1 - a))``, and
        exactly ``image`` wherever the resampled alpha is 0.
        """
        self._check_shape(image)
        if alpha.shape != (self.size, self.size):
            raise BadInput(f"alpha must be {self.size}x{self.size}, got {alpha.shape[1]}x{alpha.shape[0]}")
        vx0, vy0, vx1, vy1 = self.valid
        a = self.image_alpha(alpha)
        source = self.to_image_grid(crop)
        out = image.copy()
        window = out[vy0:vy1, vx0:vx1]
        weight = a[..., None] if window.ndim == 3 else a
        mixed = source.astype(np.float32) * weight + window.astype(np.float32) * (1.0 - weight)
        mixed = np.clip(np.rint(mixed), 0, 255).astype(image.dtype)
        changed = a > 0
        window[changed] = mixed[changed]
        return out

    def _check_shape(self, image: np.ndarray) -> None:
        if tuple(image.shape[:2]) != tuple(self.image_shape):
            raise BadInput(
                f"the region was planned for a {self.image_shape[1]}x{self.image_shape[0]} image, "
                f"got {image.shape[1]}x{image.shape[0]}"
            )


def region_side(box: Box, params: CropParams = DEFAULT_CROP) -> int:
    """The square's side in image pixels: the longer box side plus ``margin`` of it on each side, at least
    ``min_side``."""
    longer = max(box[2] - box[0], box[3] - box[1])
    # 1e-9: 100 * 1.5 must stay 150, not become 151 through float rounding.
    return max(math.ceil(longer * (1.0 + 2.0 * params.margin) - 1e-9), params.min_side, 1)


def _place(centre: float, side: int, length: int) -> int:
    """The square's start along one axis: centred, then shifted into the image (or, when the image is shorter
    than the square, so that it covers the whole image, as centred as that allows)."""
    start = math.floor(centre - side / 2 + 0.5)
    low, high = min(0, length - side), max(0, length - side)
    return min(max(start, low), high)


def crop_region(box: Box, image_shape: tuple[int, int], params: CropParams = DEFAULT_CROP) -> CropRegion:
    """The region regenerated for a detection ``box`` (x0, y0, x1, y1 image pixels) in an image of
    ``image_shape`` (H, W)."""
    box = check_box(box, "detection box")
    height, width = (int(v) for v in image_shape[:2])
    if height < 1 or width < 1:
        raise BadInput(f"image must be at least 1x1, got {width}x{height}")
    side = region_side(box, params)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return CropRegion(_place(cx, side, width), _place(cy, side, height), side, params.size, (height, width))


def _resize(array: np.ndarray, side: int) -> np.ndarray:
    """A square array resampled to ``side`` x ``side``: an exact copy at the same size, area averaging when
    shrinking, bicubic when enlarging (uint8 results are saturated by OpenCV)."""
    if array.shape[0] == side and array.shape[1] == side:
        return array.copy()
    how = cv2.INTER_AREA if side < array.shape[0] else cv2.INTER_CUBIC
    resized = cv2.resize(array, (side, side), interpolation=how)
    if array.ndim == 3 and resized.ndim == 2:  # OpenCV drops a single channel
        resized = resized[..., None]
    return resized
