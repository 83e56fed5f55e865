"""Canny of the image and the mask outline: synthetic shapes with known borders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lib_garment.arrays import binary_mask
from lib_garment.errors import BadInput
from lib_garment.maps.edges import CannyParams, canny_map, mask_outline

TOP, BOTTOM, LEFT, RIGHT = 12, 47, 16, 55  # inclusive rectangle bounds


def rectangle_image(colour: tuple[int, int, int] = (180, 60, 30), size: tuple[int, int] = (64, 80)) -> np.ndarray:
    image = np.zeros((*size, 3), np.uint8)
    image[TOP : BOTTOM + 1, LEFT : RIGHT + 1] = colour
    return image


def inner_boundary(mask: np.ndarray) -> np.ndarray:
    """Mask pixels with a 4-neighbour (inside the frame) outside the mask, written with plain numpy shifts."""
    m = mask.astype(bool)
    outside_neighbour = np.zeros_like(m)
    outside_neighbour[1:, :] |= ~m[:-1, :]
    outside_neighbour[:-1, :] |= ~m[1:, :]
    outside_neighbour[:, 1:] |= ~m[:, :-1]
    outside_neighbour[:, :-1] |= ~m[:, 1:]
    return m & outside_neighbour


def test_canny_of_a_filled_rectangle_lies_on_its_border() -> None:
    edges = canny_map(rectangle_image())
    assert edges.shape == (64, 80)
    assert edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    on = edges > 0
    # The border band: within one pixel of the rectangle's outermost rows/columns, on either side.
    band = np.zeros_like(on)
    band[TOP - 1 : BOTTOM + 2, LEFT - 1 : RIGHT + 2] = True
    band[TOP + 2 : BOTTOM - 1, LEFT + 2 : RIGHT - 1] = False
    assert not (on & ~band).any(), "edge pixels off the border"
    # Every side is traced all along (corners aside).
    rows, cols = slice(TOP + 2, BOTTOM - 1), slice(LEFT + 2, RIGHT - 1)
    assert on[rows, LEFT - 1 : LEFT + 2].any(axis=1).all()
    assert on[rows, RIGHT - 1 : RIGHT + 2].any(axis=1).all()
    assert on[TOP - 1 : TOP + 2, cols].any(axis=0).all()
    assert on[BOTTOM - 1 : BOTTOM + 2, cols].any(axis=0).all()


def test_canny_sees_colour_edges_that_gray_would_lose() -> None:
    # Red and green of equal luma: the gray image is flat, the colour gradient is not.
    image = rectangle_image(colour=(255, 0, 0))
    image[image.sum(axis=2) == 0] = (0, 130, 0)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert np.ptp(gray) <= 1
    assert cv2.Canny(gray, 100, 200).max() == 0
    assert (canny_map(image) > 0).sum() > 100


def test_canny_thresholds_decide_which_edges_count() -> None:
    faint = rectangle_image(colour=(12, 12, 12))
    assert canny_map(faint).max() == 0  # under the defaults (100, 200)
    assert canny_map(faint, CannyParams(low=10, high=30)).max() == 255


@pytest.mark.parametrize(("low", "high"), [(200, 100), (-1, 50), (float("nan"), 10), (10, float("inf"))])
def test_bad_canny_thresholds_are_refused(low: float, high: float) -> None:
    with pytest.raises(BadInput, match="Canny thresholds"):
        CannyParams(low, high)


def test_canny_refuses_what_is_not_an_image() -> None:
    with pytest.raises(BadInput, match="uint8"):
        canny_map(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(BadInput, match="shape"):
        canny_map(np.zeros((8, 8, 4), np.uint8))


def silhouette() -> np.ndarray:
    mask = np.zeros((60, 70), np.uint8)
    cv2.rectangle(mask, (10, 8), (40, 50), 255, -1)
    cv2.circle(mask, (48, 30), 14, 255, -1)
    cv2.circle(mask, (22, 28), 5, 0, -1)  # a hole has an outline too
    return mask


def test_mask_outline_equals_the_mask_boundary() -> None:
    mask = silhouette()
    outline = mask_outline(mask)
    assert outline.shape == mask.shape
    assert outline.dtype == np.uint8
    np.testing.assert_array_equal(outline > 0, inner_boundary(mask > 0))
    assert set(np.unique(outline)) == {0, 255}


def test_soft_and_hard_masks_give_the_same_outline() -> None:
    hard = silhouette()
    soft = cv2.GaussianBlur(hard, (5, 5), 0)  # an anti-aliased alpha matte: the half level is the silhouette
    expected = mask_outline(soft)
    np.testing.assert_array_equal(mask_outline(soft.astype(np.float32) / 255), expected)
    np.testing.assert_array_equal(mask_outline(soft > 127), expected)
    np.testing.assert_array_equal(expected > 0, inner_boundary(soft > 127))


def test_the_image_frame_is_not_part_of_the_outline() -> None:
    mask = np.zeros((20, 30), bool)
    mask[:, :12] = True  # a garment cut by the left edge of the photo
    outline = mask_outline(mask) > 0
    assert outline[:, 11].all()
    assert outline.sum() == 20  # only the one real edge, not the frame


def test_mask_must_match_the_image() -> None:
    with pytest.raises(BadInput, match="mask is 30x20 but the image is 40x20"):
        binary_mask(np.zeros((20, 30), np.uint8), (20, 40))
    with pytest.raises(BadInput, match="bool, uint8 or float"):
        binary_mask(np.zeros((4, 4), np.int64))
