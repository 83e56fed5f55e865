"""Halo-free edges: the product's own colour F in the matte's soft band, then α·F + (1−α)·B on the new background.

A soft-band pixel of the photo is α·F + (1−α)·(the old background): pasting it as is on white keeps a rim of the
old background (a green halo from a green studio wall). pymatting's ``estimate_foreground_ml`` (Germer et al.
2020, multi-level foreground estimation) recovers F. It runs only where 0 < α < 1, tile by tile over the band's
bounding box (each tile with a margin of context), because the band is a thin outline and a whole-box run on a
large product takes seconds. Pixels with α = 1 are never touched: they stay the photographed ones, bit for bit.
"""

from __future__ import annotations

import numpy as np

TILE = 128  # the band is checked and estimated in TILE x TILE cells ...
MARGIN = 16  # ... each with this much context around it (the estimate's neighbourhood)


def soft_band(alpha: np.ndarray) -> np.ndarray:
    return (alpha > 0.0) & (alpha < 1.0)


def foreground_colours(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """F as float32 (H, W, 3) in 0..255: the estimate in the soft band, the image's own pixels elsewhere."""
    from pymatting import estimate_foreground_ml  # numba: loaded only when an edge is estimated

    band = soft_band(alpha)
    colours = image.astype(np.float32)
    height, width = alpha.shape
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    if rows.size == 0:
        return colours
    for top in range(int(rows[0]), int(rows[-1]) + 1, TILE):
        for left in range(int(cols[0]), int(cols[-1]) + 1, TILE):
            cell = (slice(top, min(top + TILE, height)), slice(left, min(left + TILE, width)))
            cell_band = band[cell]
            if not cell_band.any():
                continue
            y0, x0 = max(top - MARGIN, 0), max(left - MARGIN, 0)
            y1, x1 = min(top + TILE + MARGIN, height), min(left + TILE + MARGIN, width)
            estimate = estimate_foreground_ml(image[y0:y1, x0:x1] / 255.0, alpha[y0:y1, x0:x1].astype(np.float64))
            inner = estimate[top - y0 : cell[0].stop - y0, left - x0 : cell[1].stop - x0] * 255.0
            colours[cell][cell_band] = inner[cell_band]
    return colours


def composite(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray, image: np.ndarray) -> np.ndarray:
    """α·F + (1−α)·B as uint8; α = 1 pixels are ``image``'s own, α = 0 pixels ``background``'s own."""
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    mixed = a * foreground + (1.0 - a) * background.astype(np.float32)
    out = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    # Written out, not left to floating point: this is the promise.
    keep = alpha >= 1.0
    out[keep] = image[keep]
    drop = alpha <= 0.0
    out[drop] = background[drop]
    return out


def plain_composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """α·photo + (1−α)·B, the halo-prone baseline (what the edge estimate is measured against)."""
    return composite(image.astype(np.float32), alpha, background, image)


def halo_free_composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """α·F + (1−α)·B with F estimated in the soft band."""
    return composite(foreground_colours(image, alpha), alpha, background, image)
