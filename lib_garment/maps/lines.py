"""Straight-line map: probabilistic Hough segments on Canny edges, drawn white on black (what M-LSD gives)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.arrays import check_image
from lib_garment.errors import BadInput
from lib_garment.maps.edges import DEFAULT_CANNY, CannyParams, canny_map
from lib_garment.maps.scale import scaled_size, size_scale


@dataclass(frozen=True)
class LineParams:
    """Hough thresholds. Lengths in pixels; None scales a default with the image (given here at 512 px)."""

    votes: int = 50  # accumulator votes a line needs
    min_length: float | None = None  # shorter segments are dropped; default 24 px at 512
    max_gap: float | None = None  # collinear pieces closer than this join; default 4 px at 512
    thickness: int | None = None  # drawn width; default 1 px at 512, like ControlNet's M-LSD map
    canny: CannyParams = DEFAULT_CANNY

    def __post_init__(self) -> None:
        if isinstance(self.votes, bool) or not isinstance(self.votes, int) or self.votes < 1:
            raise BadInput(f"Hough votes must be a whole number >= 1, got {self.votes!r}")
        for name in ("min_length", "max_gap"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise BadInput(f"Hough {name.replace('_', ' ')} must be >= 0 px, got {value!r}")
        if self.thickness is not None and (not isinstance(self.thickness, int) or self.thickness < 1):
            raise BadInput(f"line thickness must be a whole number >= 1, got {self.thickness!r}")

    def resolved(self, height: int, width: int) -> tuple[float, float, int]:
        """(min_length, max_gap, thickness) in pixels for an image of this size."""
        scale = size_scale(height, width)
        min_length = 24.0 * scale if self.min_length is None else float(self.min_length)
        max_gap = 4.0 * scale if self.max_gap is None else float(self.max_gap)
        thickness = scaled_size(1, height, width) if self.thickness is None else self.thickness
        return min_length, max_gap, thickness


DEFAULT_LINES = LineParams()


def line_segments(image: np.ndarray, params: LineParams = DEFAULT_LINES, edges: np.ndarray | None = None) -> np.ndarray:
    """Segments as an (N, 4) int32 array of x1, y1, x2, y2 (pixels).

    ``edges``: the image's Canny map when the caller already has it with ``params.canny`` (saves a pass).
    """
    if edges is None:
        edges = canny_map(image, params.canny)
    height, width = edges.shape[:2]
    min_length, max_gap, _ = params.resolved(height, width)
    found = cv2.HoughLinesP(
        edges, rho=1, theta=np.pi / 180, threshold=params.votes, minLineLength=min_length, maxLineGap=max_gap
    )
    if found is None:
        return np.zeros((0, 4), np.int32)
    return found.reshape(-1, 4)


def draw_segments(segments: np.ndarray, height: int, width: int, thickness: int = 1) -> np.ndarray:
    """Segments drawn white on a black (H, W) uint8 canvas."""
    canvas = np.zeros((height, width), np.uint8)
    if len(segments):
        # One polylines call draws every segment; a Python loop of cv2.line costs more than the drawing.
        cv2.polylines(canvas, np.ascontiguousarray(segments, np.int32).reshape(-1, 2, 2), False, 255, thickness)
    return canvas


def lines_map(image: np.ndarray, params: LineParams = DEFAULT_LINES, edges: np.ndarray | None = None) -> np.ndarray:
    """The line map: (H, W) uint8, Hough segments white on black at the image's full size."""
    if edges is None:
        edges = canny_map(check_image(image), params.canny)
    height, width = edges.shape[:2]
    _, _, thickness = params.resolved(height, width)
    return draw_segments(line_segments(image, params, edges), height, width, thickness)
