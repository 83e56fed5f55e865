"""The alpha matte: any model's alpha made exact on the trimap's sure regions, and a weight-free matte.

Whatever refined it, the final alpha is float32 in [0, 1], exactly 1 where the trimap is 255 and exactly 0
where it is 0 (:func:`finish_alpha`), so the product pixels pasted back are the photographed ones.

``classic`` is the matte for when ViTMatte is not available: a guided filter (He, Sun & Tang 2010, colour
guide) of the clean mask, guided by the photo — the "guided feathering" of that paper. Across the unknown
band the mask's hard step is replaced by a blend that follows the photo's colour edges. Only the band's
bounding box (plus the filter's reach) is computed, with OpenCV box filters, so it needs no opencv-contrib.
``none`` keeps the clean mask as a hard alpha.

A matting model runs through :func:`tiled_alpha`: on the working crop around the band that the pipeline
hands over, in overlapping tiles of bounded size, only where the band is (:mod:`.matte_tiles` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from lib_garment.errors import BadInput, GarmentError
from lib_garment.segment.cleanup import foreground
from lib_garment.segment.matte_tiles import TileBlender, tile_grid, tiles_touching
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN, check_trimap, trimap_radius

MatteMethod = Literal["vitmatte", "classic", "none"]
CLASSIC_EPS = 1e-4  # regularisation, for colours in 0..1: below this local variance the mask is only blurred


@dataclass(frozen=True, eq=False)
class Matte:
    """The alpha (float32 (H, W) in [0, 1]) and which method made it; ``note`` says why, when it was not the
    one asked for (ViTMatte unavailable, so classic)."""

    alpha: np.ndarray
    method: MatteMethod
    note: str = ""


def finish_alpha(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """``alpha`` as float32 in [0, 1], exactly 1 where ``trimap`` is 255 and 0 where it is 0.

    Takes a model's float alpha (clipped) or a uint8 0..255 alpha. A non-finite value is a model failure and
    raises, rather than being guessed.
    """
    check_trimap(trimap)
    alpha = np.asarray(alpha)
    if alpha.shape != trimap.shape:
        raise ValueError(f"alpha of shape {alpha.shape} for a trimap of shape {trimap.shape}")
    if alpha.dtype == np.uint8:
        finished = alpha.astype(np.float32) / np.float32(255)
    elif alpha.dtype.kind == "f" or alpha.dtype == np.bool_:
        finished = np.array(alpha, dtype=np.float32)
        if not np.isfinite(finished).all():
            raise GarmentError("the matte came back with NaN or infinite values; try matte 'classic'")
        np.clip(finished, 0.0, 1.0, out=finished)
    else:
        raise ValueError(f"alpha must be float or uint8, got {alpha.dtype}")
    finished[trimap == FOREGROUND] = 1.0
    finished[trimap == BACKGROUND] = 0.0
    return finished


def mask_alpha(mask: np.ndarray) -> np.ndarray:
    """The clean mask as a hard alpha (``matte none``): float32 1 on the mask, 0 elsewhere."""
    return foreground(mask).astype(np.float32)


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] as uint8 0..255, rounded half up (1 → 255, 0 → 0 exactly), for alpha.png."""
    return (np.clip(alpha, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def classic_alpha(
    image: np.ndarray, trimap: np.ndarray, mask: np.ndarray, radius: int | None = None, eps: float = CLASSIC_EPS
) -> np.ndarray:
    """The guided-filter matte: float32 (H, W) in [0, 1], finished on ``trimap``.

    ``image``: (H, W, 3) uint8 RGB (or (H, W) gray), the guide. ``mask``: the clean mask the trimap was built
    from (see :func:`lib_garment.segment.cleanup.foreground`). ``radius``: the filter window's half-size in
    pixels of this image (None: the trimap band's default, :func:`trimap_radius`, so a window reaches across
    the band to colours on both sides). ``eps``: see ``CLASSIC_EPS``.
    """
    check_trimap(trimap)
    if image.shape[:2] != trimap.shape or mask.shape != trimap.shape:
        raise BadInput(f"image {image.shape}, mask {mask.shape} and trimap {trimap.shape} must have one size")
    height, width = trimap.shape
    r = trimap_radius(height, width) if radius is None else int(radius)
    if r < 1 or not eps > 0:
        raise BadInput(f"the classic matte needs radius >= 1 and eps > 0, got {r} and {eps}")
    alpha = mask_alpha(mask)
    band = trimap == UNKNOWN
    if not band.any():
        return finish_alpha(alpha, trimap)

    # q at a pixel depends on (a, b) within r, which depend on the guide within r more: 2r around the band.
    rows, cols = np.nonzero(band.any(axis=1))[0], np.nonzero(band.any(axis=0))[0]
    top, bottom = max(0, rows[0] - 2 * r), min(height, rows[-1] + 1 + 2 * r)
    left, right = max(0, cols[0] - 2 * r), min(width, cols[-1] + 1 + 2 * r)
    guide = image[top:bottom, left:right]
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    refined = _guided_filter(guide.astype(np.float64) / 255.0, alpha[top:bottom, left:right].astype(np.float64), r, eps)
    inside = band[top:bottom, left:right]
    alpha[top:bottom, left:right][inside] = refined[inside]
    return finish_alpha(alpha, trimap)


AlphaModel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def tiled_alpha(
    model: AlphaModel, image: np.ndarray, trimap: np.ndarray, tile: int | None, overlap: int, name: str = "the matte"
) -> np.ndarray:
    """``model``'s alpha for ``image`` ((h, w, 3) uint8) and ``trimap`` (its (h, w) trimap), float32 (h, w),
    not yet finished.

    ``tile`` None: one call on the whole image. Otherwise the image is cut into tiles of at most ``tile`` px
    a side overlapping by ``overlap`` (:func:`~lib_garment.segment.matte_tiles.tile_grid`); only the tiles
    near the unknown band are given to the model, each as its own contiguous copy (a worker call carries one
    tile, nothing more), and their alphas are blended across the overlaps. Pixels no tile covered keep the
    trimap's sure value (they are all sure: see :func:`~lib_garment.segment.matte_tiles.tiles_touching`).
    A uint8 alpha is read as 0..255.
    """
    height, width = trimap.shape
    if tile is None:
        return _model_call(model, image, trimap, name)
    tiles = tile_grid(height, width, tile, overlap)
    blender = TileBlender((trimap == FOREGROUND).astype(np.float32), tiles)
    for window in tiles_touching(tiles, trimap == UNKNOWN):
        part_image = np.ascontiguousarray(image[window.slices])
        part_trimap = np.ascontiguousarray(trimap[window.slices])
        blender.add(window, _model_call(model, part_image, part_trimap, name))
    return blender.result()


def _model_call(model: AlphaModel, image: np.ndarray, trimap: np.ndarray, name: str) -> np.ndarray:
    alpha = np.asarray(model(image, trimap))
    if alpha.shape != trimap.shape:
        height, width = trimap.shape
        raise ValueError(f"{name} returned alpha of shape {alpha.shape} for a {width}x{height} image")
    return alpha.astype(np.float32) / np.float32(255) if alpha.dtype == np.uint8 else alpha.astype(np.float32)


def classic_matte(
    image: np.ndarray, trimap: np.ndarray, mask: np.ndarray, radius: int | None = None, note: str = ""
) -> Matte:
    """:func:`classic_alpha`, labelled as such."""
    return Matte(classic_alpha(image, trimap, mask, radius), "classic", note)


def _guided_filter(guide: np.ndarray, source: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s colour guided filter of ``source`` by ``guide`` (H, W, 3) float64 in 0..1."""

    def mean(values: np.ndarray) -> np.ndarray:
        # Reflected borders keep every window full, so the mean needs no per-pixel count.
        return cv2.boxFilter(values, cv2.CV_64F, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)

    channels = [np.ascontiguousarray(guide[..., c]) for c in range(3)]
    mean_i = [mean(c) for c in channels]
    mean_p = mean(source)
    cov_ip = [mean(c * source) - m * mean_p for c, m in zip(channels, mean_i, strict=True)]
    # Covariance of the guide's colours in each window (symmetric 3x3), regularised on the diagonal.
    rr, rg, rb, gg, gb, bb = (
        mean(channels[a] * channels[b]) - mean_i[a] * mean_i[b]
        for a, b in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
    )
    rr, gg, bb = rr + eps, gg + eps, bb + eps
    # Its inverse from the cofactors, all pixels at once (the matrix is positive definite, det > 0).
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    det = i_rr * rr + i_rg * rg + i_rb * rb
    cr, cg, cb = cov_ip
    a_r = (i_rr * cr + i_rg * cg + i_rb * cb) / det
    a_g = (i_rg * cr + i_gg * cg + i_gb * cb) / det
    a_b = (i_rb * cr + i_gb * cg + i_bb * cb) / det
    b = mean_p - a_r * mean_i[0] - a_g * mean_i[1] - a_b * mean_i[2]
    q = mean(a_r) * channels[0] + mean(a_g) * channels[1] + mean(a_b) * channels[2] + mean(b)
    return np.clip(q, 0.0, 1.0).astype(np.float32)
