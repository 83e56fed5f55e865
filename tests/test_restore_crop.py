"""The 512 x 512 region around each detection: size, placement at borders and in tiny images, exact mapping back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.restore.crop import CropParams, CropRegion, crop_region, region_side


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def contains(region: CropRegion, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = region.rect
    return x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1


def test_the_region_fits_the_detection_and_its_margin_and_is_centred_on_it() -> None:
    box = (300.0, 200.0, 400.0, 260.0)  # 100 x 60, centre (350, 230)
    region = crop_region(box, (1000, 1000), CropParams(margin=0.25))
    assert region.side == 150  # the longer side, plus 25 % of it on each side
    assert (region.x0, region.y0) == (275, 155)  # centre - side / 2
    assert region.rect[0] + region.side / 2 == 350
    assert region.rect[1] + region.side / 2 == 230
    assert contains(region, box)
    assert not region.padded
    assert region.size == 512
    assert region.scale == pytest.approx(512 / 150)


@pytest.mark.parametrize(
    ("box", "expected_side"),
    [
        ((0.0, 0.0, 10.0, 10.0), 32),  # a tiny hand: min_side keeps some context (and it is scaled up 16x)
        ((0.0, 0.0, 100.5, 20.0), 151),  # ceil(150.75)
        ((0.0, 0.0, 900.0, 700.0), 1350),  # a big face is scaled down to 512
    ],
)
def test_the_side_grows_with_the_detection(box, expected_side: int) -> None:
    assert region_side(box, CropParams()) == expected_side
    assert region_side(box, CropParams(margin=0.0, min_side=1)) == math.ceil(max(box[2] - box[0], box[3] - box[1]))


@pytest.mark.parametrize(
    ("box", "x0", "y0"),
    [
        ((0.0, 0.0, 60.0, 60.0), 0, 0),  # top-left corner: shifted right and down
        ((560.0, 420.0, 640.0, 480.0), 520, 360),  # bottom-right corner: shifted left and up
        ((300.0, 0.0, 340.0, 40.0), 290, 0),  # top edge: only shifted down
    ],
)
def test_at_the_border_the_square_is_shifted_inside_the_image(box, x0: int, y0: int) -> None:
    region = crop_region(box, (480, 640))
    assert (region.x0, region.y0) == (x0, y0)
    assert not region.padded
    assert contains(region, box)
    x_0, y_0, x_1, y_1 = region.rect
    assert min(x_0, y_0) >= 0
    assert y_1 <= 480
    assert x_1 <= 640


def test_a_tiny_image_is_padded_and_the_padding_is_marked() -> None:
    image = _rgb(80, 100)  # H 80, W 100
    box = (30.0, 10.0, 90.0, 70.0)  # 60 x 60: side 90 > 80 rows
    region = crop_region(box, image.shape[:2])
    assert region.side == 90
    assert region.padded
    x0, y0, x1, y1 = region.rect
    assert x0 >= 0  # fits across: inside the image
    assert x1 <= 100
    assert (y0, y1) == (-5, 85)  # covers every row (0..80), as centred on the box (row 40) as it can be
    assert contains(region, box)
    crop = region.extract(image)
    assert crop.shape == (512, 512, 3)
    assert crop.dtype == np.uint8
    inside = region.inside()
    assert inside[256].all()  # middle row is real
    assert not inside[0].any()
    assert not inside[-1].any()  # top and bottom rows: padding
    rows = np.flatnonzero(inside.any(axis=1))
    # 5 padded image rows above, 5 below, at 512 / 90 crop px each
    assert rows[0] == math.ceil(5 * 512 / 90 - 0.5)
    assert rows[-1] == 511 - math.ceil(5 * 512 / 90 - 0.5)


def test_padding_repeats_the_edge_pixels() -> None:
    image = _rgb(40, 50)
    region = crop_region((0.0, 0.0, 50.0, 40.0), image.shape[:2], CropParams(margin=0.0, min_side=1))
    square = region.region_pixels(image)
    assert square.shape == (50, 50, 3)
    assert (region.x0, region.y0) == (0, -5)
    assert np.array_equal(square[5:45], image)
    assert np.array_equal(square[:5], np.repeat(image[:1], 5, axis=0))
    assert np.array_equal(square[45:], np.repeat(image[-1:], 5, axis=0))


def test_a_detection_larger_than_the_image_covers_the_whole_image() -> None:
    region = crop_region((0.0, 0.0, 100.0, 80.0), (80, 100))
    assert region.valid == (0, 0, 100, 80)
    assert region.side == 150


def test_overlapping_detections_get_their_own_regions() -> None:
    image = _rgb(300, 300)
    boxes = [(100.0, 100.0, 160.0, 170.0), (130.0, 120.0, 200.0, 180.0), (120.0, 90.0, 150.0, 140.0)]
    regions = [crop_region(b, image.shape[:2]) for b in boxes]
    for region, box in zip(regions, boxes, strict=True):
        assert contains(region, box)
        centre = region.to_crop(np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]]))[0]
        assert np.allclose(centre, 256, atol=region.scale)  # centred within a pixel of the image
    crops = [r.extract(image) for r in regions]
    assert not np.array_equal(crops[0], crops[1])


def test_coordinates_round_trip_exactly() -> None:
    rng = np.random.default_rng(1)
    for box, shape in (((13.3, 7.1, 77.9, 40.2), (100, 80)), ((500.0, 300.0, 900.0, 800.0), (1024, 1024))):
        region = crop_region(box, shape)
        points = rng.uniform(-50, 1100, (200, 2))
        assert np.allclose(region.to_image(region.to_crop(points)), points, rtol=0, atol=1e-9)
        assert np.allclose(region.box_to_image(region.box_to_crop(box)), box, rtol=0, atol=1e-9)
        # the square's corners are the crop's corners
        x0, y0, x1, y1 = region.rect
        assert np.allclose(region.to_crop(np.array([[x0, y0], [x1, y1]])), [[0, 0], [512, 512]])


@pytest.mark.parametrize("side_scale", [0.5, 2.0])  # up (a hand) and down (a face)
def test_a_marked_square_lands_where_the_mapping_says(side_scale: float) -> None:
    size = 512
    image = np.zeros((1200, 1200, 3), np.uint8)
    side = round(size * side_scale)
    box = (600.0 - side / 3, 500.0 - side / 3, 600.0 + side / 3, 500.0 + side / 3)  # side / 1.5 * 1.5 = side
    region = crop_region(box, image.shape[:2])
    assert region.side in (side, side + 1)
    mark = (630, 470, 630 + 20, 470 + 10)  # x0, y0, x1, y1 in image pixels
    image[mark[1] : mark[3], mark[0] : mark[2]] = 255
    crop = region.extract(image)[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    centroid = (float((crop * xs).sum() / crop.sum()), float((crop * ys).sum() / crop.sum()))
    expected = region.to_crop(np.array([[(mark[0] + mark[2]) / 2, (mark[1] + mark[3]) / 2]]))[0]
    assert np.allclose(centroid, expected, atol=0.05 * region.scale + 0.05)


def test_at_scale_one_extract_and_paste_are_exact_copies() -> None:
    image = _rgb(700, 600, seed=2)
    region = crop_region((200.0, 200.0, 200.0 + 512 / 1.5, 200.0 + 512 / 1.5), image.shape[:2])
    assert region.side == 512
    crop = region.extract(image)
    x0, y0, x1, y1 = region.rect
    assert np.array_equal(crop, image[y0:y1, x0:x1])
    pasted = region.paste(image, crop, np.ones((512, 512), np.float32))
    assert np.array_equal(pasted, image)
    other = _rgb(512, 512, seed=3)
    replaced = region.paste(image, other, np.ones((512, 512), np.float32))
    assert np.array_equal(replaced[y0:y1, x0:x1], other)
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(replaced[outside], image[outside])


def test_where_the_alpha_is_zero_paste_leaves_the_image_bit_for_bit() -> None:
    image = _rgb(100, 80, seed=4)
    region = crop_region((20.0, 30.0, 50.0, 60.0), image.shape[:2])  # scaled up about 11x
    alpha = np.zeros((512, 512), np.float32)
    alpha[200:300, 150:350] = 1.0
    pasted = region.paste(image, np.full((512, 512, 3), 255, np.uint8), alpha)
    support = region.image_alpha(alpha) > 0
    vx0, vy0, vx1, vy1 = region.valid
    changed = np.zeros(image.shape[:2], bool)
    changed[vy0:vy1, vx0:vx1] = support
    assert np.array_equal(pasted[~changed], image[~changed])
    # the support is where the crop rectangle maps to, within a pixel
    ys, xs = np.nonzero(support)
    (ax, ay), (bx, by) = region.to_image(np.array([[150, 200], [350, 300]]))
    assert np.allclose([xs.min() + vx0, xs.max() + 1 + vx0], [ax, bx], atol=1.0)
    assert np.allclose([ys.min() + vy0, ys.max() + 1 + vy0], [ay, by], atol=1.0)
    assert (pasted[changed] >= image[changed]).all()


def test_a_constant_image_survives_the_round_trip_unchanged() -> None:
    image = np.full((300, 200, 3), (12, 200, 99), np.uint8)
    for box in ((10.0, 10.0, 40.0, 30.0), (0.0, 0.0, 200.0, 300.0)):
        region = crop_region(box, image.shape[:2])
        crop = region.extract(image)
        assert (crop == (12, 200, 99)).all()
        back = region.paste(image, crop, np.ones((512, 512), np.float32))
        assert np.array_equal(back, image)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"size": 500}, "multiple of 8"),
        ({"size": 32}, "within 64..2048"),
        ({"size": 512.0}, "whole number"),
        ({"margin": -0.1}, "crop margin"),
        ({"min_side": 0}, "min_side"),
    ],
)
def test_bad_crop_settings_are_named(fields: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        CropParams(**fields)


def test_mismatched_arrays_are_refused() -> None:
    region = crop_region((10.0, 10.0, 40.0, 40.0), (100, 100))
    with pytest.raises(BadInput, match="planned for a 100x100 image"):
        region.extract(_rgb(50, 50))
    with pytest.raises(BadInput, match="a crop must be 512x512"):
        region.to_image_grid(np.zeros((256, 256, 3), np.uint8))
    with pytest.raises(BadInput, match="x1 > x0"):
        crop_region((10.0, 10.0, 5.0, 40.0), (100, 100))
