"""Where models live and how they may be fetched and run, as every room that loads models takes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib_garment.models.progress import ProgressCallback


@dataclass(frozen=True)
class ModelSettings:
    """Where models live and how they may be fetched and run (the WebUI's settings or the CLI's flags)."""

    models_root: Path
    device: str | None = None
    offline: bool | None = None
    trust_unverified: bool | None = None
    runtime_policy: str | None = None
    progress: ProgressCallback | None = None
