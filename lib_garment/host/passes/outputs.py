"""Where results are saved, and how: PNG with the WebUI's own naming and infotext.

Results are always PNG, whatever the WebUI's samples_format: a JPEG or WebP file would change the kept pixels
the check vouches for.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from typing import Any

from modules import shared
from PIL import Image

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
