"""The framed image as the file a marketplace receives, in the preset's format, under its size limit if it can.

No ICC profile is embedded (read as sRGB everywhere). JPEG is written without chroma subsampling (4:4:4), so
the product's colours at its edges stay as framed. JPEG and WebP start at quality 95 and step down to 70 only
when the preset's max_file_bytes asks for it; the quality used is reported.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lib_garment.presets.schema import Preset

DEFAULT_FORMAT = "png"
_PILLOW_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF"}
_SUFFIXES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "tiff": ".tif"}
_QUALITIES = (95, 90, 85, 80, 75, 70)


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str
    quality: int | None

    @property
    def suffix(self) -> str:
        return _SUFFIXES[self.format]

    def describe(self) -> str:
        quality = f", quality {self.quality}" if self.quality is not None else ""
        return f"{self.format}{quality}, {len(self.data)} bytes"


def output_format(preset: Preset) -> str:
    """The canvas's format, else the first of a formats rule, else PNG."""
    if preset.canvas.format:
        return preset.canvas.format
    rules = preset.rules_of("formats")
    return rules[0].value[0] if rules else DEFAULT_FORMAT


def encode(image: np.ndarray, preset: Preset) -> Encoded:
    fmt = output_format(preset)
    limit = min((rule.value for rule in preset.rules_of("max_file_bytes")), default=None)
    picture = Image.fromarray(np.ascontiguousarray(image))
    if fmt not in ("jpeg", "webp"):
        return Encoded(_save(picture, fmt), fmt, None)
    data, quality = b"", _QUALITIES[0]
    for quality in _QUALITIES:
        data = _save(picture, fmt, quality)
        if limit is None or len(data) <= limit:
            break
    return Encoded(data, fmt, quality)


def _save(picture: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if fmt == "jpeg":
        options = {"quality": quality, "subsampling": 0}
    elif fmt == "webp":
        options = {"quality": quality, "method": 4}
    picture.save(buffer, format=_PILLOW_NAMES[fmt], **options)
    return buffer.getvalue()
