"""The compliance check: every rule of a preset measured on an image (and its encoded file), pass or fail.

What "the product" is: with a matte or mask, its pixels with α ≥ 0.5 (the tight box measures fill and margins);
without one, every pixel more than PRODUCT_TOLERANCE levels (any channel) away from the background colour (the
background_colour rule's, else the canvas's, else white), so a shadow then counts as product.

The background rule counts the pixels that are neither product (α = 0, or not product without a matte) nor
shadow, and how many of them are exactly the colour. The shadow zone is reported apart with its area: the
shadow strength when the caller made it (framing does), else the off-colour pixels that are a darker shade of
the background colour (each channel k × the colour's, ±SHADE_TOLERANCE) and touch the product.

Rules about the file (format, bytes, colour space) need the encoded file; without it they are "not checked".
A threshold is met at its value: a min_* rule passes at exactly its value, a max_* rule too.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image, ImageCms

from lib_garment.errors import BadInput
from lib_garment.imageio import image_to_rgb, open_bytes
from lib_garment.presets.background import WHITE, parse_colour
from lib_garment.presets.framing import PixelBox, box_of
from lib_garment.presets.schema import DEFAULT_ASPECT_TOLERANCE, DEFAULT_MIN_SHARE, RULE_KINDS, Preset, Rule

PRODUCT_TOLERANCE = 8
SHADE_TOLERANCE = 3

Status = Literal["pass", "fail", "not_checked"]
Verdict = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    status: Status
    measured: Any
    threshold: Any
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule.id,
            "kind": self.rule.kind,
            "severity": self.rule.severity,
            "source": self.rule.source,
            "status": self.status,
            "measured": self.measured,
            "threshold": self.threshold,
            "detail": self.detail,
            "note": self.rule.note,
        }


@dataclass(frozen=True)
class Report:
    """Every rule's result and the verdict: fail when a required rule fails, warn when only recommended ones do."""

    preset: str
    results: tuple[RuleResult, ...]
    measurements: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> Verdict:
        failed = [r for r in self.results if r.status == "fail"]
        if any(r.rule.severity == "required" for r in failed):
            return "fail"
        return "warn" if failed else "pass"

    @property
    def all_pass(self) -> bool:
        return not any(r.status == "fail" for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "verdict": self.verdict,
            "rules": [r.to_json() for r in self.results],
            "measurements": self.measurements,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Image:
    """What the rules measure, computed once."""

    pixels: np.ndarray
    product: np.ndarray  # bool: the product (α ≥ 0.5, or off-background without a matte)
    background: np.ndarray  # bool: pixels the background rule counts (not product, not soft, not shadow)
    shadow_zone: np.ndarray
    colour: tuple[int, int, int]
    exact: np.ndarray  # bool: pixels of exactly ``colour``
    encoded: bytes | None
    shadow_kind: str | None

    @cached_property
    def product_box(self) -> PixelBox | None:
        return box_of(self.product)

    def of_colour(self, colour: tuple[int, int, int]) -> np.ndarray:
        return self.exact if colour == self.colour else _of_colour(self.pixels, colour)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


def check(
    image: np.ndarray | bytes,
    alpha: np.ndarray | None,
    preset: Preset,
    *,
    encoded: bytes | None = None,
    shadow: np.ndarray | None = None,
    shadow_kind: str | None = None,
) -> Report:
    """Check ``image`` ((H, W, 3) uint8 RGB, or an encoded file's bytes, then also its file rules) against every
    rule of ``preset``. ``alpha``: the matte (floats 0..1) or a mask (uint8 0..255, bool), or None. ``shadow``:
    the shadow strength the image was made with, when known; ``shadow_kind`` its kind (contact, drop)."""
    if isinstance(image, bytes | bytearray):
        if encoded is not None:
            raise BadInput("give the encoded file once: as the image or as encoded, not both")
        encoded = bytes(image)
        pixels = image_to_rgb(open_bytes(encoded, "image"), "image")
    else:
        pixels = np.asarray(image)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise BadInput(f"image must be (H, W, 3) uint8 RGB, got {pixels.dtype} {pixels.shape}")
    colour = parse_colour(background_colour_of(preset))
    measured = _measure(pixels, _as_alpha(alpha, pixels.shape[:2]), colour, shadow, encoded, shadow_kind)
    results = tuple(_CHECKS[rule.kind](rule, measured) for rule in preset.rules)
    notes = []
    if alpha is None:
        notes.append(
            f"no mask: the product is every pixel more than {PRODUCT_TOLERANCE} levels from "
            f"{background_colour_of(preset)} in any channel (a shadow counts as product)"
        )
    if encoded is None and any(rule.kind in _FILE_KINDS for rule in preset.rules):
        notes.append("no encoded file: format, file size and colour space are not checked")
    return Report(preset.name, results, _measurements(measured), tuple(notes))


def background_colour_of(preset: Preset) -> str:
    """The colour the background must be: the background_colour rule's, else the canvas's, else white."""
    rules = preset.rules_of("background_colour")
    return rules[0].value if rules else preset.canvas.background or WHITE


def _as_alpha(alpha: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if alpha is None:
        return None
    alpha = np.asarray(alpha)
    if alpha.shape != shape:
        raise BadInput(f"mask is {alpha.shape[1]}x{alpha.shape[0]} but the image is {shape[1]}x{shape[0]}")
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / 255.0
    return alpha.astype(np.float32)


def _measure(
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    colour: tuple[int, int, int],
    shadow: np.ndarray | None,
    encoded: bytes | None,
    shadow_kind: str | None,
) -> _Image:
    exact = _of_colour(pixels, colour)
    if alpha is None:
        distance = np.abs(pixels.astype(np.int16) - np.asarray(colour, np.int16)).max(axis=-1)
        product = distance > PRODUCT_TOLERANCE
        candidates = ~product
    else:
        product = alpha >= 0.5
        candidates = alpha <= 0.0
    if shadow is not None:
        zone = (np.asarray(shadow) > 0) & candidates
    else:
        zone = _shade_touching(pixels, ~candidates, candidates & ~exact, colour)
    return _Image(pixels, product, candidates & ~zone, zone, colour, exact, encoded, shadow_kind)


def _of_colour(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Pixels of exactly ``colour``, channel by channel (``np.all(pixels == colour, axis=-1)`` reduces 3 values at
    a time, ten times slower)."""
    exact = pixels[..., 0] == colour[0]
    exact &= pixels[..., 1] == colour[1]
    exact &= pixels[..., 2] == colour[2]
    return exact


def _shade_touching(pixels: np.ndarray, solid: np.ndarray, off: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Off-colour pixels that are a darker shade of ``colour`` and connect to the product (``solid``)."""
    if not off.any():
        return off
    values = pixels[off].astype(np.float32)
    reference = np.asarray(colour, np.float32)
    k = values.sum(axis=1) / max(float(reference.sum()), 1.0)
    shade = (k < 1.0) & (np.abs(values - k[:, None] * reference).max(axis=1) <= SHADE_TOLERANCE)
    shaded = np.zeros(off.shape, bool)
    shaded[off] = shade
    if not shaded.any() or not solid.any():
        return np.zeros(off.shape, bool)
    _, labels = cv2.connectedComponents((shaded | solid).astype(np.uint8), connectivity=8)
    touching = np.unique(labels[solid])
    return shaded & np.isin(labels, touching)


def _measurements(m: _Image) -> dict[str, Any]:
    box = m.product_box
    counted = np.count_nonzero(m.background)
    exact = np.count_nonzero(m.background & m.exact)
    return {
        "width": m.width,
        "height": m.height,
        "product_box": [box.x0, box.y0, box.x1, box.y1] if box else None,
        "fill": _fill(m),
        "background_colour": "#{:02X}{:02X}{:02X}".format(*m.colour),
        "background_pixels": counted,
        "background_exact": exact,
        "background_off_colour": counted - exact,
        "shadow_zone_pixels": np.count_nonzero(m.shadow_zone),
        "file_bytes": len(m.encoded) if m.encoded is not None else None,
    }


# -- the rules -----------------------------------------------------------------------------------------------------

_FILE_KINDS = {"max_file_bytes", "min_file_bytes", "formats", "colour_space"}


def _compare(rule: Rule, measured: float, unit: str = "") -> RuleResult:
    threshold = rule.value
    ok = measured >= threshold if rule.kind.startswith("min_") else measured <= threshold
    relation = "≥" if rule.kind.startswith("min_") else "≤"
    return RuleResult(
        rule, "pass" if ok else "fail", measured, threshold, f"{measured}{unit} {relation} {threshold}{unit}"
    )


def _size(getter: Callable[[_Image], int]) -> Callable[[Rule, _Image], RuleResult]:
    return lambda rule, m: _compare(rule, getter(m), " px")


def _fill(m: _Image) -> float | None:
    box = m.product_box
    return None if box is None else max(box.width / m.width, box.height / m.height)


def _margins(m: _Image) -> dict[str, float] | None:
    box = m.product_box
    if box is None:
        return None
    return {
        "left": box.x0 / m.width,
        "top": box.y0 / m.height,
        "right": (m.width - box.x1) / m.width,
        "bottom": (m.height - box.y1) / m.height,
    }


def _no_product(rule: Rule) -> RuleResult:
    return RuleResult(rule, "fail", None, rule.value, "no product found (no pixel with alpha ≥ 0.5)")


def _check_fill(rule: Rule, m: _Image) -> RuleResult:
    fill = _fill(m)
    return _no_product(rule) if fill is None else _compare(rule, fill)


def _check_margin(rule: Rule, m: _Image) -> RuleResult:
    margins = _margins(m)
    if margins is None:
        return _no_product(rule)
    pick = min if rule.kind == "min_margin" else max
    side = pick(margins, key=margins.__getitem__)
    result = _compare(rule, margins[side])
    return RuleResult(rule, result.status, margins[side], rule.value, f"{side} margin: {result.detail}")


def _check_aspect(rule: Rule, m: _Image) -> RuleResult:
    w, h = (int(part) for part in rule.value.split(":"))
    tolerance = rule.tolerance if rule.tolerance is not None else DEFAULT_ASPECT_TOLERANCE
    deviation = abs((m.width / m.height) / (w / h) - 1.0)
    ok = deviation <= tolerance
    detail = f"{m.width}:{m.height} is {deviation:.2%} from {rule.value} (tolerance {tolerance:.2%})"
    return RuleResult(rule, "pass" if ok else "fail", f"{m.width}:{m.height}", rule.value, detail)


def _check_background(rule: Rule, m: _Image) -> RuleResult:
    counted = np.count_nonzero(m.background)
    exact = np.count_nonzero(m.background & m.of_colour(parse_colour(rule.value)))
    minimum = rule.min_share if rule.min_share is not None else DEFAULT_MIN_SHARE
    share = exact / counted if counted else 1.0
    zone = np.count_nonzero(m.shadow_zone)
    detail = (
        f"{counted - exact} of {counted} background pixels are not {rule.value} (share {share:.6f}, at least "
        f"{minimum:g}); shadow zone {zone} px ({zone / m.shadow_zone.size:.2%} of the image), counted apart"
    )
    return RuleResult(rule, "pass" if share >= minimum else "fail", share, minimum, detail)


def _check_shadow(rule: Rule, m: _Image) -> RuleResult:
    area = np.count_nonzero(m.shadow_zone)
    kind = m.shadow_kind or ("unknown" if area else "none")
    if rule.value == "allowed" or area == 0:
        return RuleResult(rule, "pass", area, rule.value, f"shadow zone {area} px ({kind})")
    if rule.value == "forbidden":
        return RuleResult(rule, "fail", area, rule.value, f"a shadow of {area} px where none is allowed")
    if kind == "contact":
        return RuleResult(rule, "pass", area, rule.value, f"contact shadow of {area} px under the product")
    if kind == "drop":
        return RuleResult(rule, "fail", area, rule.value, f"a drop shadow ({area} px) is not a natural one")
    return RuleResult(rule, "not_checked", area, rule.value, f"shadow zone {area} px: natural or not needs a human")


def _file_format(m: _Image) -> tuple[str, Image.Image]:
    picture = Image.open(io.BytesIO(m.encoded or b""))
    return (picture.format or "").lower(), picture


def _needs_file(check: Callable[[Rule, _Image], RuleResult]) -> Callable[[Rule, _Image], RuleResult]:
    def run(rule: Rule, m: _Image) -> RuleResult:
        if m.encoded is None:
            return RuleResult(rule, "not_checked", None, rule.value, "no encoded file given")
        return check(rule, m)

    return run


def _check_formats(rule: Rule, m: _Image) -> RuleResult:
    found, _ = _file_format(m)
    ok = found in rule.value
    return RuleResult(rule, "pass" if ok else "fail", found, list(rule.value), f"{found} in {', '.join(rule.value)}")


def _check_colour_space(rule: Rule, m: _Image) -> RuleResult:
    _, picture = _file_format(m)
    profile = picture.info.get("icc_profile")
    if not profile:
        return RuleResult(rule, "pass", "no ICC profile", rule.value, "no ICC profile: read as sRGB")
    try:
        name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()
    except (OSError, ImageCms.PyCMSError):
        name = "unreadable profile"
    ok = "srgb" in name.lower()
    return RuleResult(rule, "pass" if ok else "fail", name, rule.value, f"ICC profile {name!r}")


def _not_checked(rule: Rule, m: _Image) -> RuleResult:
    return RuleResult(rule, "not_checked", None, rule.value, "not checked: needs a human")


_CHECKS: dict[str, Callable[[Rule, _Image], RuleResult]] = {
    "min_longest_side": _size(lambda m: max(m.width, m.height)),
    "max_longest_side": _size(lambda m: max(m.width, m.height)),
    "min_shortest_side": _size(lambda m: min(m.width, m.height)),
    "min_width": _size(lambda m: m.width),
    "min_height": _size(lambda m: m.height),
    "max_width": _size(lambda m: m.width),
    "max_height": _size(lambda m: m.height),
    "aspect": _check_aspect,
    "min_fill": _check_fill,
    "max_fill": _check_fill,
    "background_colour": _check_background,
    "max_megapixels": lambda rule, m: _compare(rule, m.width * m.height / 1e6, " MP"),
    "max_file_bytes": _needs_file(lambda rule, m: _compare(rule, len(m.encoded or b""), " bytes")),
    "min_file_bytes": _needs_file(lambda rule, m: _compare(rule, len(m.encoded or b""), " bytes")),
    "formats": _needs_file(_check_formats),
    "colour_space": _needs_file(_check_colour_space),
    "min_margin": _check_margin,
    "max_margin": _check_margin,
    "shadow": _check_shadow,
    "no_text_or_watermark": _not_checked,
}
assert set(_CHECKS) == set(RULE_KINDS), "every rule kind has its check"
