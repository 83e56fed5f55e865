"""The exact composite's numbers (lib_garment/generate/composite.py): out = α·photo + (1−α)·generated, rounded
to the nearest integer with halves to even (numpy's rint), every α = 1 pixel the photo's and every α = 0 pixel
the generation's; and the generation brought to the photo's size with its content, not just its shape.

Soft values are 0.25 and 0.75 on purpose: at 0.5 the blend is symmetric, so a composite with α and 1 − α
swapped would pass. The values below are exact in float32, so every expectation is exact too."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.generate.composite import KeptCheck, check_kept, composite_kept, fit_to

# (α, photo value, generated value, expected output): worked by hand from the formula and the rounding rule.
BLENDS = [
    (0.25, 200, 40, 80),  # 50 + 30; swapped α would give 160
    (0.75, 200, 40, 160),  # 150 + 10; swapped α would give 80
    (0.25, 40, 200, 160),  # 10 + 150
    (0.75, 40, 200, 80),  # 30 + 50
    (0.75, 1, 0, 1),  # 0.75 rounds up; truncation would give 0
    (0.25, 0, 1, 1),  # 0.75 again, from the generated side
    (0.25, 3, 2, 2),  # 0.75 + 1.5 = 2.25 rounds down
    (0.5, 1, 0, 0),  # 0.5: a half goes to the even neighbour, 0
    (0.5, 3, 0, 2),  # 1.5 → 2
    (0.5, 5, 0, 2),  # 2.5 → 2 (round-half-up would give 3)
    (0.25, 6, 0, 2),  # 1.5 → 2
    (0.75, 255, 0, 191),  # 191.25
    (0.25, 255, 0, 64),  # 63.75
]


def _pixels(values: list[tuple[float, int, int, int]]) -> tuple[np.ndarray, ...]:
    """One row of pixels, one per case, the same value in all three channels."""
    alpha = np.array([[v[0] for v in values]], np.float32)
    photo, generated, expected = (
        np.repeat(np.array([[v[i] for v in values]], np.uint8)[..., None], 3, axis=2) for i in (1, 2, 3)
    )
    return alpha, photo, generated, expected


def test_soft_pixels_are_the_rounded_blend_with_alpha_on_the_photo() -> None:
    alpha, photo, generated, expected = _pixels(BLENDS)
    out = composite_kept(photo, generated, alpha)
    assert out.dtype == np.uint8
    assert out[0, :, 0].tolist() == expected[0, :, 0].tolist()
    assert np.array_equal(out, expected)


def test_channels_are_blended_separately() -> None:
    photo = np.array([[[200, 40, 0]]], np.uint8)
    generated = np.array([[[40, 200, 255]]], np.uint8)
    out = composite_kept(photo, generated, np.array([[0.25]], np.float32))
    assert out[0, 0].tolist() == [80, 160, 191]  # 50+30, 10+150, 0+191.25


def test_alpha_outside_zero_to_one_counts_as_fully_kept_or_fully_generated() -> None:
    photo = np.full((1, 4, 3), 200, np.uint8)
    generated = np.full((1, 4, 3), 40, np.uint8)
    alpha = np.array([[1.5, 1.0, 0.0, -0.5]], np.float32)
    out = composite_kept(photo, generated, alpha)
    assert out[0, :, 0].tolist() == [200, 200, 40, 40]


def test_integer_alpha_of_zero_and_one_is_taken_as_is() -> None:
    photo = np.full((1, 2, 3), 9, np.uint8)
    generated = np.full((1, 2, 3), 250, np.uint8)
    out = composite_kept(photo, generated, np.array([[1, 0]], np.uint8))
    assert out[0, :, 0].tolist() == [9, 250]


# -- fit_to: the generation at the photo's size ----------------------------------------------------------------


def _quadrants(size: int) -> np.ndarray:
    """Four flat colours, one per quadrant: resizing keeps each quadrant's colour away from the seams."""
    half = size // 2
    image = np.zeros((size, size, 3), np.uint8)
    image[:half, :half] = (200, 10, 10)
    image[:half, half:] = (10, 200, 10)
    image[half:, :half] = (10, 10, 200)
    image[half:, half:] = (120, 120, 120)
    return image


def test_fit_to_the_same_size_returns_the_generation_unchanged() -> None:
    generated = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    assert fit_to(generated, 8, 6) is generated


def test_fit_to_enlarging_keeps_the_content() -> None:
    fitted = fit_to(_quadrants(16), 32, 32)
    assert fitted.shape == (32, 32, 3)
    # Away from the seams, a flat area stays flat: cubic interpolation of a constant is that constant.
    assert fitted[2:12, 2:12].reshape(-1, 3).tolist() == [[200, 10, 10]] * 100
    assert fitted[20:30, 20:30].reshape(-1, 3).tolist() == [[120, 120, 120]] * 100
    assert fitted[2, 30].tolist() == [10, 200, 10]
    assert fitted[30, 2].tolist() == [10, 10, 200]


def test_fit_to_shrinking_averages_the_area() -> None:
    generated = np.zeros((4, 4, 3), np.uint8)
    generated[0::2, 0::2] = 100  # one bright pixel in each 2x2 block: the block's mean is 25
    generated[2:, 2:] = 80  # the bottom-right block is flat 80
    fitted = fit_to(generated, 2, 2)
    assert fitted[..., 0].tolist() == [[25, 25], [25, 80]]


def test_fit_to_a_non_square_photo_follows_width_then_height() -> None:
    fitted = fit_to(_quadrants(16), 40, 24)
    assert fitted.shape == (24, 40, 3)
    assert fitted[2, 2].tolist() == [200, 10, 10]
    assert fitted[2, 37].tolist() == [10, 200, 10]
    assert fitted[21, 2].tolist() == [10, 10, 200]


def test_composite_of_another_size_takes_the_resized_generation_where_alpha_is_zero() -> None:
    photo = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    alpha = np.zeros((32, 32), np.float32)
    alpha[12:20, 12:20] = 1.0
    out = composite_kept(photo, _quadrants(16), alpha)
    assert np.array_equal(out[alpha == 0], fit_to(_quadrants(16), 32, 32)[alpha == 0])
    assert out[2, 2].tolist() == [200, 10, 10]  # the generation's colour, not black
    assert np.array_equal(out[12:20, 12:20], photo[12:20, 12:20])


# -- inputs and the kept-pixel check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("photo", "generated", "message"),
    [
        (np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.uint8), "photo must be"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8), "photo must be"),
        (np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8), "photo must be"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 1), np.uint8), "generated image must be"),
    ],
)
def test_only_rgb_uint8_images_are_composited(photo, generated, message) -> None:
    with pytest.raises(BadInput, match=message):
        composite_kept(photo, generated, np.ones((4, 4), np.float32))


def test_a_matte_of_another_size_is_named_width_by_height() -> None:
    with pytest.raises(BadInput, match=r"^alpha is 3x2 but the photo is 4x5$"):
        composite_kept(np.zeros((5, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8), np.ones((2, 3), np.float32))


def test_check_kept_counts_only_alpha_one_pixels_that_differ() -> None:
    photo = np.zeros((2, 3, 3), np.uint8)
    alpha = np.array([[1.0, 1.0, 0.99], [1.0, 0.0, 1.0]], np.float32)
    output = photo.copy()
    output[0, 0, 2] = 1  # kept, one channel off
    output[0, 2] = 50  # soft: not counted
    output[1, 1] = 50  # generated: not counted
    check = check_kept(photo, output, alpha)
    assert check == KeptCheck(kept_pixels=4, differing=1)
    assert not check.exact
    assert check.to_json() == {"kept_pixels": 4, "differing": 1, "exact": False}
    assert check.describe() == "4 kept pixels, 1 differ from the photo"


def test_check_kept_of_an_exact_output() -> None:
    photo = np.full((2, 2, 3), 7, np.uint8)
    check = check_kept(photo, photo.copy(), np.ones((2, 2), np.float32))
    assert check.exact
    assert check.to_json() == {"kept_pixels": 4, "differing": 0, "exact": True}
    assert check.describe() == "4 kept pixels, identical to the photo"


def test_check_kept_of_an_output_of_another_size_counts_every_kept_pixel_as_differing() -> None:
    alpha = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    check = check_kept(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 3, 3), np.uint8), alpha)
    assert (check.kept_pixels, check.differing) == (3, 3)


def test_check_kept_counts_pixels_not_channels() -> None:
    photo = np.zeros((1, 3, 3), np.uint8)
    output = photo.copy()
    output[0, 0] = (1, 1, 0)  # two channels off: one pixel
    output[0, 2, 2] = 9
    assert check_kept(photo, output, np.ones((1, 3), np.float32)).differing == 2


def test_fit_to_shrinking_averages_at_any_width() -> None:
    generated = np.zeros((6, 6, 3), np.uint8)
    generated[0::2, 0::2] = 100  # one bright pixel in each 2x2 block: every block's mean is 25
    assert fit_to(generated, 3, 3)[..., 0].tolist() == [[25, 25, 25]] * 3


@pytest.mark.parametrize(("width", "height"), [(16, 32), (32, 16), (32, 32)])
def test_fit_to_enlarging_is_bicubic(width, height) -> None:
    """Bicubic interpolation rings at a step: next to the edge it overshoots the bright side and undershoots
    the dark one (clipped at 0 here); nearest, area or bilinear enlarging never leave the two levels' range."""
    generated = np.full((16, 16, 3), 200, np.uint8)
    generated[:8, :8] = 20  # a dark quadrant: a step along both axes
    fitted = fit_to(generated, width, height)
    assert fitted.shape == (height, width, 3)
    assert fitted.max() > 200
    assert fitted.min() < 20
