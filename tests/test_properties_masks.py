"""Properties of the exact promises over random inputs (hypothesis): the composite keeps every α = 1 pixel
for any sizes and values; clean-up removes exactly the small components; the trimap's sure pixels are exactly
disc erosion of the (smoothed) mask and never touch the boundary; a resized trimap is never surer."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lib_garment.generate.composite import check_kept, composite_kept, fit_to
from lib_garment.segment.cleanup import remove_small_components
from lib_garment.segment.trimap import make_trimap, smooth_mask, trimap_to_size
from tests.properties import BOUNDED, masks
from tests.test_segment_trimap import boundary_reference, erode_disc, shifted

SIDES = st.integers(1, 20)


@st.composite
def composite_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    height, width = draw(SIDES), draw(SIDES)
    photo = draw(arrays(np.uint8, (height, width, 3)))
    generated = draw(arrays(np.uint8, (draw(SIDES), draw(SIDES), 3)))
    # Mostly exact 0 and 1 (the kept and regenerated areas), some soft values and some outside [0, 1].
    values = st.sampled_from([0.0, 1.0]) | st.floats(-0.5, 1.5, width=32)
    alpha = draw(arrays(np.float32, (height, width), elements=values))
    return photo, generated, alpha


@BOUNDED
@given(composite_inputs())
def test_the_composite_keeps_every_alpha_one_pixel_for_any_sizes_and_values(inputs) -> None:
    photo, generated, alpha = inputs
    out = composite_kept(photo, generated, alpha)
    height, width = photo.shape[:2]
    fitted = fit_to(generated, width, height)
    assert out.shape == photo.shape
    assert np.array_equal(out[alpha >= 1], photo[alpha >= 1])
    assert np.array_equal(out[alpha <= 0], fitted[alpha <= 0])
    assert check_kept(photo, out, alpha).exact
    # Soft pixels: the blend a·photo + (1 − a)·generated, rounded to the nearest integer.
    soft = (alpha > 0) & (alpha < 1)
    a = alpha[soft].astype(np.float64)[:, None]
    exact = a * photo[soft] + (1 - a) * fitted[soft]
    assert np.all(np.abs(out[soft] - exact) <= 0.5 + 1e-4)


def components_reference(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of ``mask`` by flood fill (plain numpy, no OpenCV)."""
    left = mask.copy()
    found = []
    while left.any():
        component = np.zeros_like(mask)
        component[tuple(np.argwhere(left)[0])] = True
        while True:
            grown = component.copy()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    grown |= shifted(component, dy, dx, False)
            grown &= mask
            if np.array_equal(grown, component):
                break
            component = grown
        found.append(component)
        left &= ~component
    return found


@BOUNDED
@given(masks(), st.integers(0, 12))
def test_clean_up_removes_exactly_the_components_under_min_area(mask, min_area) -> None:
    expected = np.zeros_like(mask)
    for component in components_reference(mask):
        if component.sum() >= min_area:
            expected |= component
    cleaned = remove_small_components(mask, min_area)
    assert cleaned.dtype == np.uint8
    assert set(np.unique(cleaned)) <= {0, 255}
    np.testing.assert_array_equal(cleaned == 255, expected)
    np.testing.assert_array_equal(remove_small_components(cleaned, min_area), cleaned)  # idempotent


def majority_reference(mask: np.ndarray, radius: int) -> np.ndarray:
    """The majority over a (2r+1)² box, the frame replicated outwards (np.pad's "edge" mode)."""
    padded = np.pad(mask, radius, mode="edge")
    height, width = mask.shape
    size = 2 * radius + 1
    votes = sum(padded[dy : dy + height, dx : dx + width].astype(int) for dy in range(size) for dx in range(size))
    return votes * 2 > size * size


@BOUNDED
@given(masks(), st.integers(0, 4))
def test_smoothing_is_the_majority_vote_with_the_frame_replicated(mask, radius) -> None:
    np.testing.assert_array_equal(smooth_mask(mask, radius), majority_reference(mask, radius) if radius else mask)


@BOUNDED
@given(masks(), st.integers(1, 6), st.integers(0, 3))
def test_the_trimap_is_disc_erosion_of_the_smoothed_mask_off_the_boundary(mask, k, smooth) -> None:
    trimap = make_trimap(mask, k, smooth)
    smoothed = majority_reference(mask, smooth) if smooth else mask
    boundary = boundary_reference(mask)
    expected = np.full(mask.shape, 128, np.uint8)
    inside, outside = ~boundary & mask, ~boundary & ~mask
    expected[erode_disc(smoothed, k) & inside] = 255
    expected[erode_disc(~smoothed, k) & outside] = 0
    np.testing.assert_array_equal(trimap, expected)
    assert (trimap[boundary] == 128).all()


def footprint_reference(trimap: np.ndarray, width: int, height: int) -> np.ndarray:
    """The documented rule when shrinking: a working pixel is unknown if any original pixel it covers (with a
    positive share of its area) is unknown or it covers both sure kinds; otherwise it is the one sure value."""
    out = np.full((height, width), 128, np.uint8)
    rows, cols = trimap.shape
    for j in range(height):
        y0, y1 = j * rows / height, (j + 1) * rows / height
        ys = range(int(np.floor(y0 + 1e-9)), int(np.ceil(y1 - 1e-9)))
        for i in range(width):
            x0, x1 = i * cols / width, (i + 1) * cols / width
            xs = range(int(np.floor(x0 + 1e-9)), int(np.ceil(x1 - 1e-9)))
            values = set(np.unique(trimap[np.ix_(list(ys), list(xs))]).tolist())
            if len(values) == 1 and values != {128}:
                out[j, i] = values.pop()
    return out


@BOUNDED
@given(masks(max_side=16), st.integers(1, 4), st.integers(1, 16), st.integers(1, 16))
def test_a_shrunk_trimap_is_sure_only_where_all_it_covers_is(mask, k, width, height) -> None:
    trimap = make_trimap(mask, k)
    width, height = min(width, mask.shape[1]), min(height, mask.shape[0])
    np.testing.assert_array_equal(trimap_to_size(trimap, width, height), footprint_reference(trimap, width, height))


@BOUNDED
@given(masks(max_side=16), st.integers(1, 4), st.integers(1, 40), st.integers(1, 40))
def test_a_resized_trimap_is_never_surer_than_what_it_covers(mask, k, width, height) -> None:
    trimap = make_trimap(mask, k)
    resized = trimap_to_size(trimap, width, height)
    assert resized.shape == (height, width)
    assert resized.dtype == np.uint8
    assert set(np.unique(resized)) <= {0, 128, 255}
    # A sure pixel lies where the original is that sure value: its centre maps into an area of that value.
    ys = np.minimum(((np.arange(height) + 0.5) * trimap.shape[0] / height).astype(int), trimap.shape[0] - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * trimap.shape[1] / width).astype(int), trimap.shape[1] - 1)
    under = trimap[np.ix_(ys, xs)]
    assert (under[resized == 255] == 255).all()
    assert (under[resized == 0] == 0).all()
    if trimap.shape == (height, width):
        np.testing.assert_array_equal(resized, trimap)
