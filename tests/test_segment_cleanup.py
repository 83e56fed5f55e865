"""Mask union and clean-up: components under 50 px go, 50 px stay, 8-connectivity, holes untouched."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.segment.cleanup import foreground, remove_small_components, to_uint8, union_masks


def blank(height: int = 40, width: int = 60) -> np.ndarray:
    return np.zeros((height, width), np.uint8)


def test_a_49_px_component_goes_and_a_50_px_one_stays() -> None:
    mask = blank()
    mask[2:9, 2:9] = 255  # 7 x 7 = 49 px
    mask[20:25, 20:30] = 255  # 5 x 10 = 50 px
    expected = blank()
    expected[20:25, 20:30] = 255
    cleaned = remove_small_components(mask)
    assert cleaned.dtype == np.uint8
    np.testing.assert_array_equal(cleaned, expected)


def test_pixels_touching_at_a_corner_are_one_component() -> None:
    # Two 5 x 5 blocks (25 px each) meeting only at one corner: 50 px together under 8-connectivity.
    mask = blank()
    mask[5:10, 5:10] = 255
    mask[10:15, 10:15] = 255
    np.testing.assert_array_equal(remove_small_components(mask), mask)
    np.testing.assert_array_equal(remove_small_components(mask, connectivity=4), blank())
    # One column further apart they are two 25 px components, and both go.
    apart = blank()
    apart[5:10, 5:10] = 255
    apart[10:15, 11:16] = 255
    np.testing.assert_array_equal(remove_small_components(apart), blank())


def test_a_diagonal_line_of_single_pixels_is_one_component() -> None:
    mask = np.zeros((60, 60), np.uint8)
    index = np.arange(50)
    mask[index, index + 5] = 255  # 50 pixels, each touching the next at a corner only
    np.testing.assert_array_equal(remove_small_components(mask), mask)
    mask[49, 54] = 0  # 49 pixels
    np.testing.assert_array_equal(remove_small_components(mask), np.zeros_like(mask))


def test_holes_are_left_alone() -> None:
    mask = blank()
    mask[5:30, 5:40] = 255
    mask[10:13, 10:13] = 0  # a 9 px hole: smaller than 50 px, and kept
    mask[20, 20] = 0  # a 1 px hole
    np.testing.assert_array_equal(remove_small_components(mask), mask)


def test_components_on_the_frame_count_like_any_other() -> None:
    mask = blank()
    mask[0:7, 0:7] = 255  # 49 px in the corner
    mask[-5:, -10:] = 255  # 50 px in the opposite corner
    expected = blank()
    expected[-5:, -10:] = 255
    np.testing.assert_array_equal(remove_small_components(mask), expected)


def test_the_threshold_is_configurable() -> None:
    mask = blank()
    mask[0, 0] = 255  # 1 px
    mask[10:13, 10:13] = 255  # 9 px
    mask[20:24, 20:25] = 255  # 20 px
    only_big = blank()
    only_big[20:24, 20:25] = 255
    np.testing.assert_array_equal(remove_small_components(mask, min_area=10), only_big)
    without_dot = mask.copy()
    without_dot[0, 0] = 0
    np.testing.assert_array_equal(remove_small_components(mask, min_area=9), without_dot)  # 9 px stays
    np.testing.assert_array_equal(remove_small_components(mask, min_area=0), mask)
    np.testing.assert_array_equal(remove_small_components(mask, min_area=1), mask)
    np.testing.assert_array_equal(remove_small_components(mask, min_area=21), blank())


def test_masks_of_any_dtype_give_the_same_result() -> None:
    rng = np.random.default_rng(7)
    on = rng.random((50, 70)) < 0.45
    expected = remove_small_components(on)
    for mask in (on, on.astype(np.uint8), on.astype(np.uint8) * 255, on.astype(np.float32), on.astype(np.int64)):
        np.testing.assert_array_equal(remove_small_components(mask), expected)
    assert remove_small_components(np.zeros((3, 3), bool)).tolist() == [[0] * 3] * 3
    assert foreground(np.array([[0.4, 0.5, 0.6]])).tolist() == [[False, False, True]]  # floats: more than half


def test_masks_of_several_boxes_are_united() -> None:
    a, b = np.zeros((4, 6), bool), np.zeros((4, 6), bool)
    a[0, :3] = True
    b[0, 2:] = True
    b[3, 5] = True
    united = union_masks([a, b], (4, 6))
    expected = np.zeros((4, 6), np.uint8)
    expected[0, :] = 255
    expected[3, 5] = 255
    np.testing.assert_array_equal(united, expected)
    # SAM's (N, 1, H, W) output and a stacked (N, H, W) array are N masks.
    np.testing.assert_array_equal(union_masks(np.stack([a, b])[:, None], (4, 6)), expected)
    np.testing.assert_array_equal(union_masks(np.stack([a, b]).astype(np.uint8), (4, 6)), expected)
    np.testing.assert_array_equal(union_masks([], (4, 6)), np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        union_masks([a, np.zeros((5, 6), bool)], (4, 6))


# Edges found by mutation testing (tools/mutation.sh)


def test_min_area_two_removes_single_pixels() -> None:
    mask = blank()
    mask[5, 5] = 255  # alone
    mask[20, 20:22] = 255  # two pixels
    cleaned = remove_small_components(mask, min_area=2)
    assert cleaned[5, 5] == 0
    assert (cleaned[20, 20:22] == 255).all()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"^a mask must be \(H, W\), got shape \(2, 2, 3\)$"):
        foreground(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"^a mask must be bool, integer or float, got complex128$"):
        foreground(np.zeros((2, 2), complex))
    with pytest.raises(BadInput, match=r"^min_area must be at least 0, got -1$"):
        remove_small_components(blank(), min_area=-1)
    with pytest.raises(ValueError, match=r"^connectivity must be 4 or 8, got 6$"):
        remove_small_components(blank(), connectivity=6)


def test_to_uint8_gives_255_for_any_true_value() -> None:
    assert to_uint8(np.array([[0, 1, 2, 255]], np.uint8)).tolist() == [[0, 255, 255, 255]]


def test_a_stacked_array_of_masks_is_united() -> None:
    stacked = np.zeros((3, 1, 4, 5), bool)  # SAM's (N, 1, H, W)
    stacked[0, 0, 0, 0] = stacked[2, 0, 3, 4] = True
    united = union_masks(stacked, (4, 5))
    assert united[0, 0] == 255
    assert united[3, 4] == 255
    assert int(united.sum()) == 2 * 255
