"""Reading the files maps start from, and writing maps so that no reader ever sees half a file."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lib_garment.errors import BadInput

_READ_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def read_image(path: str | Path) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB, upright; BadInput when missing or unreadable."""
    image = _open(path, "image")
    if image.mode.startswith("I"):  # 16/32-bit gray: keep the top 8 bits of 16
        return np.repeat(_wide_to_uint8(np.asarray(image))[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


def read_mask(path: str | Path) -> np.ndarray:
    """A mask as (H, W) uint8 0..255: the alpha channel of a cut-out (when it has any transparency), else gray."""
    image = _open(path, "mask")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            return np.ascontiguousarray(alpha)
    if image.mode.startswith("I"):
        return _wide_to_uint8(np.asarray(image))
    return np.asarray(image.convert("L"))


def read_depth_pixels(path: str | Path) -> np.ndarray:
    """A depth image's pixels without losing precision: (H, W) at its own bit depth, or (H, W, 3) uint8 RGB."""
    image = _open(path, "depth map")
    if image.mode in ("L", "F") or image.mode.startswith("I"):
        return np.asarray(image)
    if image.mode == "LA":
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGB"))


def image_size(array: np.ndarray) -> tuple[int, int]:
    """(width, height) of an image array."""
    return array.shape[1], array.shape[0]


def write_png(path: str | Path, array: np.ndarray) -> Path:
    """Save a uint8 (H, W) or (H, W, 3) array as PNG, atomically."""
    picture = Image.fromarray(np.ascontiguousarray(array))
    return _write_atomic(Path(path), lambda fh: picture.save(fh, format="PNG"))


def write_json(path: str | Path, data: Any) -> Path:
    """Save ``data`` as indented UTF-8 JSON, atomically."""
    text = json.dumps(data, indent=1).encode("utf-8") + b"\n"
    return _write_atomic(Path(path), lambda fh: fh.write(text))


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    # A hidden temporary in the same folder, renamed over the target once complete: the rename is atomic, so
    # the target is either the old file or the whole new one. O_EXCL with mode 0o666 honours the umask.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return path


def _open(path: str | Path, what: str) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            # Phones record rotation in EXIF and the WebUI shows photos upright; maps must match what it shows.
            return ImageOps.exif_transpose(image)
    except _READ_ERRORS as err:
        raise BadInput(f"cannot read {what} {path}: {err}") from err


def _wide_to_uint8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0, 65535) >> 8).astype(np.uint8) if values.max() > 255 else values.astype(np.uint8)
