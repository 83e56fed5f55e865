"""Depth maps: one channel, near = bright, percentile-robust; user depth images (gray, 16-bit, colour-mapped)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lib_garment.errors import BadInput
from lib_garment.imageio import read_depth_pixels
from lib_garment.maps.depth import (
    COLOUR_MAPS,
    DepthParams,
    RawDepth,
    depth_from_pixels,
    fit_depth,
    normalize_depth,
)

RAMP = np.arange(100, dtype=np.float32).reshape(10, 10)  # 0..99


def test_near_is_bright_over_the_full_range() -> None:
    result = normalize_depth(RawDepth(RAMP), DepthParams(0, 100))
    assert result.dtype == np.uint8
    assert result.shape == (10, 10)
    np.testing.assert_array_equal(result, np.rint(RAMP * 255 / 99).astype(np.uint8))


def test_distance_like_depth_is_turned_around() -> None:
    result = normalize_depth(RawDepth(RAMP, near_is_high=False), DepthParams(0, 100))
    np.testing.assert_array_equal(result, 255 - np.rint(RAMP * 255 / 99).astype(np.uint8))


def test_percentile_clipping_ignores_outliers() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (100, 100)).astype(np.float32)
    values.flat[:10] = 1000.0  # a few wild pixels would squash a min-max stretch to black
    result = normalize_depth(RawDepth(values))
    assert (result.flat[:10] == 255).all()
    assert abs(int(np.median(result)) - 128) <= 4
    assert (result[values < 0.02] == 0).mean() > 0.9  # the low tail clips to black
    lo, hi = np.percentile(values, [2, 98])
    inside = (values > lo) & (values < hi)
    np.testing.assert_allclose(result[inside], (values[inside] - lo) / (hi - lo) * 255, atol=0.51)


def test_flat_depth_is_black() -> None:
    assert normalize_depth(RawDepth(np.full((6, 8), 3.5, np.float32))).max() == 0


def test_depth_is_fitted_to_the_image_size() -> None:
    small = RawDepth(np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1)))
    fitted = fit_depth(small, 64, 48)
    assert fitted.values.shape == (48, 64)
    assert fitted.values[:, 0].max() < fitted.values[:, -1].min()
    with pytest.raises(BadInput, match="not the image's shape"):
        fit_depth(small, 64, 64)


@pytest.mark.parametrize(("percentiles"), [(50, 50), (-1, 90), (10, 101), (float("nan"), 90)])
def test_bad_percentiles_are_refused(percentiles: tuple[float, float]) -> None:
    with pytest.raises(BadInput, match="percentiles"):
        DepthParams(*percentiles)


def gray_ramp() -> np.ndarray:
    return np.tile(np.arange(256, dtype=np.uint8), (4, 1))


def test_gray_depth_images_are_taken_as_they_are() -> None:
    rgb = np.repeat(gray_ramp()[..., None], 3, axis=2)
    np.testing.assert_array_equal(depth_from_pixels(rgb).values, gray_ramp())
    wide = (gray_ramp().astype(np.uint16) * 257)[:, ::-1]
    np.testing.assert_array_equal(depth_from_pixels(wide).values, wide)


def test_eight_bit_sources_are_marked_quantised() -> None:
    rgb = np.repeat(gray_ramp()[..., None], 3, axis=2)
    coloured = np.ascontiguousarray(cv2.applyColorMap(gray_ramp(), cv2.COLORMAP_TURBO)[..., ::-1])
    assert depth_from_pixels(gray_ramp()).quantised
    assert depth_from_pixels(rgb).quantised
    assert depth_from_pixels(coloured).quantised
    assert not depth_from_pixels(gray_ramp().astype(np.uint16) * 257).quantised
    assert not depth_from_pixels(gray_ramp().astype(np.float32)).quantised


@pytest.mark.parametrize("name", ["INFERNO", "TURBO", "VIRIDIS", "JET"])
def test_opencv_colour_maps_are_turned_back_into_depth(name: str) -> None:
    coloured = cv2.applyColorMap(gray_ramp(), getattr(cv2, f"COLORMAP_{name}"))[..., ::-1]
    recovered = depth_from_pixels(np.ascontiguousarray(coloured)).values
    assert np.abs(recovered - gray_ramp()).max() <= 2  # a few neighbouring table entries share a colour


def test_depth_anything_spectral_colours_are_turned_back_into_depth() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    table = matplotlib.colormaps["Spectral_r"](np.arange(256))[:, :3] * 255
    np.testing.assert_allclose(COLOUR_MAPS["Spectral_r"], table, atol=1.0)
    # Depth Anything's demo: uint8 depth (near = 255) indexed into Spectral_r, saved as RGB.
    coloured = matplotlib.colormaps["Spectral_r"](gray_ramp())[..., :3] * 255
    recovered = depth_from_pixels(coloured.astype(np.uint8)).values
    assert np.abs(recovered - gray_ramp()).max() <= 2  # neighbouring entries differ by ~1 level per channel
    assert normalize_depth(RawDepth(recovered), DepthParams(0, 100))[0, -1] == 255  # red = near = bright


def test_colourful_images_that_are_no_depth_map_are_refused() -> None:
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(BadInput, match="matches no known depth colour map"):
        depth_from_pixels(photo, "depth map x.png")


def test_holes_in_float_depth_count_as_far() -> None:
    values = np.array([[1.0, 2.0], [np.nan, np.inf]], np.float32)
    np.testing.assert_array_equal(depth_from_pixels(values).values, [[1, 2], [1, 1]])
    with pytest.raises(BadInput, match="no finite"):
        depth_from_pixels(np.full((2, 2), np.nan, np.float32))


def test_sixteen_bit_depth_files_keep_their_precision(tmp_path: Path) -> None:
    wide = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)
    Image.fromarray(wide).save(tmp_path / "depth16.png")
    pixels = read_depth_pixels(tmp_path / "depth16.png")
    np.testing.assert_array_equal(pixels, wide)
    result = normalize_depth(depth_from_pixels(pixels), DepthParams(0, 100))
    assert result[0, 0] == 0
    assert result[-1, -1] == 255
