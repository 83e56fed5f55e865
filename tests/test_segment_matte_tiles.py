"""The matte where the matte is needed: the band's crop, its tiles and their blend (exact, with stand-in models),
and the pixel limit that refuses a photo before any model runs."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.imageio import MAX_PIXELS_ENV, ImageLimits
from lib_garment.segment.matte_tiles import (
    TileBlender,
    Window,
    band_window,
    context_margin,
    tile_grid,
    tile_spans,
    tile_weights,
    tiles_touching,
)
from lib_garment.segment.pipeline import SegmentSettings, segment
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN


def test_tile_spans_are_few_equal_and_overlap_enough() -> None:
    assert tile_spans(300, 512, 64) == ((0, 300),)  # fits: one tile, the whole length
    assert tile_spans(512, 512, 64) == ((0, 512),)
    # 1000 px: ceil(936 / 448) = 3 tiles of ceil(1128 / 3) = 376, starts 0, 312, 624.
    assert tile_spans(1000, 512, 64) == ((0, 376), (312, 688), (624, 1000))
    assert tile_spans(513, 512, 64) == ((0, 289), (224, 513))
    with pytest.raises(ValueError, match="overlap < tile"):
        tile_spans(100, 64, 64)
    with pytest.raises(ValueError, match="at least 1"):
        tile_spans(0, 64, 8)


def test_weights_rise_and_fall_to_a_sum_of_one_in_every_overlap() -> None:
    tiles = tile_grid(200, 300, 128, 32)
    assert len(tiles) == 2 * 3
    total = np.zeros((200, 300), np.float32)
    for tile in tiles:
        weights = tile_weights(tile, tiles)
        assert weights.shape == (tile.height, tile.width)
        assert weights.min() > 0  # a pixel of a tile that ran always counts
        total[tile.slices] += weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    corner = tile_weights(tiles[0], tiles)
    assert corner[0, 0] == 1.0  # the image's own edge needs no ramp
    assert corner[-1, -1] < 0.01  # deep in the overlap with the far neighbours


def test_the_blend_of_agreeing_tiles_is_their_value_and_the_fill_stays_where_none_ran() -> None:
    tiles = tile_grid(90, 90, 40, 10)
    fill = np.full((90, 90), 0.25, np.float32)
    truth = np.linspace(0, 1, 90 * 90, dtype=np.float32).reshape(90, 90)
    blender = TileBlender(fill, tiles)
    for tile in tiles[:-1]:  # the last tile does not run
        blender.add(tile, truth[tile.slices])
    out = blender.result()
    others = np.zeros((90, 90), bool)
    for tile in tiles[:-1]:
        others[tile.slices] = True
    np.testing.assert_allclose(out[others], truth[others], atol=1e-6)
    assert (out[~others] == 0.25).all()
    with pytest.raises(ValueError, match="tile"):
        blender.add(tiles[0], truth)


def test_band_window_is_the_band_box_grown_and_cut_to_the_image() -> None:
    band = np.zeros((50, 80), bool)
    assert band_window(band, 5) is None
    band[10:20, 30:31] = True
    assert band_window(band, 5) == Window(5, 25, 25, 36)
    assert band_window(band, 40) == Window(0, 0, 50, 71)
    assert context_margin(3) == 16
    assert context_margin(20) == 40
    tiles = tile_grid(50, 80, 32, 8)
    near = tiles_touching(tiles, band)
    assert 0 < len(near) < len(tiles)
    assert all(band[t.grown(1, 50, 80).slices].any() for t in near)
    # A band that ends on a tile's last column: the next tile runs too, since the bilinear way back from a
    # smaller working size reads the pixel beyond it.
    edge = np.zeros((10, 48), bool)
    edge[:, 23] = True
    halves = tile_grid(10, 48, 24, 0)
    assert halves == (Window(0, 0, 10, 24), Window(0, 24, 10, 48))
    assert tiles_touching(halves, edge) == halves
    assert tiles_touching(halves, np.roll(edge, -10, axis=1)) == halves[:1]  # far from the second: skipped


# -- the pipeline's matte with a stand-in model that answers pixel by pixel ------------------------------------


class PixelMatte:
    """alpha = the red channel / 255: each pixel's answer is its own, so a tiled run must equal a whole one
    exactly, and any tile or crop put back in the wrong place shows."""

    name = "pixel-matte"

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        assert image.shape[:2] == trimap.shape
        assert image.flags.c_contiguous
        self.seen.append(trimap.shape)
        return image[..., 0].astype(np.float32) / 255


def ring_photo(height: int = 300, width: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rows, cols = np.mgrid[:height, :width] + 0.5
    mask = ((rows - 160) / 100) ** 2 + ((cols - 210) / 130) ** 2 < 1
    return image, mask.astype(np.uint8) * 255


def test_a_tiled_cropped_matte_equals_the_whole_one_where_known_pixels_stay_exact() -> None:
    image, mask = ring_photo()
    whole_model, tiled_model = PixelMatte(), PixelMatte()
    common = {"phrases": (), "trimap_radius": 6, "matte_max_side": 1024}
    whole = segment(
        image, SegmentSettings(**common, matte_crop=False, matte_tile=None), coarse_mask=mask, matte_model=whole_model
    )
    tiled = segment(
        image, SegmentSettings(**common, matte_tile=64, matte_overlap=16), coarse_mask=mask, matte_model=tiled_model
    )
    assert whole_model.seen == [(300, 400)]
    assert all(h <= 64 and w <= 64 for h, w in tiled_model.seen)
    # Only the tiles near the band ran: fewer pixels than the photo, though the tiles overlap.
    assert sum(h * w for h, w in tiled_model.seen) < 0.8 * 300 * 400
    np.testing.assert_allclose(tiled.alpha, whole.alpha, atol=1e-6)
    trimap = tiled.trimap
    assert (tiled.alpha[trimap == FOREGROUND] == 1.0).all()
    assert (tiled.alpha[trimap == BACKGROUND] == 0.0).all()
    band = trimap == UNKNOWN
    np.testing.assert_allclose(tiled.alpha[band], image[..., 0][band] / 255, atol=1e-6)


def test_a_large_photo_is_matted_on_its_band_crop_at_the_bounded_size() -> None:
    image, mask = ring_photo(600, 800)
    model = PixelMatte()
    result = segment(
        image,
        SegmentSettings(phrases=(), trimap_radius=6, matte_max_side=200, matte_tile=96, matte_overlap=16),
        coarse_mask=mask,
        matte_model=model,
    )
    crop = band_window(result.trimap == UNKNOWN, context_margin(6))
    assert crop is not None
    assert crop.width < 800  # the band's box, not the photo
    grid = tile_grid(int(crop.height * 200 / crop.width + 0.5), 200, 96, 16)  # the crop scaled to 200 px wide
    assert 0 < len(model.seen) <= len(grid)
    assert set(model.seen) <= {(t.height, t.width) for t in grid}
    assert (result.alpha[result.trimap == FOREGROUND] == 1.0).all()
    assert (result.alpha[result.trimap == BACKGROUND] == 0.0).all()
    # Scaled by 1/4 and back, the pixel-wise answer is a blurred red channel: close in the mean, not exact.
    band = result.trimap == UNKNOWN
    assert np.abs(result.alpha[band] - image[..., 0][band] / 255).mean() < 0.35


def test_bad_tile_settings_are_refused_before_any_model_runs() -> None:
    image, mask = ring_photo(60, 80)
    with pytest.raises(BadInput, match="overlap < tile"):
        segment(image, SegmentSettings(matte_tile=32, matte_overlap=32), coarse_mask=mask, matte_model=PixelMatte())


# -- the pixel limit -------------------------------------------------------------------------------------------


class Refuse:
    name = "refuse"

    def __call__(self, *args: object) -> object:
        raise AssertionError("no model may run for a photo past the limit")


def test_a_photo_past_the_pixel_limit_is_refused_with_the_limit_and_how_to_raise_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image, mask = ring_photo(100, 120)  # 12,000 pixels
    refuse = Refuse()
    limits = ImageLimits(max_pixels=11_999)
    expected = (
        r"image is 120x100 = 0\.0 megapixels, more than the limit of 0\.0 megapixels; scale it down first, or "
        rf"raise the limit by setting {MAX_PIXELS_ENV} \(a number of pixels, now 11999\) before starting"
    )
    with pytest.raises(BadInput, match=expected):
        segment(image, SegmentSettings(phrases=("shirt",)), detector=refuse, segmenter=refuse, limits=limits)
    with pytest.raises(BadInput, match=expected):
        segment(image, SegmentSettings(), coarse_mask=mask, matte_model=refuse, limits=limits)
    assert segment(image, SegmentSettings(matte="none"), coarse_mask=mask, limits=ImageLimits(12_000)).alpha.shape
    # The variable the message names is the one that sets the limit (read when the limits are made).
    monkeypatch.setenv(MAX_PIXELS_ENV, "200_000_000")
    assert ImageLimits().max_pixels == 200_000_000
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.warns(UserWarning, match=MAX_PIXELS_ENV):
        assert ImageLimits().max_pixels == 2**27
