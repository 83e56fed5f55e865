"""Alpha finishing (exact 0 and 1 on the trimap's sure regions) and the weight-free classic matte."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput, GarmentError
from lib_garment.segment.matte import alpha_to_uint8, classic_alpha, classic_matte, finish_alpha, mask_alpha
from lib_garment.segment.trimap import make_trimap


def soft_edge(height: int = 96, width: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A red garment on a blue background with a wavy edge blended over 6 px: (image, true alpha)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:height, :width] + 0.5
    edge = width * 0.47 + 6 * np.sin(rows / 9)
    alpha = np.clip((edge - cols) / 6 + 0.5, 0, 1)
    fg, bg = np.array([200.0, 50, 40]), np.array([40.0, 110, 210])
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg + rng.normal(0, 2, (height, width, 3))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), alpha


def test_finished_alpha_is_exact_on_sure_regions_and_clipped_elsewhere() -> None:
    rng = np.random.default_rng(1)
    trimap = rng.choice(np.array([0, 128, 255], np.uint8), size=(40, 50))
    raw = rng.uniform(-0.5, 1.5, (40, 50))
    alpha = finish_alpha(raw, trimap)
    assert alpha.dtype == np.float32
    assert (alpha[trimap == 255] == 1.0).all()
    assert (alpha[trimap == 0] == 0.0).all()
    unknown = trimap == 128
    np.testing.assert_array_equal(alpha[unknown], np.clip(raw, 0, 1).astype(np.float32)[unknown])
    as_uint8 = finish_alpha((np.clip(raw, 0, 1) * 255).astype(np.uint8), trimap)  # 0..255 alphas too
    assert (as_uint8[trimap == 255] == 1.0).all()
    assert (as_uint8[trimap == 0] == 0.0).all()
    assert as_uint8.min() >= 0.0
    assert as_uint8.max() <= 1.0


def test_finishing_refuses_broken_alphas() -> None:
    trimap = np.full((4, 4), 128, np.uint8)
    broken = np.zeros((4, 4), np.float32)
    broken[1, 1] = np.nan
    with pytest.raises(GarmentError, match="NaN"):
        finish_alpha(broken, trimap)
    with pytest.raises(ValueError, match="shape"):
        finish_alpha(np.zeros((4, 5), np.float32), trimap)
    with pytest.raises(BadInput, match="only 0, 128 and 255"):
        finish_alpha(np.zeros((4, 4), np.float32), np.full((4, 4), 7, np.uint8))


def test_matte_none_is_the_clean_mask() -> None:
    mask = np.zeros((6, 6), np.uint8)
    mask[1:4, 2:5] = 255
    alpha = mask_alpha(mask)
    assert alpha.dtype == np.float32
    np.testing.assert_array_equal(alpha, (mask > 0).astype(np.float32))
    np.testing.assert_array_equal(finish_alpha(alpha, make_trimap(mask, 1)), alpha)  # the trimap agrees with it


def test_alpha_as_png_values() -> None:
    assert alpha_to_uint8(np.array([0.0, 1.0, 0.5, 0.2, -1.0, 2.0])).tolist() == [0, 255, 128, 51, 0, 255]


def test_classic_matte_follows_the_photo_across_the_band() -> None:
    image, truth = soft_edge()
    mask = truth > 0.5
    trimap = make_trimap(mask, 5)
    matte = classic_matte(image, trimap, mask, radius=5)  # the window reaches across the band (k = 5)
    assert matte.method == "classic"
    alpha = matte.alpha
    assert alpha.dtype == np.float32
    assert alpha.shape == mask.shape
    assert alpha.min() >= 0.0
    assert alpha.max() <= 1.0
    assert (alpha[trimap == 255] == 1.0).all()
    assert (alpha[trimap == 0] == 0.0).all()
    band = trimap == 128
    hard_error = np.abs(mask_alpha(mask) - truth)[band].mean()
    soft_error = np.abs(alpha - truth)[band].mean()
    assert soft_error < 0.35 * hard_error, (soft_error, hard_error)
    assert ((alpha[band] > 0.02) & (alpha[band] < 0.98)).mean() > 0.3  # real blends, not a hard step


def test_classic_matte_takes_a_gray_guide_and_works_only_in_the_band() -> None:
    image, truth = soft_edge(seed=3)
    gray = image.mean(axis=2).astype(np.uint8)
    mask = truth > 0.5
    trimap = make_trimap(mask, 4)
    alpha = classic_alpha(gray, trimap, mask, radius=4)
    band = trimap == 128
    assert np.abs(alpha - truth)[band].mean() < np.abs(mask_alpha(mask) - truth)[band].mean()
    np.testing.assert_array_equal(alpha[~band], mask_alpha(mask)[~band])


def test_classic_matte_without_a_band_is_the_mask() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    full = np.ones((8, 8), bool)
    np.testing.assert_array_equal(classic_alpha(image, make_trimap(full), full), np.ones((8, 8), np.float32))
    empty = np.zeros((8, 8), bool)
    np.testing.assert_array_equal(classic_alpha(image, make_trimap(empty), empty), np.zeros((8, 8), np.float32))


def test_classic_matte_checks_its_inputs() -> None:
    image, truth = soft_edge()
    mask = truth > 0.5
    trimap = make_trimap(mask)
    with pytest.raises(BadInput, match="one size"):
        classic_alpha(image[:-1], trimap, mask)
    with pytest.raises(BadInput, match="radius"):
        classic_alpha(image, trimap, mask, radius=0)
