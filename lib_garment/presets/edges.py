"""Halo-free edges: the product's own colour F in the matte's soft band, then α·F + (1−α)·B on the new background.

A soft-band pixel of the photo is α·F + (1−α)·(the old background): pasting it as is on white keeps a rim of the
old background (a green halo from a green studio wall). pymatting's ``estimate_foreground_ml`` (Germer et al.
2020, multi-level foreground estimation) recovers F. It runs only where 0 < α < 1, tile by tile over the band's
bounding box (each tile with a margin of context), because the band is a thin outline: the tiles that hold some
of it cover far fewer pixels than the band's bounding box (on the bench's 2000 x 2000 canvas, 49 tiles of 160 px,
1.25 Mpx, against 2.4 Mpx for the box in one call, which took four times as long). Pixels with α = 1 are never
touched: they stay the photographed ones, bit for bit.

Speed: the mix α·F + (1−α)·B is computed on the band's pixels only (α = 1 pixels are copied from the image,
α = 0 ones are the background's), and pymatting runs with one numba thread. Its estimate calls numba
``parallel=True`` resizes a few dozen times per tile, each far too small to share; with two threads on a busy
two-core machine every one of those parallel regions waits for a thread that is not scheduled (measured: a
160 px tile 3 ms on one thread, 0.1-0.4 s on two). pymatting's functions are compiled once and cached by numba
(``cache=True``): the first call in a process pays numba's import and loading the cache (about 3 s here), never a
compile unless pymatting's files change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

TILE = 128  # the band is checked and estimated in TILE x TILE cells ...
MARGIN = 16  # ... each with this much context around it (the estimate's neighbourhood)

Cell = tuple[slice, slice]


def soft_band(alpha: np.ndarray) -> np.ndarray:
    return (alpha > 0.0) & (alpha < 1.0)


def foreground_colours(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """F as float32 (H, W, 3) in 0..255: the estimate in the soft band, the image's own pixels elsewhere."""
    colours = image.astype(np.float32)
    for cell, in_band, estimate in _band_estimates(image, alpha):
        colours[cell][in_band] = estimate
    return colours


def composite(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray, image: np.ndarray) -> np.ndarray:
    """α·F + (1−α)·B as uint8; α = 1 pixels are ``image``'s own, α = 0 pixels ``background``'s own."""
    out = _outside_band(alpha, background, image)
    band = soft_band(alpha)
    box = _box_of(band)
    if box is not None:
        in_band = band[box]
        _mix_into(out[box], in_band, alpha[box][in_band], np.asarray(foreground)[box][in_band], background[box])
    return out


def plain_composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """α·photo + (1−α)·B, the halo-prone baseline (what the edge estimate is measured against)."""
    return composite(image.astype(np.float32), alpha, background, image)


def halo_free_composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """α·F + (1−α)·B with F estimated in the soft band (what ``composite(foreground_colours(...))`` gives,
    without the whole-image float copies: only the band's pixels are mixed)."""
    out = _outside_band(alpha, background, image)
    for cell, in_band, estimate in _band_estimates(image, alpha):
        _mix_into(out[cell], in_band, alpha[cell][in_band], estimate, background[cell])
    return out


def _outside_band(alpha: np.ndarray, background: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The background, with the image's own pixels where α ≥ 1 (written out, not left to floating point: this is
    the promise); the soft band is filled in by :func:`_mix_into`."""
    out = np.asarray(background).astype(np.uint8)
    keep = alpha >= 1.0
    box = _box_of(keep)
    if box is not None:
        np.copyto(out[box], image[box], where=keep[box][..., None])
    return out


def _mix_into(
    out: np.ndarray, in_band: np.ndarray, alpha: np.ndarray, foreground: np.ndarray, background: np.ndarray
) -> None:
    """out[in_band] = α·F + (1−α)·B rounded (``alpha``, ``foreground``: the band's pixels; float32 from finish)."""
    a = np.clip(alpha, 0.0, 1.0)[:, None]
    mixed = a * foreground + (1.0 - a) * background[in_band].astype(np.float32)
    out[in_band] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _box_of(mask: np.ndarray) -> Cell | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _band_estimates(image: np.ndarray, alpha: np.ndarray) -> list[tuple[Cell, np.ndarray, np.ndarray]]:
    """For each TILE cell holding some of the soft band: the cell, its band pixels (bool, the cell's shape) and F
    there (float32 (n, 3), 0..255), estimated on the cell with MARGIN px of context. All are computed before this
    returns (a list, not a generator), so numba's thread count is back before the caller does anything, even
    when the caller then fails."""
    band = soft_band(alpha)
    box = _box_of(band)
    if box is None:
        return []
    from pymatting import estimate_foreground_ml  # numba: loaded only when an edge is estimated

    height, width = alpha.shape
    rows, cols = box
    found = []
    with _one_numba_thread():
        for top in range(rows.start, rows.stop, TILE):
            for left in range(cols.start, cols.stop, TILE):
                cell = (slice(top, min(top + TILE, height)), slice(left, min(left + TILE, width)))
                in_band = band[cell]
                if not in_band.any():
                    continue
                y0, x0 = max(top - MARGIN, 0), max(left - MARGIN, 0)
                y1, x1 = min(top + TILE + MARGIN, height), min(left + TILE + MARGIN, width)
                # float32 in 0..1, pymatting's own type: x / 255 in float32 is bit for bit float64's, rounded
                context = image[y0:y1, x0:x1].astype(np.float32) / np.float32(255.0)
                estimate = estimate_foreground_ml(context, alpha[y0:y1, x0:x1].astype(np.float32))
                inner = estimate[top - y0 : cell[0].stop - y0, left - x0 : cell[1].stop - x0]
                found.append((cell, in_band, inner[in_band] * 255.0))
    return found


@contextmanager
def _one_numba_thread() -> Iterator[None]:
    """numba's thread count for this thread (it is thread-local), set to 1 and put back afterwards."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
