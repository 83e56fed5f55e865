"""Images in and out of the WebUI's API: base64 (bare or data URL) ↔ PIL / arrays, with clear messages; arrays a PNG
would round off (a float matte) exactly, as compressed bytes."""

from __future__ import annotations

import base64
import binascii
import io
import zlib
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


ARRAY_DTYPES = ("float32", "uint8")  # what an array in an answer may hold: a matte, a depth map


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """An array exactly, for JSON: ``{"dtype", "shape", "data"}``, data the base64 of its zlib-compressed
    little-endian bytes in row order. For what a PNG would round off: a float matte (mostly 0 and 1, so it
    compresses to a small fraction of its 4 bytes a pixel)."""
    found = np.asarray(array)
    if found.dtype.name not in ARRAY_DTYPES:
        raise ValueError(f"an array of {found.dtype} cannot be sent; {', '.join(ARRAY_DTYPES)} can")
    data = np.ascontiguousarray(found, dtype=found.dtype.newbyteorder("<")).tobytes()
    return {
        "dtype": found.dtype.name,
        "shape": list(found.shape),
        "data": base64.b64encode(zlib.compress(data, 6)).decode("ascii"),
    }


def decode_array(value: Any, field: str) -> np.ndarray:
    """What :func:`encode_array` made, checked (dtype, shape, exactly the bytes the shape needs); BadInput
    naming ``field`` otherwise. The size is bounded by the shape, so a small message cannot expand without end."""
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data"}:
        raise BadInput(f"{field}: expected an array as {{dtype, shape, data}}")
    dtype, shape = value["dtype"], value["shape"]
    if dtype not in ARRAY_DTYPES:
        raise BadInput(f"{field}: dtype {dtype!r} is not one of {', '.join(ARRAY_DTYPES)}")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 3
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise BadInput(f"{field}: shape must be 1 to 3 positive whole numbers, got {shape!r}")
    kind = np.dtype(dtype).newbyteorder("<")
    size = int(np.prod(shape)) * kind.itemsize
    inflate = zlib.decompressobj()
    try:
        data = inflate.decompress(decode_base64(value["data"], field), size + 1)
    except zlib.error:
        raise BadInput(f"{field}: the data is not zlib-compressed") from None
    if len(data) != size or inflate.unconsumed_tail or not inflate.eof:
        raise BadInput(f"{field}: the data does not hold {'x'.join(map(str, shape))} values of {dtype}")
    return np.frombuffer(data, dtype=kind).reshape(shape).astype(dtype)
