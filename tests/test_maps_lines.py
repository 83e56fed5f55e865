"""Hough line map: drawn straight lines come back as segments, drawn white on black."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.maps.edges import canny_map
from lib_garment.maps.lines import LineParams, draw_segments, line_segments, lines_map

DRAWN = [((20, 30), (230, 30)), ((40, 60), (40, 230)), ((80, 230), (230, 80))]  # none crossing


def three_lines() -> np.ndarray:
    image = np.zeros((256, 256, 3), np.uint8)
    for a, b in DRAWN:
        cv2.line(image, a, b, (255, 255, 255), 2)
    return image


def distance_to_line(points: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> np.ndarray:
    """Distance from each (x, y) to the segment a-b."""
    a_, b_ = np.array(a, float), np.array(b, float)
    t = np.clip(((points - a_) @ (b_ - a_)) / ((b_ - a_) @ (b_ - a_)), 0, 1)
    return np.linalg.norm(points - (a_ + t[:, None] * (b_ - a_)), axis=1)


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) % 180


def test_three_drawn_lines_are_recovered() -> None:
    segments = line_segments(three_lines())
    assert segments.ndim == 2
    assert segments.shape[1] == 4
    for a, b in DRAWN:
        length = math.dist(a, b)
        matches = [
            s
            for s in segments
            if distance_to_line(s.reshape(2, 2).astype(float), a, b).max() <= 3
            and abs(angle(s[:2], s[2:]) - angle(np.array(a), np.array(b))) <= 3
            and math.dist(s[:2], s[2:]) >= 0.8 * length
        ]
        assert matches, f"line {a}-{b} not recovered from {segments.tolist()}"
    for s in segments:  # nothing invented away from the drawn lines
        ends = s.reshape(2, 2).astype(float)
        assert min(distance_to_line(ends, a, b).max() for a, b in DRAWN) <= 3, s


def test_line_map_is_white_segments_on_black_at_full_size() -> None:
    image = three_lines()
    result = lines_map(image)
    assert result.shape == (256, 256)
    assert result.dtype == np.uint8
    assert set(np.unique(result)) == {0, 255}
    ys, xs = np.nonzero(result)
    white = np.stack([xs, ys], axis=1).astype(float)
    nearest = np.min([distance_to_line(white, a, b) for a, b in DRAWN], axis=0)
    assert nearest.max() <= 4
    for a, b in DRAWN:  # each line is covered along its length
        along = np.linspace(a, b, 20)[2:-2]
        assert (np.min(np.linalg.norm(white[None] - along[:, None], axis=2), axis=1) <= 3).all()


def test_a_blank_image_has_no_lines() -> None:
    blank = np.zeros((64, 64, 3), np.uint8)
    assert line_segments(blank).shape == (0, 4)
    assert lines_map(blank).max() == 0


def test_thresholds_filter_segments() -> None:
    image = three_lines()
    assert len(line_segments(image, LineParams(min_length=400))) == 0  # longer than any line
    assert len(line_segments(image, LineParams(votes=1000))) == 0  # more votes than any line has


def test_given_edges_are_used_as_they_are() -> None:
    image = three_lines()
    np.testing.assert_array_equal(lines_map(image, edges=canny_map(image)), lines_map(image))
    assert lines_map(image, edges=np.zeros((256, 256), np.uint8)).max() == 0


def test_defaults_scale_with_the_image() -> None:
    assert LineParams().resolved(512, 700) == (24.0, 4.0, 1)
    assert LineParams().resolved(1024, 2048) == (48.0, 8.0, 2)
    assert LineParams(min_length=10, max_gap=0, thickness=3).resolved(1024, 1024) == (10.0, 0.0, 3)


def test_draw_segments_uses_the_thickness() -> None:
    canvas = draw_segments(np.array([[10, 20, 50, 20]]), 40, 64, thickness=3)
    assert canvas[19:22, 10:51].min() == 255
    assert canvas[:18].max() == 0
    assert canvas[23:].max() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"votes": 0}, "votes"),
        ({"votes": 2.5}, "votes"),
        ({"min_length": -1}, "min length"),
        ({"max_gap": float("nan")}, "max gap"),
        ({"thickness": 0}, "thickness"),
    ],
)
def test_bad_line_thresholds_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        LineParams(**kwargs)
