"""``modules.masking``: crop regions for "Only masked" inpaint (host-contract §3.5)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


def get_crop_region_v2(mask: Any, pad: int = 0) -> tuple[int, int, int, int] | None:
    """Bounding box of the non-zero mask pixels, grown by ``pad`` and clipped; ``None`` for a blank mask."""
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(mask)
    box = mask.getbbox()
    if not box:
        return None
    if not pad:
        return box
    x1, y1, x2, y2 = box
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, mask.size[0]), min(y2 + pad, mask.size[1])


def get_crop_region(mask: Any, pad: int = 0) -> tuple[int, int, int, int]:
    """Like v2, but a blank mask gives an inverted (empty) box instead of ``None``."""
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(mask)
    box = get_crop_region_v2(mask, pad)
    if box:
        return box
    w, h = mask.size
    return max(w - pad, 0), max(h - pad, 0), min(pad, w), min(pad, h)


def _grow(lo: int, hi: int, desired: float, limit: int) -> tuple[int, int]:
    diff = int(desired - (hi - lo))
    lo -= diff // 2
    hi += diff - diff // 2
    if hi >= limit:
        lo -= hi - limit
        hi = limit
    if lo < 0:
        hi -= lo
        lo = 0
    return lo, min(hi, limit)


def expand_crop_region(
    crop_region: tuple[int, int, int, int],
    processing_width: int,
    processing_height: int,
    image_width: int,
    image_height: int,
) -> tuple[int, int, int, int]:
    """Grow the region on its short side so it has the processing size's aspect ratio, kept inside the image."""
    x1, y1, x2, y2 = crop_region
    ratio_crop = (x2 - x1) / (y2 - y1)
    ratio_processing = processing_width / processing_height
    if ratio_crop > ratio_processing:
        y1, y2 = _grow(y1, y2, (x2 - x1) / ratio_processing, image_height)
    else:
        x1, x2 = _grow(x1, x2, (y2 - y1) * ratio_processing, image_width)
    return x1, y1, x2, y2


def fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """ "fill" masked content: the double paints the masked area with the mean colour of the rest (the WebUI
    smears blurred surroundings in; only the idea, not the pixels, is kept)."""
    arr = np.asarray(image.convert("RGB")).astype(np.float32)
    m = np.asarray(mask.convert("L").resize(image.size)) > 127
    if m.all() or not m.any():
        return image.convert("RGB")
    arr[m] = arr[~m].mean(axis=0)
    return Image.fromarray(arr.astype(np.uint8))
