"""Images in and out of the WebUI's API: base64 (bare or data URL) ↔ PIL / arrays, with clear messages."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
from PIL import Image

from lib_garment.errors import BadInput
from lib_garment.imageio import open_bytes


def decode_base64(data: str, field: str) -> bytes:
    """A base64 string (bare or ``data:...;base64,``) as its bytes; BadInput naming ``field``."""
    if not isinstance(data, str) or not data.strip():
        raise BadInput(f"{field}: expected a base64-encoded image")
    text = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"{field}: not valid base64") from None


def decode_image(data: str, field: str) -> Image.Image:
    """A base64 string (bare or ``data:image/...;base64,``) as a PIL image; BadInput naming ``field``."""
    return open_bytes(decode_base64(data, field), field)


def encode_png(image: Any) -> str:
    """A PIL image or uint8 array as bare base64 PNG (what /sdapi/v1 returns)."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
