"""Coordinates between the original photo and a model's working image, both ways, without shifts.

Convention (the one GroundingDINO's normalised boxes, SAM's box prompts, torchvision and OpenCV's resize
share): **continuous pixel coordinates**. An image of W x H pixels spans [0, W] x [0, H]; the pixel in row i,
column j is the unit square [j, j+1) x [i, i+1) with its centre at (j + 0.5, i + 0.5). Boxes use these
coordinates with x1, y1 as far edges: the box around columns 10..19 is x0 = 10, x1 = 20.

A working image is the photo scaled per axis to ``content_width x content_height`` and, for a letterbox,
placed at (left, top) on a larger canvas. A point maps as ``x' = x * sx + left`` with
``sx = content_width / width`` taken from the integer sizes actually used (never a nominal scale such as
1024 / 6720, which would drift by up to a pixel across the image), and back as ``x = (x' - left) / sx``.
The same map takes pixel *centres* to pixel centres, which is what cv2.resize does with INTER_LINEAR,
INTER_AREA and INTER_NEAREST_EXACT: arrays resized with those land where the mapped boxes say. (Plain
INTER_NEAREST rounds differently and shifts content by up to half a source pixel, so it is not used.)
Pixel *indices* (column j) are not continuous coordinates: convert with ``j + 0.5`` first.

:func:`fit_within` bounds the working size (longest side at most ``max_side``, never enlarged), so that a
6720 x 4480 photo reaches SAM and the matte at e.g. 1024 x 683; :meth:`Resize.mask_to_original` and
:meth:`Resize.alpha_to_original` bring the results back to exactly W x H.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.segment.boxes import Box, PhraseDetection

MODEL_MAX_SIDE = 1024  # what detection and SAM see: SAM's own input side; GroundingDINO resizes to 800-1333
# The band's crop (plus context) the matte sees: bounded, so the matte's time and memory follow the band, not the
# photo (ViTMatte's global attention grows as side⁴); detail: a product filling a 4096×3072 photo is matted at ~1/4.
MATTE_MAX_SIDE = 1024


@dataclass(frozen=True)
class Resize:
    """The original ``width x height`` photo scaled to ``content_width x content_height`` and placed at
    (``left``, ``top``) on a ``canvas_width x canvas_height`` working image (no canvas: the content itself)."""

    width: int
    height: int
    content_width: int
    content_height: int
    left: int = 0
    top: int = 0
    canvas_width: int = 0  # 0: the content's width
    canvas_height: int = 0

    def __post_init__(self) -> None:
        if min(self.width, self.height, self.content_width, self.content_height) < 1:
            raise ValueError(f"sizes must be at least 1 px: {self}")
        if not self.canvas_width:
            object.__setattr__(self, "canvas_width", self.left + self.content_width)
        if not self.canvas_height:
            object.__setattr__(self, "canvas_height", self.top + self.content_height)
        if (
            self.left < 0
            or self.top < 0
            or self.left + self.content_width > self.canvas_width
            or self.top + self.content_height > self.canvas_height
        ):
            raise ValueError(f"the content does not fit on the canvas: {self}")

    @property
    def scale_x(self) -> float:
        return self.content_width / self.width

    @property
    def scale_y(self) -> float:
        return self.content_height / self.height

    @property
    def is_identity(self) -> bool:
        return (self.content_width, self.content_height, self.canvas_width, self.canvas_height) == (
            self.width,
            self.height,
            self.width,
            self.height,
        )

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the working image."""
        return self.canvas_width, self.canvas_height

    # Points and boxes: continuous coordinates, (..., 2) arrays of (x, y) or Box values.

    def points_to_working(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        return points * (self.scale_x, self.scale_y) + (self.left, self.top)

    def points_to_original(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        return (points - (self.left, self.top)) / (self.scale_x, self.scale_y)

    def box_to_working(self, box: Box) -> Box:
        (x0, y0), (x1, y1) = self.points_to_working([[box.x0, box.y0], [box.x1, box.y1]])
        return Box(x0, y0, x1, y1)

    def box_to_original(self, box: Box) -> Box:
        (x0, y0), (x1, y1) = self.points_to_original([[box.x0, box.y0], [box.x1, box.y1]])
        return Box(x0, y0, x1, y1)

    def detection_to_original(self, detection: PhraseDetection) -> PhraseDetection:
        return PhraseDetection(
            self.box_to_original(detection.box), detection.score, detection.phrase, detection.text_score
        )

    # Arrays.

    def image_to_working(self, image: np.ndarray, fill: int | float = 0) -> np.ndarray:
        """``image`` (H, W[, C]) at the working size: area-averaged when shrinking, bilinear when enlarging,
        the canvas around the content filled with ``fill``."""
        self._check_shape(image, (self.height, self.width), "original")
        content = _resize(image, self.content_width, self.content_height)
        if (self.canvas_width, self.canvas_height) == (self.content_width, self.content_height):
            return content
        canvas = np.full((self.canvas_height, self.canvas_width, *image.shape[2:]), fill, dtype=image.dtype)
        canvas[self.top : self.top + self.content_height, self.left : self.left + self.content_width] = content
        return canvas

    def content_of(self, working: np.ndarray) -> np.ndarray:
        """The part of a working-size array that shows the photo (the canvas margins cut off)."""
        self._check_shape(working, (self.canvas_height, self.canvas_width), "working")
        return working[self.top : self.top + self.content_height, self.left : self.left + self.content_width]

    def values_to_original(self, working: np.ndarray) -> np.ndarray:
        """A working-size float array (alpha, probabilities) at the original size: bilinear, float32."""
        content = np.ascontiguousarray(self.content_of(working), dtype=np.float32)
        if content.shape[:2] == (self.height, self.width):
            return content.copy()
        return cv2.resize(content, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def alpha_to_original(self, alpha: np.ndarray) -> np.ndarray:
        """A working-size alpha in [0, 1] as float32 at exactly the original size (bilinear, clipped)."""
        return np.clip(self.values_to_original(alpha), 0.0, 1.0)

    def mask_to_original(self, mask: np.ndarray) -> np.ndarray:
        """A working-size binary mask (bool, or non-zero = on) at the original size, as bool.

        Bilinear on 0/1 then cut at one half, rather than nearest neighbour: the edge lands where the working
        mask's edge maps to and nothing shifts; the working grid's square corners come back slightly rounded
        rather than as blocks.
        """
        on = np.asarray(mask) != 0
        return self.values_to_original(on.astype(np.float32)) > 0.5

    def mask_to_working(self, mask: np.ndarray) -> np.ndarray:
        """An original-size binary mask (bool, or non-zero = on) at the working size, as bool (area share
        more than one half; the canvas margins are off)."""
        on = (np.asarray(mask) != 0).astype(np.float32)
        return self.image_to_working(on) > 0.5

    def _check_shape(self, array: np.ndarray, shape: tuple[int, int], which: str) -> None:
        if array.shape[:2] != shape:
            raise ValueError(f"expected an array of the {which} size {shape[1]}x{shape[0]}, got {array.shape}")


def identity(width: int, height: int) -> Resize:
    """No change: the working image is the photo."""
    return Resize(width, height, width, height)


def scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    """Integer size of width x height scaled by ``scale``, each side rounded half up, at least 1 (SAM's rule)."""
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def fit_within(width: int, height: int, max_side: int) -> Resize:
    """The photo scaled down so that its longest side is at most ``max_side`` (never enlarged)."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    longest = max(width, height)
    if longest <= max_side:
        return identity(width, height)
    return Resize(width, height, *scaled(width, height, max_side / longest))


def resize_longest(width: int, height: int, side: int) -> Resize:
    """The photo scaled (up or down) so that its longest side is ``side`` (SAM's ResizeLongestSide)."""
    return Resize(width, height, *scaled(width, height, side / max(width, height)))


def letterbox(width: int, height: int, canvas_width: int, canvas_height: int, centre: bool = False) -> Resize:
    """The photo scaled to fit a canvas keeping its aspect, at the top left (SAM's padding) or centred.

    The scale is the smaller of the two axis ratios; the other side is rounded half up and kept within the
    canvas. Centring puts the odd pixel of the margin on the right/bottom.
    """
    scale = min(canvas_width / width, canvas_height / height)
    content_width, content_height = scaled(width, height, scale)
    content_width, content_height = min(content_width, canvas_width), min(content_height, canvas_height)
    left = (canvas_width - content_width) // 2 if centre else 0
    top = (canvas_height - content_height) // 2 if centre else 0
    return Resize(width, height, content_width, content_height, left, top, canvas_width, canvas_height)


def pad_to_multiple(resize: Resize, multiple: int) -> Resize:
    """The same mapping on a canvas grown right and down to multiples of ``multiple`` (ViTMatte wants 32)."""
    grow_w = -(-resize.canvas_width // multiple) * multiple
    grow_h = -(-resize.canvas_height // multiple) * multiple
    return Resize(
        resize.width,
        resize.height,
        resize.content_width,
        resize.content_height,
        resize.left,
        resize.top,
        grow_w,
        grow_h,
    )


def pixel_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels a box touches, as a slice-ready (col0, row0, col1, row1) within the image (col1 exclusive)."""
    b = box.clipped(width, height)
    col0, row0 = int(np.floor(b.x0)), int(np.floor(b.y0))
    col1, row1 = int(np.ceil(b.x1)), int(np.ceil(b.y1))
    return col0, row0, max(col0, col1), max(row0, row1)


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    if array.shape[:2] == (height, width):
        return array.copy()
    shrinking = width <= array.shape[1] and height <= array.shape[0]
    how = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(array), (width, height), interpolation=how)
