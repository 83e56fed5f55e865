"""Original ↔ working coordinates: round trips, content lands where mapped boxes say, results come back exact."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.segment.boxes import Box, PhraseDetection
from lib_garment.segment.geometry import (
    Resize,
    fit_within,
    identity,
    letterbox,
    pad_to_multiple,
    pixel_box,
    resize_longest,
)

MAPPINGS = [
    fit_within(6720, 4480, 1024),
    fit_within(4480, 6720, 1536),
    fit_within(901, 677, 256),
    resize_longest(300, 200, 1024),  # enlarging, as SAM does for small photos
    letterbox(640, 480, 1024, 1024),
    letterbox(640, 480, 1024, 1024, centre=True),
    letterbox(333, 777, 512, 512, centre=True),
    pad_to_multiple(fit_within(1001, 703, 700), 32),
    identity(50, 40),
]


def centroid(values: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre in continuous coordinates (pixel centres at +0.5)."""
    rows, cols = np.mgrid[: values.shape[0], : values.shape[1]]
    total = values.sum()
    return float(((cols + 0.5) * values).sum() / total), float(((rows + 0.5) * values).sum() / total)


def test_working_sizes_are_bounded_and_keep_the_aspect() -> None:
    r = fit_within(6720, 4480, 1024)
    assert (r.content_width, r.content_height) == (1024, 683)  # 682.67 rounded half up
    assert r.canvas_size == (1024, 683)
    assert r.scale_x == 1024 / 6720
    assert r.scale_y == 683 / 4480  # the scale of the sizes actually used, not 1024 / 6720
    assert fit_within(800, 600, 1024).is_identity  # never enlarged
    assert fit_within(1024, 10, 1024).is_identity
    assert (fit_within(10, 5000, 1024).content_width, fit_within(10, 5000, 1024).content_height) == (2, 1024)
    assert resize_longest(300, 200, 1024).canvas_size == (1024, 683)
    box = letterbox(640, 480, 1024, 1024, centre=True)
    assert (box.content_width, box.content_height, box.left, box.top) == (1024, 768, 0, 128)
    padded = pad_to_multiple(fit_within(1000, 700, 1000), 32)
    assert padded.canvas_size == (1024, 704)
    assert (padded.content_width, padded.content_height) == (1000, 700)
    with pytest.raises(ValueError, match="does not fit"):
        Resize(100, 100, 60, 60, left=50, canvas_width=100)


@pytest.mark.parametrize("resize", MAPPINGS, ids=lambda r: f"{r.width}x{r.height}->{r.canvas_width}x{r.canvas_height}")
def test_points_and_boxes_round_trip(resize: Resize) -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, (200, 2)) * (resize.width, resize.height)
    np.testing.assert_allclose(resize.points_to_original(resize.points_to_working(points)), points, atol=1e-9)
    work = rng.uniform(0, 1, (200, 2)) * resize.canvas_size
    np.testing.assert_allclose(resize.points_to_working(resize.points_to_original(work)), work, atol=1e-9)
    # The photo's corners are the content's corners.
    corners = resize.points_to_working([[0, 0], [resize.width, resize.height]])
    np.testing.assert_allclose(
        corners, [[resize.left, resize.top], [resize.left + resize.content_width, resize.top + resize.content_height]]
    )
    box = Box(12.25, 7.5, 40.75, 33.0)
    back = resize.box_to_original(resize.box_to_working(box))
    np.testing.assert_allclose(back.as_tuple(), box.as_tuple(), atol=1e-9)
    detection = resize.detection_to_original(PhraseDetection(resize.box_to_working(box), 0.6, "dress", 0.4))
    assert (detection.score, detection.phrase, detection.text_score) == (0.6, "dress", 0.4)


@pytest.mark.parametrize(
    "resize",
    [fit_within(900, 600, 256), fit_within(900, 600, 450), letterbox(900, 600, 320, 320, centre=True)],
    ids=["by-3.5", "by-2", "letterbox"],
)
def test_image_content_lands_where_the_mapped_box_says(resize: Resize) -> None:
    image = np.zeros((600, 900), np.float32)
    box = Box(213, 101, 618, 389)  # x1, y1 exclusive
    image[101:389, 213:618] = 1.0
    working = resize.image_to_working(image)
    assert working.shape == (resize.canvas_height, resize.canvas_width)
    mapped = resize.box_to_working(box)
    expected_centre = ((mapped.x0 + mapped.x1) / 2, (mapped.y0 + mapped.y1) / 2)
    np.testing.assert_allclose(centroid(working), expected_centre, atol=0.01)  # no half-pixel shift
    np.testing.assert_allclose(working.sum(), mapped.area, rtol=1e-4)  # area averaging keeps the mass


def test_results_come_back_at_exactly_the_original_size() -> None:
    resize = fit_within(1001, 667, 256)
    alpha = np.random.default_rng(1).random(resize.canvas_size[::-1]).astype(np.float32) * 1.4 - 0.2
    back = resize.alpha_to_original(alpha)
    assert back.shape == (667, 1001)
    assert back.dtype == np.float32
    assert back.min() >= 0.0
    assert back.max() <= 1.0
    assert resize.mask_to_original(alpha > 0.5).shape == (667, 1001)
    padded = letterbox(1001, 667, 512, 512, centre=True)
    canvas = np.zeros((512, 512), np.float32)
    canvas[padded.top : padded.top + padded.content_height, padded.left : padded.left + padded.content_width] = 1
    assert padded.alpha_to_original(canvas).min() == 1.0  # only the content comes back, never the margins


@pytest.mark.parametrize("factor", [2, 4])
def test_masks_round_trip_exactly_at_integer_factors(factor: int) -> None:
    original = np.zeros((96, 128), bool)
    original[16:56, 24:104] = True  # edges on the working grid
    resize = fit_within(128, 96, 128 // factor)
    working = resize.mask_to_working(original)
    expected_working = np.zeros((96 // factor, 128 // factor), bool)
    expected_working[16 // factor : 56 // factor, 24 // factor : 104 // factor] = True
    np.testing.assert_array_equal(working, expected_working)
    back = resize.mask_to_original(working)
    if factor == 4:
        # Bilinear sampling rounds the working grid's square corners off: the four corner pixels (0.625² < 0.5)
        corners = np.zeros_like(original)
        corners[[16, 16, 55, 55], [24, 103, 24, 103]] = True
        np.testing.assert_array_equal(back ^ original, corners)
    else:
        np.testing.assert_array_equal(back, original)


def test_masks_round_trip_without_drift_at_any_factor() -> None:
    rows, cols = np.mgrid[:600, :900]
    original = (cols + 0.5 - 431.3) ** 2 / 250**2 + (rows + 0.5 - 287.9) ** 2 / 170**2 < 1
    resize = fit_within(900, 600, 256)  # 3.52 x
    back = resize.mask_to_original(resize.mask_to_working(original))
    assert back.shape == original.shape
    np.testing.assert_allclose(centroid(back.astype(np.float64)), centroid(original.astype(np.float64)), atol=0.3)
    assert (back ^ original).sum() / original.sum() < 0.03


def test_pixel_boxes_cover_the_touched_pixels() -> None:
    assert pixel_box(Box(10, 5, 20, 15), 100, 100) == (10, 5, 20, 15)
    assert pixel_box(Box(10.2, 5.7, 19.1, 15.0), 100, 100) == (10, 5, 20, 15)
    assert pixel_box(Box(-3, -3, 200, 50.5), 100, 100) == (0, 0, 100, 51)
    col0, row0, col1, row1 = pixel_box(Box(150, 150, 180, 190), 100, 100)
    assert col1 == col0
    assert row1 == row0
