"""What every detector family shares: a detection's kind read from a name, and boxes cut to the image."""

from __future__ import annotations

from collections.abc import Iterable

from lib_garment.errors import BadInput
from lib_garment.restore.detect import KINDS, Kind


def kind_from_name(text: str) -> Kind | None:
    """The kind a class or file name speaks of: ``hand``… → hand, ``face``/``head``… → face, else None."""
    lowered = text.lower()
    if "hand" in lowered:
        return "hand"
    if "face" in lowered or "head" in lowered:
        return "face"
    return None


def check_kind(kind: str | None) -> Kind | None:
    """A detector's kind as given (None: read from its class or file names); BadInput for any other."""
    if kind is not None and kind not in KINDS:
        raise BadInput(f"detector kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind  # type: ignore[return-value]


def clip_box(box: Iterable[float], shape: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The box inside an image of ``shape`` (H, W); None when nothing of it is left."""
    x0, y0, x1, y1 = (float(v) for v in box)
    height, width = shape
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
