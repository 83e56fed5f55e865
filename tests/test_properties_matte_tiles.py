"""Properties of the matte's crop and tiles over random masks and sizes (hypothesis): the crop holds every
unknown pixel; the tiles cover the working crop, stay within their size and overlap enough; and every unknown
pixel of the photo reads its alpha, through the bilinear way back, only from tiles that the model ran."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_garment.segment.geometry import fit_within
from lib_garment.segment.matte_tiles import (
    TileBlender,
    band_window,
    context_margin,
    tile_grid,
    tile_spans,
    tiles_touching,
)
from lib_garment.segment.trimap import UNKNOWN, make_trimap, trimap_to_size
from tests.properties import BOUNDED, masks

MODEST = settings(BOUNDED, max_examples=80)  # each example builds a trimap and resizes it: keep the run short


@MODEST
@given(st.integers(1, 400), st.integers(2, 80), st.data())
def test_tile_spans_cover_the_length_within_size_and_overlap(length: int, tile: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, tile // 2))
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0
    assert spans[-1][1] == length
    assert all(0 < stop - start <= tile for start, stop in spans)
    assert len({stop - start for start, stop in spans}) == 1  # one size: no sliver at the end
    for (_, stop), (start, _) in itertools.pairwise(spans):
        assert stop - start >= overlap  # neighbours share at least the overlap (so also no gap)
    if length > tile:  # as few as possible: one tile fewer could not reach
        assert len(spans) == math.ceil((length - overlap) / (tile - overlap))


@st.composite
def garment_masks(draw: st.DrawFn) -> np.ndarray:
    """A product-like mask on a photo of 24..120 px a side: rectangles and ellipses (a ring of band with sure
    pixels inside and out, so some tiles are skipped), or the shared strategy's speckle and edge cases."""
    if draw(st.booleans()):
        return draw(masks(max_side=120))
    height, width = draw(st.integers(24, 120)), draw(st.integers(24, 120))
    rows, cols = np.mgrid[:height, :width] + 0.5
    mask = np.zeros((height, width), bool)
    for _ in range(draw(st.integers(1, 3))):
        cy, cx = draw(st.floats(0, height)), draw(st.floats(0, width))
        ry, rx = draw(st.floats(2, height)), draw(st.floats(2, width))
        if draw(st.booleans()):
            mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 < 1
        else:
            mask |= (np.abs(rows - cy) < ry / 2) & (np.abs(cols - cx) < rx / 2)
    return mask


@MODEST
@given(garment_masks(), st.integers(1, 4), st.integers(8, 100), st.integers(8, 40), st.data())
def test_crop_and_tiles_cover_every_unknown_pixel(
    mask: np.ndarray, k: int, max_side: int, tile: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, tile // 2))
    trimap = make_trimap(mask, k)
    band = trimap == UNKNOWN
    crop = band_window(band, context_margin(k))
    if crop is None:
        assert not band.any()
        return
    inside = np.zeros_like(band)
    inside[crop.slices] = True
    assert not (band & ~inside).any()  # the crop holds the whole band

    resize = fit_within(crop.width, crop.height, max_side)
    work_w, work_h = resize.canvas_size
    working = trimap_to_size(trimap[crop.slices], work_w, work_h)
    tiles = tile_grid(work_h, work_w, tile, overlap)
    covered = np.zeros((work_h, work_w), np.int32)
    for t in tiles:
        assert t.height <= tile
        assert t.width <= tile
        covered[t.slices] += 1
    assert (covered >= 1).all()

    ran = tiles_touching(tiles, working == UNKNOWN)
    blender = TileBlender(np.zeros((work_h, work_w), np.float32), tiles)
    for t in ran:
        blender.add(t, np.ones((t.height, t.width), np.float32))
    from_model = blender.weight > 0
    assert from_model[working == UNKNOWN].all()
    # The way back: an unknown photo pixel at crop column c reads the working columns around
    # x = (c + 0.5)·work_w / crop_w - 0.5 (cv2's bilinear); both neighbours must come from the model.
    rows, cols = np.nonzero(band[crop.slices])
    for r in bilinear_sources(rows, crop.height, work_h):
        for c in bilinear_sources(cols, crop.width, work_w):
            assert from_model[r, c].all()


def bilinear_sources(index: np.ndarray, size: int, work: int) -> tuple[np.ndarray, np.ndarray]:
    """The two working indices cv2's bilinear resize reads for original indices ``index`` (clamped)."""
    position = (index + 0.5) * work / size - 0.5
    low = np.clip(np.floor(position).astype(int), 0, work - 1)
    return low, np.clip(low + 1, 0, work - 1)
