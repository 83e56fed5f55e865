"""Flag checks every command shares, each with the one message users see for it."""

from __future__ import annotations

from pathlib import Path

from lib_garment.errors import BadInput


def out_folder(text: str) -> Path:
    """``--out``: a folder, made later if missing; BadInput when a file stands there."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a folder")
    return out


def positive_seconds(value: float, flag: str = "--timeout") -> float:
    """A duration flag that must be more than 0 seconds."""
    if not value > 0:
        raise BadInput(f"{flag} must be more than 0 seconds, got {value:g}")
    return value
