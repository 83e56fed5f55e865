"""One job's files under ``DIR/<sku>/``, each written atomically (a temporary name renamed into place), with
their SHA-256 for the database.

``<sku>-<n>.<format>``: the result (the preset's format with a preset or a plain background, else the exact
composite as PNG); ``<sku>-<n>-alpha.png``: the product's matte on the delivered picture; ``<sku>-<n>-composite.png``:
the exact composite at the photo's size when something was generated and then framed; ``<sku>-<n>.thumb.jpg``: the
contact sheet's thumbnail; ``mask.png`` and ``alpha.png``: the photo's segmentation (the same for every variant).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from lib_garment import imageio
from lib_garment.presets import encode

if TYPE_CHECKING:
    from lib_garment.presets.deliver import Delivered

THUMB_SIZE = 256


@dataclass(frozen=True)
class JobImages:
    """What a job made: ``result`` is what the seller uploads (the delivered file's pixels, or the composite)."""

    photo_mask: np.ndarray  # (H, W) uint8 0/255
    photo_alpha: np.ndarray  # (H, W) uint8
    composite: np.ndarray | None  # the exact composite at the photo's size; None when nothing was generated
    delivered: Delivered | None


def result_name(sku: str, variant: int, suffix: str = ".png") -> str:
    return f"{sku}/{sku}-{variant}{suffix}"


def write_job_files(out: Path, sku: str, variant: int, images: JobImages) -> list[dict[str, Any]]:
    """Write the job's files; their records ``{"kind", "file", "sha256"}`` (file relative to ``out``), the
    result first."""
    from lib_garment.segment.matte import alpha_to_uint8

    folder = out / sku
    folder.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, str, bytes]] = []
    if images.delivered is not None:
        done = images.delivered
        files.append(("result", result_name(sku, variant, done.encoded.suffix), done.encoded.data))
        files.append(("alpha", f"{sku}/{sku}-{variant}-alpha.png", _png(alpha_to_uint8(done.alpha))))
        if images.composite is not None:
            files.append(("composite", f"{sku}/{sku}-{variant}-composite.png", _png(images.composite)))
        shown = done.image
    else:
        assert images.composite is not None  # a job delivers or composites
        files.append(("result", result_name(sku, variant), _png(images.composite)))
        shown = images.composite
    files.append(("thumbnail", f"{sku}/{sku}-{variant}.thumb.jpg", thumbnail(shown)))
    files.append(("mask", f"{sku}/mask.png", _png(images.photo_mask)))
    files.append(("photo_alpha", f"{sku}/alpha.png", _png(images.photo_alpha)))
    records = []
    for kind, name, data in files:
        imageio.write_bytes(out / name, data)
        records.append({"kind": kind, "file": name, "sha256": hashlib.sha256(data).hexdigest()})
    return records


_TEMPORARY = re.compile(r"\..+\.\d+\.[0-9a-f]{8}\.tmp")  # imageio's atomic writes: .<name>.<pid>.<hex>.tmp


def remove_temporaries(out: Path) -> int:
    """Remove the half-written temporaries a killed run left in ``out`` and its SKU folders; how many."""
    removed = 0
    for folder in (out, *(p for p in out.iterdir() if p.is_dir())):
        for path in folder.iterdir():
            if _TEMPORARY.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _png(array: np.ndarray) -> bytes:
    return encode.png(array).data  # the one lossless encoder results without a preset's format use


def thumbnail(image: np.ndarray) -> bytes:
    picture = Image.fromarray(np.ascontiguousarray(image))
    picture.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
