"""Trimap: values, invariants over many random masks, exact equality with disc erosion, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.segment.trimap import check_trimap, make_trimap, mask_boundary, trimap_radius, trimap_to_size

NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def shifted(mask: np.ndarray, dy: int, dx: int, outside: bool) -> np.ndarray:
    """mask[y + dy, x + dx] at every (y, x), ``outside`` where that falls off the image (plain numpy)."""
    height, width = mask.shape
    out = np.full_like(mask, outside)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    ys, yd = slice(max(0, dy), height + min(0, dy)), slice(max(0, -dy), height + min(0, -dy))
    xs, xd = slice(max(0, dx), width + min(0, dx)), slice(max(0, -dx), width + min(0, -dx))
    out[yd, xd] = mask[ys, xs]
    return out


def boundary_reference(mask: np.ndarray) -> np.ndarray:
    """Pixels with an in-image 8-neighbour on the other side of the mask edge."""
    other = np.zeros_like(mask)
    for dy, dx in NEIGHBOURS:
        inside = shifted(np.ones_like(mask), dy, dx, False)
        other |= inside & (shifted(mask, dy, dx, False) != mask)
    return other


def erode_disc(mask: np.ndarray, k: int) -> np.ndarray:
    """Erosion by {dx² + dy² <= k²}, the frame counting as mask (written with shifts, no OpenCV)."""
    out = mask.copy()
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            if dx * dx + dy * dy <= k * k:
                out &= shifted(mask, dy, dx, True)
    return out


def random_mask(rng: np.random.Generator) -> np.ndarray:
    height, width = (int(v) for v in rng.integers(1, 48, size=2))
    kind = rng.integers(0, 5)
    if kind == 0:  # speckle
        return rng.random((height, width)) < rng.uniform(0.05, 0.95)
    if kind == 1:  # a few rectangles
        mask = np.zeros((height, width), bool)
        for _ in range(rng.integers(1, 4)):
            y0, x0 = rng.integers(0, height), rng.integers(0, width)
            mask[y0 : y0 + rng.integers(1, height + 1), x0 : x0 + rng.integers(1, width + 1)] = True
        return mask
    if kind == 2:  # a disc
        yy, xx = np.mgrid[:height, :width]
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(0.5, max(height, width))
        return (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 < r * r
    if kind == 3:  # blobs: coarse noise enlarged
        coarse = rng.random((max(1, height // 6), max(1, width // 6))) < 0.5
        return np.kron(coarse, np.ones((6, 6), bool))[:height, :width] if height >= 6 and width >= 6 else coarse
    return np.full((height, width), bool(rng.integers(0, 2)))  # empty or full


def test_trimap_invariants_hold_for_many_random_masks() -> None:
    rng = np.random.default_rng(2024)
    for case in range(300):
        mask = random_mask(rng)
        k = int(rng.integers(1, 9))
        smooth = None if case % 3 else int(rng.integers(0, 5))
        trimap = make_trimap(mask, k, smooth)
        context = f"case {case}: shape {mask.shape}, k {k}, smooth {smooth}"
        assert trimap.dtype == np.uint8, context
        assert trimap.shape == mask.shape, context
        assert set(np.unique(trimap)) <= {0, 128, 255}, context
        assert mask[trimap == 255].all(), f"sure foreground outside the mask; {context}"
        assert not mask[trimap == 0].any(), f"sure background inside the mask; {context}"
        assert (trimap[boundary_reference(mask)] == 128).all(), f"a boundary pixel is sure; {context}"
        # Every sure pixel is farther than k from the other side when nothing is smoothed.
        if smooth == 0:
            assert (trimap[~erode_disc(mask, k) & ~erode_disc(~mask, k)] == 128).all(), context


def test_without_smoothing_the_trimap_is_exactly_disc_erosion_and_dilation() -> None:
    rng = np.random.default_rng(5)
    for case in range(120):
        mask = random_mask(rng)
        k = int(rng.integers(1, 7))
        boundary = boundary_reference(mask)
        expected = np.full(mask.shape, 128, np.uint8)
        expected[erode_disc(mask, k) & mask & ~boundary] = 255  # fg = erode(mask, k)
        expected[erode_disc(~mask, k) & ~mask & ~boundary] = 0  # bg = not dilate(mask, k)
        np.testing.assert_array_equal(make_trimap(mask, k, smooth=0), expected, err_msg=f"case {case}, k {k}")


def test_the_band_is_k_pixels_each_side_and_the_frame_is_no_edge() -> None:
    mask = np.zeros((30, 40), bool)
    mask[:, :20] = True  # the left half, cut by the frame on three sides
    trimap = make_trimap(mask, radius=3, smooth=0)
    assert (trimap[:, :17] == 255).all()  # column 16 is 4 px from the first outside column (20)
    assert (trimap[:, 17:23] == 128).all()  # within 3 px of the edge, on either side
    assert (trimap[:, 23:] == 0).all()  # column 23 is 4 px from the last mask column (19)


def test_empty_and_full_masks() -> None:
    for shape in ((1, 1), (1, 7), (5, 1), (32, 48)):
        np.testing.assert_array_equal(make_trimap(np.zeros(shape, bool)), np.zeros(shape, np.uint8))
        # Full: no pixel has a neighbour outside the mask within the image, and the frame is no edge.
        np.testing.assert_array_equal(make_trimap(np.ones(shape, bool), radius=4), np.full(shape, 255, np.uint8))


def test_a_tiny_component_is_all_unknown_around_it() -> None:
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    expected = np.zeros((9, 9), np.uint8)
    expected[3:6, 3:6] = 128  # the pixel and its 8 neighbours are its boundary
    np.testing.assert_array_equal(make_trimap(mask, radius=1), expected)
    yy, xx = np.mgrid[-4:5, -4:5]
    expected[yy**2 + xx**2 <= 4] = 128  # within the disc of radius 2 around the pixel: (1, 2) is sqrt(5) away
    np.testing.assert_array_equal(make_trimap(mask, radius=2, smooth=0), expected)


def test_smoothing_straightens_the_band_but_never_breaks_the_invariants() -> None:
    mask = np.zeros((30, 60), bool)
    mask[:, :30] = True
    mask[14, 30:40] = True  # a 1 px spur, the kind a mask upsampled from a coarse grid has
    sharp = make_trimap(mask, radius=4, smooth=0)
    smooth = make_trimap(mask, radius=4, smooth=2)
    # Away from the spur's root the smoothed band is the straight one (columns 26..33), and along the spur
    # only the spur's own boundary pixels are unknown, as the invariants demand.
    expected = np.zeros((30, 60), np.uint8)
    expected[:, :26] = 255
    expected[:, 26:34] = 128
    expected[boundary_reference(mask)] = 128
    np.testing.assert_array_equal(smooth[:, 35:], expected[:, 35:])  # the root bulges 1 px: column 34
    np.testing.assert_array_equal(smooth[:8], expected[:8])
    np.testing.assert_array_equal(smooth[22:], expected[22:])
    # Without smoothing the band bulges k px around the whole spur.
    assert (sharp[:, 34:] == 128).sum() > (smooth[:, 34:] == 128).sum()
    assert (sharp[10:19, 34:40] == 128).all()
    for trimap in (sharp, smooth):
        assert mask[trimap == 255].all()
        assert not mask[trimap == 0].any()
        assert (trimap[boundary_reference(mask)] == 128).all()


def test_default_radius_is_one_percent_of_the_short_side_rounded_half_up() -> None:
    assert trimap_radius(512, 800) == 5
    assert trimap_radius(1024, 1024) == 10
    assert trimap_radius(4480, 6720) == 45
    assert trimap_radius(250, 900) == 3  # 2.5 rounds up
    assert trimap_radius(249, 900) == 2
    assert trimap_radius(10, 10) == 1  # never below 1
    mask = np.zeros((512, 600), bool)
    mask[100:400, 100:500] = True
    assert (make_trimap(mask)[250, 90:110] == 128).sum() == (make_trimap(mask, radius=5)[250, 90:110] == 128).sum()


def test_bad_radius_is_refused() -> None:
    with pytest.raises(BadInput, match="at least 1"):
        make_trimap(np.ones((4, 4), bool), radius=0)
    with pytest.raises(BadInput, match="smoothing"):
        make_trimap(np.ones((4, 4), bool), radius=2, smooth=-1)


def test_boundary_helper_matches_the_reference() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        mask = random_mask(rng)
        np.testing.assert_array_equal(mask_boundary(mask), boundary_reference(mask))


def test_resized_trimaps_are_never_surer_than_the_original() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        mask = np.kron(rng.random((8, 10)) < 0.5, np.ones((8, 8), bool))  # 64 x 80
        trimap = make_trimap(mask, radius=int(rng.integers(1, 6)))
        small = trimap_to_size(trimap, 20, 16)  # 4 x 4 blocks
        blocks = trimap.reshape(16, 4, 20, 4).transpose(0, 2, 1, 3).reshape(16, 20, 16)
        expected = np.full((16, 20), 128, np.uint8)
        expected[(blocks == 255).all(axis=2)] = 255
        expected[(blocks == 0).all(axis=2)] = 0
        np.testing.assert_array_equal(small, expected)
        odd = trimap_to_size(trimap, 23, 17)  # non-integer factors: values stay {0, 128, 255}
        assert set(np.unique(odd)) <= {0, 128, 255}
        assert trimap_to_size(trimap, 80, 64) is not trimap
        np.testing.assert_array_equal(trimap_to_size(trimap, 80, 64), trimap)


def test_check_trimap() -> None:
    check_trimap(np.array([[0, 128, 255]], np.uint8))
    with pytest.raises(BadInput, match="only 0, 128 and 255"):
        check_trimap(np.array([[0, 127]], np.uint8))
    with pytest.raises(BadInput, match="uint8"):
        check_trimap(np.zeros((2, 2), np.float32))
    with pytest.raises(BadInput, match="but the image is"):
        check_trimap(np.zeros((2, 2), np.uint8), (3, 2))


# Edges found by mutation testing (tools/mutation.sh)


def test_a_pixel_covering_both_sure_kinds_is_unknown() -> None:
    trimap = np.array([[255, 0], [255, 0]], np.uint8)  # a supplied trimap may put them side by side
    assert trimap_to_size(trimap, 1, 1).tolist() == [[128]]
    assert trimap_to_size(trimap, 1, 2).tolist() == [[128], [128]]
    assert trimap_to_size(trimap, 2, 1).tolist() == [[255, 0]]


def test_default_smoothing_is_half_the_band() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        mask = random_mask(rng)
        k = int(rng.integers(2, 8))
        np.testing.assert_array_equal(make_trimap(mask, k), make_trimap(mask, k, smooth=k // 2))


def test_check_trimap_messages_name_what_was_given() -> None:
    with pytest.raises(BadInput, match=r"^a trimap must be a \(H, W\) uint8 array, got <class 'list'>$"):
        check_trimap([[0, 255]])  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"got \(2, 2, 3\)$"):
        check_trimap(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(BadInput, match=r"^trimap is 3x2 but the image is 5x4$"):
        check_trimap(np.zeros((2, 3), np.uint8), (4, 5))
    with pytest.raises(BadInput, match=r"found \[1, 2, 3, 4, 5\]$"):
        check_trimap(np.array([[1, 2, 3, 4, 5, 6]], np.uint8))


@pytest.mark.parametrize("transpose", [False, True])
def test_shrinking_one_side_only_still_sees_a_thin_unknown_band(transpose) -> None:
    trimap = np.zeros((12, 4), np.uint8)
    trimap[:4] = 255
    trimap[4] = 128  # one unknown row between the sure areas
    expected = np.array([[255] * 4, [128] * 4, [0] * 4], np.uint8)  # the middle row covers rows 4..7
    if transpose:
        trimap, expected = trimap.T.copy(), expected.T.copy()
    height, width = expected.shape
    np.testing.assert_array_equal(trimap_to_size(trimap, width, height), expected)
