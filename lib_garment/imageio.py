"""The one reader for every picture the engine starts from (photos, masks, depth maps) and atomic writes.

Every input passes the same limits before anything is decoded or any model runs: file size, pixel count
(from the header, so a decompression bomb is refused without allocating it), a known format, at least one
pixel, and a complete file. Failures are :class:`BadInput` with a message naming the file and the limit.
Pictures the WebUI hands over already decoded (PIL images) pass the same pixel limits through
:func:`image_to_rgb` and :func:`image_to_mask`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import struct
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lib_garment.errors import BadInput

# What photos, masks and depth maps arrive as. Others are refused before a plugin parses them (EPS, for one,
# would start Ghostscript). JPEG includes MPO, what many cameras and phones write as .jpg.
SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
_FORMAT_NAMES = "PNG, JPEG, WebP, TIFF, BMP or GIF"

_READ_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


MAX_PIXELS_ENV = "GARMENT_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 2**27


def _max_pixels_from_env() -> int:
    """``GARMENT_MAX_PIXELS`` when it is a whole number >= 1, else the default (a bad value is warned about,
    not raised: it is read when the WebUI loads the extension, and must not stop the WebUI)."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        pixels = int(value)
    except ValueError:
        pixels = 0
    if pixels < 1:
        warnings.warn(
            f"{MAX_PIXELS_ENV}={value!r} is not a whole number of pixels >= 1; using {DEFAULT_MAX_PIXELS}",
            stacklevel=2,
        )
        return DEFAULT_MAX_PIXELS
    return pixels


@dataclass(frozen=True)
class ImageLimits:
    """What the engine accepts. ``max_pixels``: width x height of one picture (the default, 2**27 ≈ 134 MP,
    takes 100-MP camera files and refuses what would need gigabytes per working copy; the environment
    variable ``GARMENT_MAX_PIXELS``, read when the limits are made, raises or lowers it). ``max_file_bytes``:
    the file's size on disk."""

    max_pixels: int = field(default_factory=_max_pixels_from_env)
    max_file_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        if self.max_pixels < 1 or self.max_file_bytes < 1:
            raise ValueError(f"image limits must be positive, got {self}")


DEFAULT_LIMITS = ImageLimits()


def check_pixel_count(width: int, height: int, what: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> None:
    """BadInput unless a width x height picture has at least one pixel and at most ``limits.max_pixels``."""
    if width < 1 or height < 1:
        raise BadInput(f"{what} has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise BadInput(
            f"{what} is {width}x{height} = {width * height / 1e6:.1f} megapixels, more than the limit of "
            f"{limits.max_pixels / 1e6:.1f} megapixels; scale it down first, or raise the limit by setting "
            f"{MAX_PIXELS_ENV} (a number of pixels, now {limits.max_pixels}) before starting"
        )


def check_array_size(array: np.ndarray, what: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> None:
    """:func:`check_pixel_count` for an (H, W, ...) array."""
    if array.ndim < 2:
        raise BadInput(f"{what} must be at least 2-D, got shape {array.shape}")
    check_pixel_count(array.shape[1], array.shape[0], what, limits)


def check_same_size(image: np.ndarray, mask: np.ndarray, what: str = "mask") -> None:
    """BadInput unless ``mask`` covers ``image`` pixel for pixel (no resizing is ever guessed)."""
    if mask.shape[:2] != image.shape[:2]:
        raise BadInput(
            f"{what} is {mask.shape[1]}x{mask.shape[0]} but the image is {image.shape[1]}x{image.shape[0]}; "
            "they must have the same size"
        )


def open_image(path: str | Path, what: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """A picture file decoded and upright (EXIF rotation applied), after every check of :class:`ImageLimits`."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"cannot read {what} {path}: the file is empty")
    if size > limits.max_file_bytes:
        raise BadInput(
            f"{what} {path} is {size / 2**20:.1f} MiB, more than the limit of {limits.max_file_bytes / 2**20:.0f} MiB"
        )
    return _decode(path, f"{what} {path}", limits, lambda: _png_is_complete(path))


def open_bytes(data: bytes, what: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """An uploaded picture (bytes, e.g. decoded base64) decoded and upright, with the checks of :func:`open_image`."""
    if not data:
        raise BadInput(f"{what}: the image is empty")
    if len(data) > limits.max_file_bytes:
        raise BadInput(
            f"{what} is {len(data) / 2**20:.1f} MiB, more than the limit of {limits.max_file_bytes / 2**20:.0f} MiB"
        )
    return _decode(io.BytesIO(data), what, limits, lambda: b"IEND" in data[-16:])


def _decode(source: Any, what: str, limits: ImageLimits, png_complete: Callable[[], bool]) -> Image.Image:
    try:
        # Our pixel limit governs: Pillow's own bomb warning (MAX_IMAGE_PIXELS) is silenced, its error (twice
        # that, or whatever the host set) still stops a header that claims even more.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = _pillow_open()(source, formats=_openers())
        with picture:
            check_pixel_count(*picture.size, what, limits)  # header only: nothing decoded yet
            picture.load()
            if picture.format == "PNG" and not png_complete():
                # Pillow refuses truncated files unless some extension set ImageFile.LOAD_TRUNCATED_IMAGES,
                # which many do; the PNG chunk walk does not depend on that switch.
                raise OSError("the PNG file is truncated (no IEND chunk)")
            # Phones record rotation in EXIF and the WebUI shows photos upright; masks and maps must match.
            return ImageOps.exif_transpose(picture)
    except Image.DecompressionBombError as err:
        raise BadInput(f"{what} is too large to open safely: {err}") from err
    except UnidentifiedImageError as err:
        raise BadInput(f"cannot read {what}: not a {_FORMAT_NAMES} image, or the file is damaged") from err
    except _READ_ERRORS as err:
        raise BadInput(f"cannot read {what}: {err}") from err


def _pillow_open() -> Callable[..., Image.Image]:
    """Pillow's own ``Image.open``, even after ultralytics replaced it.

    ultralytics (imported by us or by ADetailer in the same WebUI process) swaps ``PIL.Image.open`` for a wrapper
    that, when a file fails to open, pip-installs pi-heif into the running environment and retries. A damaged
    upload must give a clear BadInput, never a package install, so the original function is used.
    """
    opener = Image.open
    if getattr(opener, "__module__", "") == "ultralytics.utils.patches":
        patches = sys.modules.get("ultralytics.utils.patches")
        opener = getattr(patches, "_image_open", opener)
    return opener


def read_image(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB, upright; BadInput when missing, unreadable or beyond ``limits``."""
    return _rgb_array(open_image(path, "image", limits), f"image {path}")


def read_mask(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A mask as (H, W) uint8 0..255: the alpha channel of a cut-out (when it has any transparency), else gray."""
    return _mask_array(open_image(path, "mask", limits), f"mask {path}")


def read_depth_pixels(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A depth image's pixels without losing precision: (H, W) at its own bit depth, or (H, W, 3) uint8 RGB."""
    image = open_image(path, "depth map", limits)
    if image.mode in ("L", "F") or image.mode.startswith("I"):
        return np.asarray(image)
    if image.mode == "LA":
        return np.asarray(image.convert("L"))
    return _rgb_array(image, f"depth map {path}")


def image_to_rgb(picture: Image.Image, what: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A decoded PIL picture (as the WebUI hands them over) as (H, W, 3) uint8 RGB, within ``limits``."""
    check_pixel_count(*picture.size, what, limits)
    return _rgb_array(picture, what)


def image_to_mask(picture: Image.Image, what: str = "mask", limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A decoded PIL mask as (H, W) uint8, read as :func:`read_mask` reads files, within ``limits``."""
    check_pixel_count(*picture.size, what, limits)
    return _mask_array(picture, what)


def image_size(array: np.ndarray) -> tuple[int, int]:
    """(width, height) of an image array."""
    return array.shape[1], array.shape[0]


def write_png(path: str | Path, array: np.ndarray) -> Path:
    """Save a uint8 (H, W) or (H, W, 3) array as PNG, atomically."""
    picture = Image.fromarray(np.ascontiguousarray(array))
    return _write_atomic(Path(path), lambda fh: picture.save(fh, format="PNG"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Save an encoded file as it is, atomically."""
    return _write_atomic(Path(path), lambda fh: fh.write(data))


def write_json(path: str | Path, data: Any) -> Path:
    """Save ``data`` as indented UTF-8 JSON, atomically."""
    text = json.dumps(data, indent=1).encode("utf-8") + b"\n"
    return _write_atomic(Path(path), lambda fh: fh.write(text))


def _rgb_array(image: Image.Image, what: str) -> np.ndarray:
    try:
        if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit or float gray
            return np.repeat(_wide_to_uint8(np.asarray(image))[..., None], 3, axis=2)
        return np.asarray(image.convert("RGB"))
    except (ValueError, OSError) as err:
        raise BadInput(f"cannot convert {what} ({image.mode}) to RGB: {err}") from err


def _mask_array(image: Image.Image, what: str) -> np.ndarray:
    try:
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return np.ascontiguousarray(alpha)
        if image.mode.startswith("I") or image.mode == "F":
            return _wide_to_uint8(np.asarray(image))
        return np.asarray(image.convert("L"))
    except (ValueError, OSError) as err:
        raise BadInput(f"cannot convert {what} ({image.mode}) to a mask: {err}") from err


def _openers() -> tuple[str, ...]:
    """The supported formats this Pillow can open (a build without WebP has no WEBP opener)."""
    Image.init()
    return tuple(name for name in SUPPORTED_FORMATS if name in Image.OPEN)


def _png_is_complete(path: Path) -> bool:
    """Walk the PNG's chunk headers (no decoding) and report whether IEND is reached within the file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(8) != _PNG_SIGNATURE:
            return False
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return False
            length, kind = struct.unpack(">I4s", header)
            if kind == b"IEND":
                return True
            position = fh.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
            if position > size:
                return False


def _wide_to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=0.0, posinf=65535.0, neginf=0.0)
    values = np.clip(values, 0, 65535)
    if values.max() > 255:  # 16-bit range: keep the top 8 bits
        return (values.astype(np.uint32) >> 8).astype(np.uint8)
    return values.astype(np.uint8)


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
