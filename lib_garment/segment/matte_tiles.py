"""Where the matting model runs: the unknown band's box plus context, at a bounded size, in overlapping tiles.

Why: the matte only has work to do in the trimap's unknown band, a thin ring around the product, yet
ViTMatte's global-attention blocks cost the square of the token count of whatever they are given. Run on a
whole 2048² photo (at 1536²) it took 4.8× its 1024² time and most of an 8 GiB peak (issue 13). So:

1. **crop**: the band's bounding box grown by a context margin (:func:`band_window`), in photo pixels. The
   model sees the sure colours on both sides of the band, and nothing far from it;
2. **working size**: the crop scaled down (never up) so that its longest side is at most ``max_side``
   (:func:`lib_garment.segment.geometry.fit_within`), which bounds the work whatever the photo's resolution;
3. **tiles**: the working crop cut into a grid of tiles of at most ``tile`` px a side, each overlapping its
   neighbours by at least ``overlap`` px (:func:`tile_grid`). Only tiles within one pixel of the working band
   run (:func:`tiles_touching`): a tile of sure foreground inside a large garment needs no model. The bounded
   tile bounds the model's activations (the attention matrices are per tile), so the peak memory does not
   follow the photo;
4. **blend**: each tile's alpha is weighted by a raised-cosine ramp across its overlaps with neighbours and
   1 elsewhere (:func:`tile_weights`, always > 0), the weighted sum divided by the summed weights
   (:class:`TileBlender`): where two tiles disagree near their seams the result fades from one to the other
   instead of stepping.

Everything here is plain numpy on integers and index windows, so it is exact and cheap to test; resizing
and the model calls are the caller's (:func:`lib_garment.segment.matte.tiled_alpha`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MATTE_TILE = 512  # tile side in working px: global attention over (512/16)² = 1024 tokens, ~25 MB a head
MATTE_OVERLAP = 64  # px shared by neighbouring tiles: ViTMatte's 14-token window is 224 px; 64 px of ramp
MATTE_MARGIN_MIN = 16  # context around the band, in photo px: at least this ...
MATTE_MARGIN_BANDS = 2  # ... or this many band half-widths (k), whichever is larger


@dataclass(frozen=True)
class Window:
    """Rows ``top:bottom`` and columns ``left:right`` of an array (ends exclusive, as slices)."""

    top: int
    left: int
    bottom: int
    right: int

    def __post_init__(self) -> None:
        if not (0 <= self.top < self.bottom and 0 <= self.left < self.right):
            raise ValueError(f"a window needs 0 <= top < bottom and 0 <= left < right, got {self}")

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        """``array[window.slices]`` is the window's part of an (H, W, ...) array (a view, no copy)."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def grown(self, by: int, height: int, width: int) -> Window:
        """The window grown by ``by`` px on every side, cut to an image of ``height`` x ``width``."""
        return Window(
            max(0, self.top - by), max(0, self.left - by), min(height, self.bottom + by), min(width, self.right + by)
        )


def context_margin(k: int) -> int:
    """The context around the band, in photo px: ``max(MATTE_MARGIN_MIN, MATTE_MARGIN_BANDS * k)``.

    The band reaches k px either side of the mask edge; two more band half-widths of sure pixels show the
    model the foreground's and background's colours next to every band pixel.
    """
    return max(MATTE_MARGIN_MIN, MATTE_MARGIN_BANDS * int(k))


def band_window(band: np.ndarray, margin: int) -> Window | None:
    """The bounding box of ``band``'s True pixels grown by ``margin`` px, cut to the array (None: no band)."""
    if margin < 0:
        raise ValueError(f"margin must be at least 0, got {margin}")
    rows = np.flatnonzero(band.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(band.any(axis=0))
    height, width = band.shape
    return Window(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1).grown(margin, height, width)


def tile_spans(length: int, tile: int, overlap: int) -> tuple[tuple[int, int], ...]:
    """``(start, stop)`` spans of at most ``tile`` px covering ``0..length``, neighbours overlapping by at
    least ``overlap`` px, as few as possible and all of one size (evenly spread, so no thin last tile).

    n = ceil((length - overlap) / (tile - overlap)) tiles of size s = ceil((length + (n - 1)·overlap) / n)
    ≤ tile; starts at round(i·(length - s) / (n - 1)), whose steps are at most s - overlap.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    if not 0 <= overlap < tile:
        raise ValueError(f"need 0 <= overlap < tile, got overlap {overlap} and tile {tile}")
    if length <= tile:
        return ((0, length),)
    count = math.ceil((length - overlap) / (tile - overlap))
    size = min(length, math.ceil((length + (count - 1) * overlap) / count))
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    return tuple((start, start + size) for start in starts)


def tile_grid(height: int, width: int, tile: int, overlap: int) -> tuple[Window, ...]:
    """Every tile of a ``height`` x ``width`` image, row by row (see :func:`tile_spans`)."""
    return tuple(
        Window(top, left, bottom, right)
        for top, bottom in tile_spans(height, tile, overlap)
        for left, right in tile_spans(width, tile, overlap)
    )


def tiles_touching(tiles: tuple[Window, ...], band: np.ndarray) -> tuple[Window, ...]:
    """The tiles with a ``band`` pixel within one pixel of them.

    One pixel more than the tile itself: an upscaled alpha reads, bilinearly, the working pixel next to the
    one a band pixel maps into, and that neighbour must come from a model, not from the sure fill.
    """
    height, width = band.shape
    return tuple(t for t in tiles if band[t.grown(1, height, width).slices].any())


def _ramp(span: tuple[int, int], previous: tuple[int, int] | None, following: tuple[int, int] | None) -> np.ndarray:
    """One axis of a tile's weight: a raised-cosine rise across the overlap with the previous span, a fall
    across the overlap with the following one, 1 between; strictly positive (pixel centres, never the ends)."""
    start, stop = span
    weights = np.ones(stop - start, np.float32)
    if previous is not None and previous[1] > start:
        n = previous[1] - start
        weights[:n] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    if following is not None and stop > following[0]:
        n = stop - following[0]
        weights[-n:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    return weights


def tile_weights(tile: Window, tiles: tuple[Window, ...]) -> np.ndarray:
    """The (h, w) blending weight of ``tile`` in the grid ``tiles`` (as :func:`tile_grid` made it): ramps
    toward each neighbouring row and column of the grid, 1 elsewhere, > 0 everywhere.

    In an overlap of two tiles the rise and the fall are mirror images (cos² and sin² of the same angle), so
    they sum to 1 and a pixel's blend is a convex mix that leaves agreeing tiles' values unchanged.
    """
    rows = sorted({(t.top, t.bottom) for t in tiles})
    cols = sorted({(t.left, t.right) for t in tiles})
    r, c = rows.index((tile.top, tile.bottom)), cols.index((tile.left, tile.right))
    along_rows = _ramp(rows[r], rows[r - 1] if r else None, rows[r + 1] if r + 1 < len(rows) else None)
    along_cols = _ramp(cols[c], cols[c - 1] if c else None, cols[c + 1] if c + 1 < len(cols) else None)
    return np.outer(along_rows, along_cols)


class TileBlender:
    """Accumulates tiles' alphas into one (height, width) alpha: Σ w·α / Σ w where a tile ran, ``fill``
    (the sure values) elsewhere."""

    def __init__(self, fill: np.ndarray, tiles: tuple[Window, ...]) -> None:
        self.grid = tiles
        self.fill = fill
        self.total = np.zeros(fill.shape, np.float32)
        self.weight = np.zeros(fill.shape, np.float32)

    def add(self, tile: Window, alpha: np.ndarray) -> None:
        if alpha.shape != (tile.height, tile.width):
            raise ValueError(f"alpha of shape {alpha.shape} for a {tile.width}x{tile.height} tile")
        weights = tile_weights(tile, self.grid)
        self.total[tile.slices] += weights * alpha
        self.weight[tile.slices] += weights

    def result(self) -> np.ndarray:
        """float32 alpha: the blend where any tile was added, ``fill`` elsewhere."""
        ran = self.weight > 0
        out = np.asarray(self.fill, np.float32).copy()
        out[ran] = self.total[ran] / self.weight[ran]
        return out
