"""The framed image as the file a marketplace receives, in the preset's format, under its size limit if it can.

No ICC profile is embedded (read as sRGB everywhere). A lossy format cannot keep a plain background exact: JPEG
and WebP move the pixels next to the product off #FFFFFF, so a preset that requires every background pixel to be
exactly its colour is written as PNG when its formats rule accepts PNG (the report says why). JPEG is written
without chroma subsampling (4:4:4), so the product's colours at its edges stay as framed. JPEG and WebP start at
quality 95 and step down to 70 only when the preset's max_file_bytes asks for it; the quality used is reported.

The quality is the highest of 95, 90, …, 70 whose file fits (70 when none does). A file only grows with its
quality, so after 95 the others are searched by halves: at most 4 encodes instead of 6, and one when 95 fits (a
photographed product at 2000 x 2000 is far under the marketplaces' limits at 95; only noise-like pictures are not).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lib_garment.presets.schema import DEFAULT_MIN_SHARE, Preset

DEFAULT_FORMAT = "png"
_PILLOW_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF"}
_SUFFIXES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "tiff": ".tif"}
_QUALITIES = (95, 90, 85, 80, 75, 70)


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str
    quality: int | None
    note: str | None = None  # why the format is not the preset's canvas format

    @property
    def suffix(self) -> str:
        return _SUFFIXES[self.format]

    def describe(self) -> str:
        quality = f", quality {self.quality}" if self.quality is not None else ""
        why = f" ({self.note})" if self.note else ""
        return f"{self.format}{quality}, {len(self.data)} bytes{why}"


def output_format(preset: Preset) -> str:
    """The format the framed file is written in (see :func:`output_choice`)."""
    return output_choice(preset)[0]


def output_choice(preset: Preset) -> tuple[str, str | None]:
    """The canvas's format, else the first of a formats rule, else PNG; and why when a lossy canvas format gave
    way to PNG (a required exact background that the formats rule lets us keep exact)."""
    rules = preset.rules_of("formats")
    fmt = preset.canvas.format or (rules[0].value[0] if rules else DEFAULT_FORMAT)
    if fmt in ("jpeg", "webp") and _exact_background_required(preset) and _accepts(preset, "png"):
        return "png", f"not {fmt}: it would move background pixels next to the product off the required colour"
    return fmt, None


def _exact_background_required(preset: Preset) -> bool:
    return any(
        rule.severity == "required" and (DEFAULT_MIN_SHARE if rule.min_share is None else rule.min_share) >= 1.0
        for rule in preset.rules_of("background_colour")
    )


def _accepts(preset: Preset, fmt: str) -> bool:
    """Whether every formats rule of the preset accepts ``fmt`` (no such rule: nothing said, so no)."""
    rules = preset.rules_of("formats")
    return bool(rules) and all(fmt in rule.value for rule in rules)


def encode(image: np.ndarray, preset: Preset) -> Encoded:
    fmt, note = output_choice(preset)
    limit = min((rule.value for rule in preset.rules_of("max_file_bytes")), default=None)
    picture = Image.fromarray(np.ascontiguousarray(image))
    if fmt not in ("jpeg", "webp"):
        return Encoded(_save(picture, fmt), fmt, None, note)
    files: dict[int, bytes] = {}

    def fits(index: int) -> bool:
        quality = _QUALITIES[index]
        if quality not in files:
            files[quality] = _save(picture, fmt, quality)
        return limit is None or len(files[quality]) <= limit

    # The first quality that fits, as trying them in order would find it: low is the first candidate left, and
    # every quality above it has been found too large.
    low, high = 0, len(_QUALITIES) - 1
    if not fits(0):
        low = 1
        while low < high:
            middle = (low + high) // 2
            if fits(middle):
                high = middle
            else:
                low = middle + 1
        fits(low)  # encoded already unless it is the last, 70, which is kept even when too large
    quality = _QUALITIES[low]
    return Encoded(files[quality], fmt, quality, note)


def png(image: np.ndarray) -> Encoded:
    """``image`` as a PNG file (lossless, no ICC profile): what a result without a preset's format is."""
    return Encoded(_save(Image.fromarray(np.ascontiguousarray(image)), "png"), "png", None)


def _save(picture: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if fmt == "jpeg":
        options = {"quality": quality, "subsampling": 0}
    elif fmt == "webp":
        options = {"quality": quality, "method": 4}
    picture.save(buffer, format=_PILLOW_NAMES[fmt], **options)
    return buffer.getvalue()
