"""The segmentation preview (overlay.png): the matte tinted over the photo, the chosen boxes with their phrases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from lib_garment.arrays import check_image
from lib_garment.maps.scale import scaled_size
from lib_garment.segment.boxes import PhraseDetection
from lib_garment.segment.geometry import pixel_box

TINT = (255, 40, 140)  # magenta: rare in garments and backgrounds, so the tint reads as "kept"
TINT_STRENGTH = 0.45
# One colour per phrase, in phrase order (RGB), distinct from the tint and from each other.
PALETTE = ((0, 200, 255), (255, 200, 0), (60, 220, 60), (255, 110, 30), (150, 110, 255), (240, 240, 240))


def overlay_image(
    image: np.ndarray,
    alpha: np.ndarray | None = None,
    detections: Iterable[PhraseDetection] = (),
    phrases: Sequence[str] | None = None,
    tint: tuple[int, int, int] = TINT,
    strength: float = TINT_STRENGTH,
) -> np.ndarray:
    """A preview (H, W, 3) uint8 RGB: ``image`` tinted by ``alpha`` and the detections' boxes drawn on it.

    ``alpha``: float in [0, 1], uint8 0..255 or bool, the image's size (None: no tint). Each box is drawn in its
    phrase's colour (``phrases`` fixes the order; otherwise first appearance) with "phrase score" above it.
    Line widths grow with the image (2 px at a 512 px short side).
    """
    image = check_image(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    if alpha is not None:
        weight = _unit_alpha(alpha, (height, width))[..., None] * np.float32(strength)
        out = out * (1 - weight) + np.asarray(tint, np.float32) * weight
    out = (out + 0.5).astype(np.uint8)

    detections = list(detections)
    order = list(phrases) if phrases is not None else []
    order += [d.phrase for d in detections if d.phrase not in order]
    thickness = scaled_size(2, height, width)
    font_scale = 0.25 * thickness + 0.25
    for detection in detections:
        colour = PALETTE[order.index(detection.phrase) % len(PALETTE)]
        col0, row0, col1, row1 = pixel_box(detection.box, width, height)
        if col1 <= col0 or row1 <= row0:
            continue  # wholly outside the photo
        cv2.rectangle(out, (col0, row0), (col1 - 1, row1 - 1), colour, thickness)
        _label(out, f"{detection.phrase} {detection.score:.2f}", (col0, row0), colour, font_scale, thickness)
    return out


def _label(
    canvas: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, ...], scale: float, thickness: int
) -> None:
    """Text on a filled band just above ``corner`` (inside the box when there is no room above)."""
    text = text.encode("ascii", "replace").decode()  # Hershey fonts draw ASCII only
    weight = max(1, thickness // 2)
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
    x, y = corner
    band_h = text_h + baseline + 2 * weight
    top = y - band_h if y - band_h >= 0 else y
    cv2.rectangle(canvas, (x, top), (x + text_w + 2 * weight, top + band_h), colour, cv2.FILLED)
    cv2.putText(
        canvas, text, (x + weight, top + text_h + weight), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), weight,
        cv2.LINE_AA,
    )  # fmt: skip


def _unit_alpha(alpha: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    alpha = np.asarray(alpha)
    if alpha.shape != shape:
        raise ValueError(f"alpha of shape {alpha.shape} for an image of shape {shape}")
    if alpha.dtype == np.bool_:
        return alpha.astype(np.float32)
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / np.float32(255)
    return np.clip(np.nan_to_num(alpha.astype(np.float32)), 0.0, 1.0)
