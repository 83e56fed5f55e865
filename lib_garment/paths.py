"""Where things live: the extension, the WebUI around it, model folders and the worker's package folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parents[1]
MODELS_SUBDIR = "garment_studio"


def find_webui_root(extension_dir: Path = EXTENSION_DIR) -> Path | None:
    """The WebUI folder holding ``extensions/<this extension>``, or None when run standalone."""
    candidate = extension_dir.parent.parent
    if extension_dir.parent.name == "extensions" and (candidate / "modules").is_dir():
        return candidate
    return None


def models_root(override: str | os.PathLike[str] | None = None, webui_root: Path | None = None) -> Path:
    """The WebUI's models folder (``--models-dir`` when given), else the extension's own ``models/``."""
    if override:
        return Path(override).expanduser().resolve()
    root = webui_root if webui_root is not None else find_webui_root()
    if root is not None:
        return root / "models"
    return EXTENSION_DIR / "models"


def worker_packages_dir() -> Path:
    """The model worker's private package folder for this Python version (overridable for CI)."""
    override = os.environ.get("GARMENT_WORKER_PACKAGES")
    if override:
        return Path(override)
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    return EXTENSION_DIR / ".worker_packages" / tag
