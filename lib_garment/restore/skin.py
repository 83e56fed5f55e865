"""The skin inside a detection, as a matte: what is regenerated and blended back.

1. **Skin mask** inside the detection box only (everything outside the box is never skin here):
   - ``colour`` (no weights): a pixel is skin when its YCrCb chroma lies in Chai & Ngan's range (Cr 133..173,
     Cb 77..127, with Y at least ``y_min``) and/or (``combine``) its hue, saturation and value lie in the skin
     ranges (OpenCV's H 0..25 or 165..179, i.e. 0..50° or 330..360°);
   - a :class:`SkinModel` (e.g. :class:`~lib_garment.restore.skin_model.FcnSkinModel`): its probability at
     least ``threshold``.

   Then a morphological clean-up scaled to the box: opening (removes speckle), closing (bridges thin gaps),
   components under ``min_component`` of the box's area dropped, and holes filled (eyes, mouth, a ring: the
   regenerated region is the whole face or hand, not its skin-coloured pixels only).
2. **Trimap and matte** as for the garment (:mod:`lib_garment.segment.trimap`, :mod:`lib_garment.segment.matte`):
   a trimap around the mask's edge, refined by a :class:`~lib_garment.segment.pipeline.MatteModel` (ViTMatte)
   when one is given, else by the guided-filter ``classic`` matte, or kept hard (``none``).
3. The matte is confined to the box: exactly 0 outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.errors import BadInput, GarmentError
from lib_garment.restore.boxes import Box, box_mask, box_pixels
from lib_garment.segment.matte import classic_alpha, finish_alpha, mask_alpha
from lib_garment.segment.pipeline import MatteModel
from lib_garment.segment.trimap import make_trimap
from lib_garment.segment.trimap import trimap_radius as default_trimap_radius

Combine = Literal["both", "either", "ycrcb", "hsv"]
COMBINES: tuple[Combine, ...] = ("both", "either", "ycrcb", "hsv")
SkinMatteMethod = Literal["model", "classic", "none"]
SKIN_MATTE_METHODS: tuple[SkinMatteMethod, ...] = ("model", "classic", "none")


class SkinModel(Protocol):
    """A skin segmentation model: called with a (H, W, 3) uint8 RGB crop, returns the (H, W) skin probability
    as floats in [0, 1]."""

    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


def _pair(name: str, value: tuple[int, int], top: int) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError) as err:
        raise BadInput(f"{name} must be two whole numbers (low, high), got {value!r}") from err
    if not 0 <= low <= high <= top:
        raise BadInput(f"{name} must satisfy 0 <= low <= high <= {top}, got {value!r}")
    return low, high


@dataclass(frozen=True)
class SkinParams:
    """The colour rules (8-bit OpenCV units) and the clean-up.

    ``cr``/``cb``: YCrCb chroma ranges; ``y_min``: the least luma. ``hue_low``/``hue_high``: hue ranges (OpenCV
    H is degrees / 2); ``saturation``/``value``: S and V ranges. ``combine``: ``both`` rules (fewest false
    positives), ``either``, or one of them. ``open_fraction``/``close_fraction``: the structuring discs'
    radii as shares of the box's shorter side (at least 1 px). ``min_component``: the least component area as a
    share of the box's area. ``fill_holes``: fill holes enclosed by skin. ``threshold``: a model's cut.
    """

    cr: tuple[int, int] = (133, 173)
    cb: tuple[int, int] = (77, 127)
    y_min: int = 40
    hue_low: tuple[int, int] = (0, 25)
    hue_high: tuple[int, int] = (165, 179)
    saturation: tuple[int, int] = (30, 200)
    value: tuple[int, int] = (50, 255)
    combine: Combine = "both"
    open_fraction: float = 0.02
    close_fraction: float = 0.05
    min_component: float = 0.02
    fill_holes: bool = True
    threshold: float = 0.5

    def __post_init__(self) -> None:
        for name, top in (("cr", 255), ("cb", 255), ("hue_low", 179), ("hue_high", 179)):
            object.__setattr__(self, name, _pair(name, getattr(self, name), top))
        for name in ("saturation", "value"):
            object.__setattr__(self, name, _pair(name, getattr(self, name), 255))
        if not isinstance(self.y_min, int) or not 0 <= self.y_min <= 255:
            raise BadInput(f"y_min must be a whole number within 0..255, got {self.y_min!r}")
        if self.combine not in COMBINES:
            raise BadInput(f"skin combine must be one of {', '.join(COMBINES)}, got {self.combine!r}")
        for name in ("open_fraction", "close_fraction", "min_component"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 0.5:
                raise BadInput(f"{name} must be within 0..0.5, got {value!r}")
        if not isinstance(self.threshold, int | float) or not 0.0 < self.threshold < 1.0:
            raise BadInput(f"skin threshold must be within (0, 1), got {self.threshold!r}")


DEFAULT_SKIN = SkinParams()


# -- the mask -------------------------------------------------------------------------------------------------------


def colour_skin(image: np.ndarray, params: SkinParams = DEFAULT_SKIN) -> np.ndarray:
    """(H, W) bool: the colour rules alone, over the whole image (no box, no clean-up)."""
    image = check_rgb(image)
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    by_chroma = (
        (y >= params.y_min) & (cr >= params.cr[0]) & (cr <= params.cr[1]) & (cb >= params.cb[0]) & (cb <= params.cb[1])
    )
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # H 0..179
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hue = ((h >= params.hue_low[0]) & (h <= params.hue_low[1])) | (
        (h >= params.hue_high[0]) & (h <= params.hue_high[1])
    )
    by_hsv = (
        hue
        & (s >= params.saturation[0])
        & (s <= params.saturation[1])
        & (v >= params.value[0])
        & (v <= params.value[1])
    )
    if params.combine == "both":
        return by_chroma & by_hsv
    if params.combine == "either":
        return by_chroma | by_hsv
    return by_chroma if params.combine == "ycrcb" else by_hsv


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def clean_skin(mask: np.ndarray, box: Box, params: SkinParams = DEFAULT_SKIN) -> np.ndarray:
    """The raw skin pixels cleaned within the box (see the module docstring); (H, W) bool, False outside."""
    shape = mask.shape
    left, top, right, bottom = box_pixels(box, shape)
    out = np.zeros(shape, bool)
    if right <= left or bottom <= top:
        return out
    # Work on the box alone: nothing outside it can be skin, and the box is the scale of the clean-up.
    inner = np.ascontiguousarray(mask[top:bottom, left:right]).astype(np.uint8)
    short = min(right - left, bottom - top)
    open_r = max(1, round(params.open_fraction * short)) if params.open_fraction > 0 else 0
    close_r = max(1, round(params.close_fraction * short)) if params.close_fraction > 0 else 0
    if open_r:
        inner = cv2.morphologyEx(inner, cv2.MORPH_OPEN, _disc(open_r))
    if close_r:
        # Padded with background so that closing does not glue skin to the box's edges.
        padded = cv2.copyMakeBorder(inner, close_r, close_r, close_r, close_r, cv2.BORDER_CONSTANT, value=0)
        padded = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, _disc(close_r))
        inner = padded[close_r:-close_r, close_r:-close_r]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inner, connectivity=8)
    least = params.min_component * inner.size
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(least, 1)
    skin = keep[labels]
    if params.fill_holes and skin.any():
        skin = _fill_holes(skin)
    out[top:bottom, left:right] = skin
    return out


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background component that does not touch the frame made foreground."""
    background = (~mask).astype(np.uint8)
    count, labels = cv2.connectedComponents(background, connectivity=4)
    touching = np.zeros(count, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touching[edge] = True
    holes = ~touching[labels] & (labels > 0)
    return mask | holes


def skin_mask(
    image: np.ndarray, box: Box, params: SkinParams = DEFAULT_SKIN, model: SkinModel | None = None
) -> np.ndarray:
    """(H, W) bool skin inside ``box`` of ``image`` (a crop), by colour or by ``model``, cleaned."""
    image = check_rgb(image)
    if model is None:
        # Only the box can hold skin: the colour rules need not look anywhere else.
        left, top, right, bottom = box_pixels(box, image.shape[:2])
        raw = np.zeros(image.shape[:2], bool)
        if right > left and bottom > top:
            raw[top:bottom, left:right] = colour_skin(image[top:bottom, left:right], params)
    else:
        probability = np.asarray(model(image))
        if probability.shape != image.shape[:2]:
            raise GarmentError(
                f"skin model {getattr(model, 'name', '?')} returned shape {probability.shape} "
                f"for a {image.shape[1]}x{image.shape[0]} crop"
            )
        if not np.isfinite(probability).all():
            raise GarmentError(f"skin model {getattr(model, 'name', '?')} returned NaN or infinite values")
        raw = probability >= params.threshold
    return clean_skin(raw & box_mask(box, image.shape[:2]), box, params)


# -- the matte ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SkinMatte:
    """``alpha``: (H, W) float32 in [0, 1], 0 outside the box; ``mask``: the cleaned skin (bool); ``trimap``:
    uint8 {0, 128, 255} (all 0 when there is no skin); ``method``: what refined it; ``note``: why, if not
    the one asked for."""

    alpha: np.ndarray
    mask: np.ndarray
    trimap: np.ndarray
    method: SkinMatteMethod
    note: str = ""

    @property
    def empty(self) -> bool:
        return not bool(self.alpha.any())


def skin_matte(
    image: np.ndarray,
    box: Box,
    mask: np.ndarray,
    *,
    method: SkinMatteMethod = "classic",
    matte_model: MatteModel | None = None,
    trimap_radius: int | None = None,
) -> SkinMatte:
    """The matte of ``mask`` (skin inside ``box`` of the crop ``image``), confined to the box.

    ``method``: ``model`` uses ``matte_model`` (ViTMatte through the segment module's protocol; without one it
    falls back to ``classic`` and says so), ``classic`` the guided filter, ``none`` the hard mask.
    ``trimap_radius``: the unknown band's half-width in crop pixels (None: 1 % of the crop's short side).
    """
    image = check_rgb(image)
    if method not in SKIN_MATTE_METHODS:
        raise BadInput(f"skin matte method must be one of {', '.join(SKIN_MATTE_METHODS)}, got {method!r}")
    if trimap_radius is not None and (not isinstance(trimap_radius, int) or trimap_radius < 1):
        raise BadInput(f"skin trimap radius must be a whole number of pixels >= 1, got {trimap_radius!r}")
    if mask.shape != image.shape[:2]:
        raise BadInput(f"skin mask {mask.shape} and crop {image.shape[:2]} differ in size")
    inside = box_mask(box, image.shape[:2])
    solid = np.asarray(mask, bool) & inside
    if not solid.any():
        zeros = np.zeros(image.shape[:2], np.float32)
        return SkinMatte(zeros, solid, np.zeros(image.shape[:2], np.uint8), method, "no skin found in the box")
    # The trimap and the matte are computed on a window around the box that holds everything they can reach
    # (the band k px out of the mask, the guided filter's 2r beyond it), with k and r those of the whole crop:
    # the result is the whole-crop computation's, for a fraction of the pixels.
    height, width = image.shape[:2]
    k = trimap_radius if trimap_radius is not None else default_trimap_radius(height, width)
    left, top, right, bottom = box_pixels(box, (height, width))
    reach = 3 * k + 4
    x0, y0 = max(left - reach, 0), max(top - reach, 0)
    x1, y1 = min(right + reach, width), min(bottom + reach, height)
    window = np.s_[y0:y1, x0:x1]
    trimap = np.zeros((height, width), np.uint8)
    trimap[window] = make_trimap(solid[window], k)
    note = ""
    if method == "model" and matte_model is None:
        method, note = "classic", "no matting model given: classic matte"
    if method == "model":
        assert matte_model is not None
        alpha = finish_alpha(np.asarray(matte_model(image, trimap)), trimap)
    else:
        alpha = np.zeros((height, width), np.float32)
        if method == "classic":
            sub = np.ascontiguousarray(image[window])
            alpha[window] = classic_alpha(sub, trimap[window], solid[window], k)
        else:
            alpha[window] = mask_alpha(solid[window])
    alpha[~inside] = 0.0
    return SkinMatte(alpha, solid, trimap, method, note)
