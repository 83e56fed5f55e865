"""Putting the regenerated skin back: Poisson blending through the skin matte, with exact guarantees.

:func:`poisson_blend` solves ``cv2.seamlessClone`` (``normal``: the generated patch's gradients inside the matte;
``mixed``: the stronger of the patch's and the original's at each pixel) on a window around the matte, then
composites the clone through the matte: ``out = clone * a + original * (1 - a)``. Guarantees:

- where the matte is 0, the output **is** the original, bit for bit (``seamlessClone`` changes every pixel of
  its bounding rectangle; those outside the matte are put back);
- where ``keep`` is True (the garment the task keeps, α = 1), the output is the original, bit for bit;
- a matte touching the image's edge works: the window is padded by reflection, so the clone's rectangle
  never reaches the edge (``seamlessClone`` raises when it does, and clears the mask's outermost pixels);
- the clone mask reaches ``GROW`` px beyond the matte, because ``seamlessClone`` erodes its mask by 3 px before
  it takes the patch's gradients: without that, the matte's rim would get the original's gradients.

:func:`alpha_paste` is the plain composite, for comparison and for ``blend="alpha"``.

:func:`seam_metric` measures how visible the seam is: along the matte's boundary (a band of ``band`` px on each
side), each pixel's colour gradient in the output is compared with the gradient of the original and with that
of the generated patch, and the smaller difference counts (a pixel is seamless when its local structure comes
from either source). A brightness step that neither source has, which a plain paste of a patch with different
exposure leaves, shows as a large value; 0 is seamless. Mean absolute difference per channel, in 0..255 units.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from lib_garment.arrays import check_alpha, check_rgb
from lib_garment.errors import BadInput

BlendMode = Literal["normal", "mixed", "alpha"]
BLEND_MODES: tuple[BlendMode, ...] = ("normal", "mixed", "alpha")
_FLAGS = {"normal": cv2.NORMAL_CLONE, "mixed": cv2.MIXED_CLONE}
GROW = 4  # px the clone mask reaches beyond the matte (see poisson_clone)
MARGIN = 4  # px of context around the clone mask given to the solver (and the padding at the image's edge)
DEFAULT_BAND = 2


def _inputs(
    original: np.ndarray, generated: np.ndarray, alpha: np.ndarray, keep: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    original = check_rgb(original, "original")
    generated = check_rgb(generated, "generated patch")
    if generated.shape != original.shape:
        raise BadInput(f"generated patch {generated.shape} and original {original.shape} differ in size")
    a = check_alpha(alpha, original.shape[:2], "skin matte")
    keep_mask = None if keep is None else check_alpha(keep, original.shape[:2], "keep mask") >= 1.0
    return original, generated, a, keep_mask


def _composite(original: np.ndarray, source: np.ndarray, a: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """``round(source * a + original * (1 - a))`` where a > 0 (and not kept); ``original`` itself elsewhere."""
    out = original.copy()
    changed = a > 0
    if keep is not None:
        changed &= ~keep
    if not changed.any():
        return out
    weight = a[changed][:, None]
    mixed = source[changed].astype(np.float32) * weight + original[changed].astype(np.float32) * (1.0 - weight)
    out[changed] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def alpha_paste(
    original: np.ndarray, generated: np.ndarray, alpha: np.ndarray, keep: np.ndarray | None = None
) -> np.ndarray:
    """The generated patch composited over the original through ``alpha`` (no gradient-domain step)."""
    original, generated, a, keep_mask = _inputs(original, generated, alpha, keep)
    return _composite(original, generated, a, keep_mask)


def _window(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """The mask's bounding rectangle grown by ``margin`` and clipped to the image: x0, y0, x1, y1."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (
        max(int(cols[0]) - margin, 0),
        max(int(rows[0]) - margin, 0),
        min(int(cols[-1]) + 1 + margin, width),
        min(int(rows[-1]) + 1 + margin, height),
    )


def poisson_clone(
    original: np.ndarray, generated: np.ndarray, region: np.ndarray, mode: BlendMode = "normal"
) -> np.ndarray:
    """``cv2.seamlessClone`` of ``generated`` into ``original`` over ``region`` (bool), at the same place,
    safe at the image's edges. Pixels outside ``region`` may change (the solver's rectangle): composite after."""
    if mode not in _FLAGS:
        raise BadInput(f"Poisson blending mode must be normal or mixed, got {mode!r}")
    # seamlessClone erodes its mask (a cross, three times) before taking the patch's gradients, because the
    # patch is zeroed outside the mask: grown by GROW px, the eroded mask still covers the whole region.
    grown = cv2.dilate(region.astype(np.uint8), np.ones((2 * GROW + 1, 2 * GROW + 1), np.uint8)) > 0
    x0, y0, x1, y1 = _window(grown, MARGIN)
    pad = MARGIN + 1  # it also clears the mask's outermost row and column: keep the mask clear of them
    dst = cv2.copyMakeBorder(original[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    src = cv2.copyMakeBorder(generated[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    mask = np.zeros(dst.shape[:2], np.uint8)
    mask[pad:-pad, pad:-pad][grown[y0:y1, x0:x1]] = 255
    bx, by, bw, bh = cv2.boundingRect(mask)
    # seamlessClone centres the mask's bounding rectangle on ``p`` (top-left = p - size // 2): this ``p`` puts
    # it back exactly where it is, so the clone is not shifted.
    centre = (bx + bw // 2, by + bh // 2)
    # OpenCV works in BGR; the channel order does not matter to a per-channel Poisson solve, so RGB passes as is.
    cloned = cv2.seamlessClone(src, dst, mask, centre, _FLAGS[mode])
    out = original.copy()
    out[y0:y1, x0:x1] = cloned[pad:-pad, pad:-pad]
    return out


def poisson_blend(
    original: np.ndarray,
    generated: np.ndarray,
    alpha: np.ndarray,
    mode: BlendMode = "normal",
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """The generated patch Poisson-blended into the original through the matte ``alpha`` (see the module doc);
    ``mode="alpha"`` is :func:`alpha_paste`."""
    if mode not in BLEND_MODES:
        raise BadInput(f"blend must be one of {', '.join(BLEND_MODES)}, got {mode!r}")
    original, generated, a, keep_mask = _inputs(original, generated, alpha, keep)
    region = a > 0
    if keep_mask is not None:
        region &= ~keep_mask
    if mode == "alpha" or not region.any():
        return _composite(original, generated, a, keep_mask)
    cloned = poisson_clone(original, generated, region, mode)
    return _composite(original, cloned, a, keep_mask)


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences along x and y (float32, last column/row 0)."""
    values = image.astype(np.float32)
    gx = np.zeros_like(values)
    gy = np.zeros_like(values)
    gx[:, :-1] = values[:, 1:] - values[:, :-1]
    gy[:-1] = values[1:] - values[:-1]
    return gx, gy


def seam_band(alpha: np.ndarray, band: int = DEFAULT_BAND) -> np.ndarray:
    """(H, W) bool: pixels within ``band`` px (chessboard) of the boundary between matte > 0 and matte == 0."""
    inside = (alpha > 0).astype(np.uint8)
    square = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(inside, square) != cv2.erode(inside, square)
    if band <= 0:
        return edge
    grow = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    return cv2.dilate(edge.astype(np.uint8), grow) > 0


def seam_metric(
    output: np.ndarray, original: np.ndarray, generated: np.ndarray, alpha: np.ndarray, band: int = DEFAULT_BAND
) -> float:
    """How visible the seam is (see the module docstring): lower is better, 0 seamless, 0.0 when the matte has
    no boundary."""
    output = check_rgb(output, "output")
    original, generated, a, _ = _inputs(original, generated, alpha, None)
    if output.shape != original.shape:
        raise BadInput(f"output {output.shape} and original {original.shape} differ in size")
    if not isinstance(band, int) or band < 0:
        raise BadInput(f"seam band must be a whole number of pixels >= 0, got {band!r}")
    where = seam_band(a, band)
    if not where.any():
        return 0.0
    ox, oy = _gradients(output)

    def error(reference: np.ndarray) -> np.ndarray:
        rx, ry = _gradients(reference)
        return (np.abs(ox - rx) + np.abs(oy - ry)).mean(axis=2)

    per_pixel = np.minimum(error(original), error(generated))
    return float(per_pixel[where].mean())
