"""What a marketplace preset is: its sources, its canvas and its rules, as frozen dataclasses.

The TOML files (``presets/data/*.toml`` and the user's folder) are read into these by ``load.py``; everything
here is the shape and the per-kind value checks, so that a typo in a rule is refused by name when a file is
loaded, never silently skipped when an image is checked.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COLOUR_PATTERN = re.compile(r"^#[0-9A-Fa-f]{6}$")
ASPECT_PATTERN = re.compile(r"^([1-9][0-9]*):([1-9][0-9]*)$")

FORMATS = ("jpeg", "png", "webp", "gif", "tiff")  # what a framed image can be written as
# What a marketplace may say it accepts: more than is written (a check of someone else's file can meet them).
ACCEPTED_FORMATS = (*FORMATS, "bmp", "heic")
ANCHORS = ("center", "bottom")
SEVERITIES = ("required", "recommended")
SHADOW_POLICIES = ("allowed", "forbidden", "natural_only")

Severity = Literal["required", "recommended"]
Origin = Literal["shipped", "user"]


@dataclass(frozen=True)
class Source:
    """A public page a rule comes from, and when it was read."""

    id: str
    title: str
    url: str
    read: datetime.date
    page_date: datetime.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "read": self.read.isoformat(),
            "page_date": self.page_date.isoformat() if self.page_date else None,
        }


@dataclass(frozen=True)
class Canvas:
    """Where framing puts the product. Every field is optional: a preset may fix only some of them."""

    width: int | None = None
    height: int | None = None
    fill: float | None = None  # product tight box's longer side ÷ canvas side
    anchor: Literal["center", "bottom"] = "center"
    background: str | None = None  # "#RRGGBB"
    format: str | None = None  # one of FORMATS
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "fill": self.fill,
            "anchor": self.anchor,
            "background": self.background,
            "format": self.format,
            "source": self.source,
        }


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    value: Any
    severity: Severity
    source: str
    note: str = ""
    tolerance: float | None = None  # aspect only
    min_share: float | None = None  # background_colour only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "value": self.value,
            "severity": self.severity,
            "source": self.source,
            "note": self.note,
        }
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
        if self.min_share is not None:
            out["min_share"] = self.min_share
        return out


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    marketplace: str
    description: str
    missing: tuple[str, ...]
    sources: tuple[Source, ...]
    canvas: Canvas
    rules: tuple[Rule, ...]
    path: Path | None = None
    origin: Origin = "shipped"

    def rules_of(self, kind: str) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.kind == kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "marketplace": self.marketplace,
            "description": self.description,
            "missing": list(self.missing),
            "origin": self.origin,
            "path": str(self.path) if self.path else None,
            "canvas": self.canvas.to_json(),
            "sources": [source.to_json() for source in self.sources],
            "rules": [rule.to_json() for rule in self.rules],
        }


# -- per-kind values ---------------------------------------------------------------------------------------------
# Each checker returns the value as stored, or raises ValueError with what was expected (load.py adds the file
# and the key). TOML has ints and floats apart: a share written as 1 is accepted as 1.0; a bool is never a number.


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"must be a positive integer, got {value!r}")
    return int(value)


def number(value: Any, low: float, high: float) -> float:
    if not (_is_int(value) or isinstance(value, float)) or not low <= value <= high:
        raise ValueError(f"must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def share(value: Any) -> float:
    return number(value, 0.0, 1.0)


def colour(value: Any) -> str:
    if not isinstance(value, str) or not COLOUR_PATTERN.match(value):
        raise ValueError(f'must be a colour "#RRGGBB", got {value!r}')
    return value.upper()


def aspect(value: Any) -> str:
    if not isinstance(value, str) or not ASPECT_PATTERN.match(value):
        raise ValueError(f'must be an aspect ratio "W:H" (e.g. "1:1"), got {value!r}')
    return value


def choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options or not isinstance(value, str):
            raise ValueError(f"must be one of {', '.join(map(repr, options))}, got {value!r}")
        return value

    return check


def formats(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"must be a non-empty list of formats ({', '.join(ACCEPTED_FORMATS)}), got {value!r}")
    return tuple(choice(ACCEPTED_FORMATS)(item) for item in value)


def true_only(value: Any) -> bool:
    if value is not True:
        raise ValueError(f"must be true (the rule exists or is left out), got {value!r}")
    return True


def positive_number(value: Any) -> float:
    return number(value, 1e-9, 1e9)


def margin(value: Any) -> float:
    return number(value, 0.0, 0.5)


@dataclass(frozen=True)
class KindSpec:
    """How one rule kind's value is checked, and which optional keys it takes (with their checkers)."""

    value: Callable[[Any], Any]
    extras: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    measurable: bool = True


RULE_KINDS: dict[str, KindSpec] = {
    "min_longest_side": KindSpec(positive_int),
    "max_longest_side": KindSpec(positive_int),
    "min_shortest_side": KindSpec(positive_int),
    "min_width": KindSpec(positive_int),
    "min_height": KindSpec(positive_int),
    "max_width": KindSpec(positive_int),
    "max_height": KindSpec(positive_int),
    "aspect": KindSpec(aspect, (("tolerance", lambda v: number(v, 0.0, 1.0)),)),
    "min_fill": KindSpec(share),
    "max_fill": KindSpec(share),
    "background_colour": KindSpec(colour, (("min_share", share),)),
    "max_megapixels": KindSpec(positive_number),
    "max_file_bytes": KindSpec(positive_int),
    "min_file_bytes": KindSpec(positive_int),
    "formats": KindSpec(formats),
    "colour_space": KindSpec(choice(("sRGB",))),
    "min_margin": KindSpec(margin),
    "max_margin": KindSpec(margin),
    "shadow": KindSpec(choice(SHADOW_POLICIES)),
    "no_text_or_watermark": KindSpec(true_only, measurable=False),
}

DEFAULT_ASPECT_TOLERANCE = 0.01
DEFAULT_MIN_SHARE = 1.0
