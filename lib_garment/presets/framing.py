"""Put the product on the preset's canvas: canvas size, fill of the product's tight box, margins, anchor.

The product's tight box is the bounding box of α ≥ 0.5. Fill is max(box width ÷ canvas width, box height ÷
canvas height), which on a square canvas is "the box's longer side ÷ the canvas side" of the preset files.

When the product must be scaled it is resampled once, with Lanczos (OpenCV's 8×8 kernel), image and matte by
the same transform; the placement says so. When it need not be scaled, it is moved by whole pixels only, so
every α = 1 pixel is the photographed one, bit for bit. Upscaling is allowed up to ×2 (MAX_UPSCALE): beyond
that a product would be visibly soft, so a photo that small is refused before anything is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.presets.background import plain
from lib_garment.presets.schema import Preset

MAX_UPSCALE = 2.0
RESAMPLING = "Lanczos"
_LANCZOS = cv2.INTER_LANCZOS4
_PAD = 4  # Lanczos4 reads 4 px around each sample: crops keep that much context


@dataclass(frozen=True)
class PixelBox:
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def box_of(mask: np.ndarray) -> PixelBox | None:
    """The bounding box of the True pixels, or None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return PixelBox(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def tight_box(alpha: np.ndarray) -> PixelBox:
    box = box_of(np.asarray(alpha) >= 0.5)
    if box is None:
        raise BadInput("no product to frame: the matte has no pixel with alpha ≥ 0.5")
    return box


def fill_of(box: PixelBox, width: int, height: int) -> float:
    return max(box.width / width, box.height / height)


def canvas_size(preset: Preset, image_width: int, image_height: int) -> tuple[int, int]:
    """The canvas: the preset's width and height; one of them alone takes the other from the aspect rule (else a
    square); neither: the image's width, and its height unless an aspect rule says otherwise."""
    width, height = preset.canvas.width, preset.canvas.height
    aspects = preset.rules_of("aspect")
    ratio = None
    if aspects:
        w, h = (int(part) for part in aspects[0].value.split(":"))
        ratio = w / h
    if width and height:
        return width, height
    if width:
        return width, round(width / ratio) if ratio else width
    if height:
        return round(height * ratio) if ratio else height, height
    return image_width, round(image_width / ratio) if ratio else image_height


def fill_limits(preset: Preset) -> tuple[float, float]:
    """The fills every min_fill, max_fill and min_margin rule allows (all severities: framing aims inside)."""
    low = max((rule.value for rule in preset.rules_of("min_fill")), default=0.0)
    high = min((rule.value for rule in preset.rules_of("max_fill")), default=1.0)
    margin = max((rule.value for rule in preset.rules_of("min_margin")), default=0.0)
    return low, min(high, 1.0 - 2.0 * margin)


@dataclass(frozen=True)
class Placement:
    """Where the product went: canvas size, scale, the canvas position of its tight box, and notes."""

    width: int
    height: int
    scale: float
    box: PixelBox  # the product's tight box on the canvas
    notes: tuple[str, ...]

    @property
    def scaled(self) -> bool:
        return self.scale != 1.0

    def describe(self) -> str:
        if not self.scaled:
            return "not scaled: moved by whole pixels, every alpha = 1 pixel as photographed (in a lossless file)"
        return f"scaled ×{self.scale:.2f}, {RESAMPLING}"

    def to_json(self) -> dict[str, object]:
        return {
            "canvas": [self.width, self.height],
            "scale": self.scale,
            "resampling": RESAMPLING if self.scaled else None,
            "product_box": [self.box.x0, self.box.y0, self.box.x1, self.box.y1],
            "fill": fill_of(self.box, self.width, self.height),
            "described": self.describe(),
        }


@dataclass(frozen=True)
class Framed:
    """The framed layer: ``image`` (the placed pixels over ``fill`` colour), ``alpha`` on the canvas, and
    ``covered``, where the source reached (False: the fill colour)."""

    image: np.ndarray
    alpha: np.ndarray
    covered: np.ndarray
    placement: Placement


def target_fill(preset: Preset, current: float) -> tuple[float, list[str]]:
    """The fill to aim at: the canvas's, else the current one brought inside the fill rules."""
    low, high = fill_limits(preset)
    notes = []
    if low > high:
        notes.append(f"the preset's fill rules contradict each other (at least {low:g}, at most {high:g})")
    wanted = preset.canvas.fill if preset.canvas.fill is not None else current
    target = min(max(wanted, low), high)
    if preset.canvas.fill is not None and target != preset.canvas.fill:
        notes.append(f"canvas fill {preset.canvas.fill:g} is outside the fill rules: aiming at {target:g}")
    return target, notes


def frame(
    image: np.ndarray, alpha: np.ndarray, preset: Preset, fill_rgb: tuple[int, int, int], *, scene: bool
) -> Framed:
    """Place ``image`` (with its matte ``alpha``) on the preset's canvas.

    ``scene`` False: only the product is placed (its support, α > 0); True: the whole picture around it moves
    with it (a generated scene), and what the scene does not cover is ``fill_rgb``.
    """
    height, width = alpha.shape
    box = tight_box(alpha)
    canvas_w, canvas_h = canvas_size(preset, width, height)
    binding_width = box.width / canvas_w >= box.height / canvas_h
    side, extent = (canvas_w, box.width) if binding_width else (canvas_h, box.height)
    target, notes = target_fill(preset, fill_of(box, canvas_w, canvas_h))
    low, high = fill_limits(preset)
    # Whole pixels: the fill is measured on pixels, so aim at a pixel count inside the rules' limits.
    target_px = min(max(round(target * side), math.ceil(low * side - 1e-9)), math.floor(high * side + 1e-9))
    target_px = max(target_px, 1)
    scale = 1.0 if target_px == extent else target_px / extent
    if scale > MAX_UPSCALE:
        raise BadInput(
            f"the photo is too small for preset {preset.name}: its product is {box.width}x{box.height} px and "
            f"filling {target:.0%} of the {canvas_w}x{canvas_h} canvas needs ×{scale:.2f}, more than the "
            f"×{MAX_UPSCALE:g} Garment Studio allows (upscaling beyond it blurs the product); use a larger photo"
        )
    window = _window(alpha, box, scale, canvas_w, canvas_h, scene)
    crop_image = image[window.y0 : window.y1, window.x0 : window.x1]
    crop_alpha = alpha[window.y0 : window.y1, window.x0 : window.x1]
    if scale != 1.0:
        scale, crop_alpha = _fit_scale(crop_alpha, scale, target_px, binding_width)
        size = _scaled_size(crop_alpha.shape[1::-1], 1.0)
        crop_image = cv2.resize(crop_image, size, interpolation=_LANCZOS)  # a view: OpenCV reads its strides
    placed_box = tight_box(crop_alpha)
    offset_x, offset_y = _offset(placed_box, canvas_w, canvas_h, preset)
    canvas_image = plain(canvas_w, canvas_h, fill_rgb)
    canvas_alpha = np.zeros((canvas_h, canvas_w), np.float32)
    covered = np.zeros((canvas_h, canvas_w), bool)
    src, dst = _overlap(crop_alpha.shape, offset_x, offset_y, canvas_w, canvas_h)
    canvas_image[dst] = crop_image[src]
    canvas_alpha[dst] = crop_alpha[src]
    covered[dst] = True
    if scene and not covered.all():
        notes.append(f"the scene covers {covered.mean():.1%} of the canvas; the rest is the background colour")
    on_canvas = PixelBox(
        placed_box.x0 + offset_x, placed_box.y0 + offset_y, placed_box.x1 + offset_x, placed_box.y1 + offset_y
    )
    placement = Placement(canvas_w, canvas_h, scale, on_canvas, tuple(notes))
    return Framed(canvas_image, canvas_alpha, covered, placement)


def _window(alpha: np.ndarray, box: PixelBox, scale: float, canvas_w: int, canvas_h: int, scene: bool) -> PixelBox:
    """The part of the source that can reach the canvas, with Lanczos' context around it."""
    height, width = alpha.shape
    if scene:
        reach_x, reach_y = math.ceil(canvas_w / scale), math.ceil(canvas_h / scale)
        area = PixelBox(box.x0 - reach_x, box.y0 - reach_y, box.x1 + reach_x, box.y1 + reach_y)
    else:
        area = box_of(alpha > 0) or box
    pad = 0 if scale == 1.0 else _PAD
    return PixelBox(max(area.x0 - pad, 0), max(area.y0 - pad, 0), min(area.x1 + pad, width), min(area.y1 + pad, height))


def _scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _fit_scale(alpha: np.ndarray, scale: float, target_px: int, binding_width: bool) -> tuple[float, np.ndarray]:
    """The scale whose resampled matte's tight box spans ``target_px`` (rounding and the kernel may miss it by a
    pixel), and that matte: the output sizes around the estimate are tried on the matte alone, so the image is
    still resampled once, at the scale found."""
    side = alpha.shape[1] if binding_width else alpha.shape[0]
    estimate = round(side * scale)
    best: tuple[int, float, np.ndarray] | None = None
    for step in (0, -1, 1, -2, 2, -3, 3, -4, 4):
        size = max(1, estimate + step)
        trial = size / side
        scaled = _snap(cv2.resize(alpha, _scaled_size(alpha.shape[1::-1], trial), interpolation=_LANCZOS))
        box = box_of(scaled >= 0.5)
        extent = 0 if box is None else (box.width if binding_width else box.height)
        if best is None or abs(extent - target_px) < best[0]:
            best = (abs(extent - target_px), trial, scaled)
        if extent == target_px:
            break
    assert best is not None  # the loop runs at least once
    return best[1], best[2]


def _snap(alpha: np.ndarray) -> np.ndarray:
    """The kernel's ringing and float32 sums leave 0.99999 inside and 1e-6 outside the product: those are the
    product's and the background's own pixels, not a soft edge."""
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[alpha > 1.0 - 1e-3] = 1.0
    alpha[alpha < 1e-3] = 0.0
    return alpha


def _offset(box: PixelBox, canvas_w: int, canvas_h: int, preset: Preset) -> tuple[int, int]:
    """Where the layer's top-left goes so that its tight box sits at the anchor. ``bottom``: centred across,
    as far from the bottom edge as from the sides (at least the min_margin rule's share)."""
    left = (canvas_w - box.width) // 2
    if preset.canvas.anchor == "bottom":
        margin = max((rule.value for rule in preset.rules_of("min_margin")), default=0.0)
        gap = min(max(left, math.ceil(margin * canvas_h)), max(canvas_h - box.height, 0))
        top = canvas_h - box.height - gap
    else:
        top = (canvas_h - box.height) // 2
    return left - box.x0, top - box.y0


def _overlap(
    shape: tuple[int, ...], offset_x: int, offset_y: int, canvas_w: int, canvas_h: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Source and canvas slices of a (h, w) layer placed at (offset_x, offset_y), clipped to the canvas."""
    height, width = shape[:2]
    x0, y0 = max(offset_x, 0), max(offset_y, 0)
    x1, y1 = min(offset_x + width, canvas_w), min(offset_y + height, canvas_h)
    src = (slice(y0 - offset_y, y1 - offset_y), slice(x0 - offset_x, x1 - offset_x))
    return src, (slice(y0, y1), slice(x0, x1))
