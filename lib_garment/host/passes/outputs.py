"""Where results are saved, and how: PNG with the WebUI's own naming and infotext, or a preset's file as it is.

Results are PNG, whatever the WebUI's samples_format: a JPEG or WebP file would change the kept pixels the check
vouches for. A result made with a marketplace preset is saved as the preset's file, byte for byte (its format,
quality and size are what the compliance report checked), so its infotext and report go into a JSON file beside
it (``NAME.json``: ``{"parameters", "compliance"}``) rather than into the file.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modules import shared
from PIL import Image

from lib_garment.imageio import write_bytes, write_json
from lib_garment.presets.deliver import Delivered

RESULT_FORMAT = "png"
_session_folder: list[str] = []  # the temporary folder of this WebUI session, made on first use


def _temporary_folder() -> str:
    """One temporary folder for the session's unsaved results (still offered for download), removed at exit."""
    if not _session_folder:
        folder = tempfile.mkdtemp(prefix="garment_studio_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _session_folder.append(folder)
    return _session_folder[0]


def output_folder() -> tuple[str, str]:
    """Where results are saved and in which format: the WebUI's img2img folder (its own order of settings)
    when it saves samples, else the session's temporary folder; always PNG."""
    opts = shared.opts.data
    if opts.get("samples_save", True):
        folder = opts.get("outdir_samples") or opts.get("outdir_img2img_samples") or "outputs/img2img-images"
    else:
        folder = _temporary_folder()
    return str(folder), RESULT_FORMAT


def save_result(image: Image.Image, folder: tuple[str, str], seed: Any, prompt: str, infotext: str) -> str:
    """Save a composited result with the WebUI's own naming and infotext (as PNG); returns the path."""
    from modules import images

    path, _ = images.save_image(image, folder[0], "", seed=seed, prompt=prompt, extension=RESULT_FORMAT, info=infotext)
    return str(path)


def _next_number(folder: Path) -> int:
    """The WebUI's file counter for ``folder``: one past the highest ``NNNNN-`` prefix there."""
    numbers = [int(name.split("-", 1)[0]) for name in os.listdir(folder) if name.split("-", 1)[0].isdigit()]
    return max(numbers, default=-1) + 1


def save_delivered(delivered: Delivered, folder: tuple[str, str], seed: Any, prompt: str, infotext: str) -> str:
    """Save a delivered result; returns the path. Without a preset (a plain background alone) as any result
    (:func:`save_result`, PNG with its infotext); with one, the preset's file as it was checked, named
    ``NNNNN-SEED.<its suffix>`` as the WebUI numbers its files, with ``NNNNN-SEED.json`` beside it."""
    if delivered.framed is None:
        return save_result(Image.fromarray(delivered.image), folder, seed, prompt, infotext)
    where = Path(folder[0])
    where.mkdir(parents=True, exist_ok=True)
    path, stem = _reserve(where, delivered.encoded.suffix, seed)
    sidecar = {"parameters": infotext, "compliance": delivered.compliance_json()}
    # The sidecar first, then the file over its reservation: both written atomically (temp name + rename).
    write_json(where / f"{stem}.json", json.loads(json.dumps(sidecar, default=str)))
    write_bytes(path, delivered.encoded.data)
    return str(path)


def _reserve(where: Path, suffix: str, seed: Any) -> tuple[Path, str]:
    """The next free ``NNNNN[-SEED]<suffix>`` in ``where``, created empty at once (``x`` mode) so that two saves at
    the same moment (REST calls outside the queue lock) never take the same name."""
    number = _next_number(where)
    while True:
        stem = f"{number:05}" + (f"-{seed}" if seed is not None else "")
        path = where / f"{stem}{suffix}"
        try:
            with path.open("x"):
                return path, stem
        except FileExistsError:
            number += 1
