"""The one call every entry point makes after the exact composite: frame, background, edges, shadow, encode, check.

    result = finish_for_preset(photo, composited, alpha, request)   # request.preset names the preset
    result.encoded.data  → the file to write (result.encoded.suffix), result.report → compliance.json

The background: ``output.background`` ("white", "#RRGGBB") puts the product on that plain colour, its soft edge
in its own colour (edges.py); without it the composited picture (the generated scene) is framed as it is; with
neither (no generation ran) the preset's background colour, else white, is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.imageio import check_same_size, image_to_rgb, open_bytes
from lib_garment.presets import background as plain
from lib_garment.presets import edges, encode, framing, shadows
from lib_garment.presets.compliance import Report, background_colour_of, check
from lib_garment.presets.load import PresetSet, load_presets
from lib_garment.presets.schema import Preset
from lib_garment.request import GarmentRequest, ShadowOptions


@dataclass(frozen=True)
class FramedResult:
    """``image``: the framed picture as rendered; ``encoded``: that picture as the preset's file (what the
    report's pixel rules measured, decoded); ``alpha``: the product's matte on the canvas; ``shadow``: the
    shadow's strength; ``notes``: what was done, for the user."""

    image: np.ndarray
    alpha: np.ndarray
    shadow: np.ndarray
    encoded: encode.Encoded
    report: Report
    placement: framing.Placement
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.report.to_json(),
            "framing": self.placement.to_json(),
            "file": {"format": self.encoded.format, "bytes": len(self.encoded.data), "quality": self.encoded.quality},
            "done": list(self.notes),
        }


def shadow_spec(value: ShadowOptions | str | None) -> shadows.ShadowSpec:
    """The request's ``output.shadow`` ("none", "contact", "drop" or an object) as a ShadowSpec."""
    if value is None:
        return shadows.ShadowSpec()
    if isinstance(value, str):
        return shadows.ShadowSpec(kind=value)  # type: ignore[arg-type] - validated by the request
    return shadows.ShadowSpec(**value.dict())


def finish_for_preset(
    photo: np.ndarray,
    composited: np.ndarray | None,
    alpha: np.ndarray,
    request: GarmentRequest,
    *,
    models_dir: str | Path | None = None,
    presets: PresetSet | None = None,
    depth: np.ndarray | None = None,
) -> FramedResult:
    """Frame and check one job's result for ``request.preset``. ``photo``: the photo (H, W, 3) uint8;
    ``composited``: the exact composite at the photo's size, or None when nothing was generated; ``alpha``:
    the product's matte (H, W) floats 0..1; ``depth``: a depth map at the photo's size (for the drop shadow).
    BadInput (loc ``preset``) when no preset is named or it does not exist, listing the valid names."""
    if request.preset is None:
        raise BadInput("preset: no preset named in the request", loc=("preset",))
    found = presets if presets is not None else load_presets(models_dir)
    return finish(
        photo,
        composited,
        alpha,
        found.get(request.preset),
        background=request.output.background,
        shadow=shadow_spec(request.output.shadow),
        depth=depth,
    )


def finish(
    photo: np.ndarray,
    composited: np.ndarray | None,
    alpha: np.ndarray,
    preset: Preset,
    *,
    background: str | None = None,
    shadow: shadows.ShadowSpec = shadows.ShadowSpec(),  # noqa: B008 - frozen, so one default is safe
    depth: np.ndarray | None = None,
) -> FramedResult:
    """:func:`finish_for_preset` with the preset and the output options given directly."""
    photo, alpha = checked_inputs(photo, composited, alpha, depth)
    refuse_forbidden_shadow(preset, shadow)
    scene = background is None and composited is not None
    colour = plain.parse_colour(background or background_colour_of(preset), "output.background")
    framed = framing.frame(composited if scene else photo, alpha, preset, colour, scene=scene)
    canvas_depth = None
    if depth is not None:  # same matte, same placement: the depth map moves exactly as the product did
        canvas_depth = framing.frame(_depth_rgb(depth), alpha, preset, (0, 0, 0), scene=False).image[..., 0]
    strength = shadows.shadow_strength(framed.alpha, shadow, canvas_depth)
    notes = [framed.placement.describe(), *framed.placement.notes]
    if scene:
        image = shadows.darken(framed.image, strength)
        notes.append("background: the generated scene")
    else:
        backdrop = shadows.darken(plain.plain(framed.placement.width, framed.placement.height, colour), strength)
        image = edges.halo_free_composite(framed.image, framed.alpha, backdrop)
        band = int(edges.soft_band(framed.alpha).sum())
        notes.append(f"background: plain {plain.hex_colour(colour)}; soft edge in the product's own colour ({band} px)")
    notes.append(shadow.describe())
    encoded = encode.encode(image, preset)
    notes.append(f"file: {encoded.describe()}")
    if encoded.format in ("jpeg", "webp"):  # say it where the placement's "as photographed" would mislead
        notes.append(f"{encoded.format} is lossy: the file's pixels, the product's too, differ slightly from these")
    delivered = image_to_rgb(open_bytes(encoded.data, "framed image"), "framed image")
    # The pixels measured are the file's own (JPEG moves some); the file's rules get its bytes.
    report = check(delivered, framed.alpha, preset, encoded=encoded.data, shadow=strength, shadow_kind=shadow.kind)
    return FramedResult(image, framed.alpha, strength, encoded, report, framed.placement, tuple(notes))


def checked_inputs(
    photo: np.ndarray, composited: np.ndarray | None, alpha: np.ndarray, depth: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The photo checked as (H, W, 3) uint8 and the matte as float32 0..1 (uint8 read as /255), every other
    input of the photo's size; BadInput naming the one that is not."""
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise BadInput(f"photo must be (H, W, 3) uint8 RGB, got {photo.dtype} {photo.shape}")
    alpha = np.asarray(alpha)
    alpha = alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else np.clip(alpha.astype(np.float32), 0, 1)
    check_same_size(photo, alpha, "alpha")
    if composited is not None:
        check_same_size(photo, np.asarray(composited), "composited image")
    if depth is not None:
        check_same_size(photo, np.asarray(depth), "depth map")
    return photo, alpha


def refuse_forbidden_shadow(
    preset: Preset, shadow: shadows.ShadowSpec, loc: tuple[str, ...] = ("output", "shadow")
) -> None:
    """BadInput at ``loc`` when a shadow is asked for and a required rule of ``preset`` forbids shadows."""
    if shadow.kind == "none":
        return
    for rule in preset.rules_of("shadow"):
        if rule.severity == "required" and rule.value == "forbidden":
            raise BadInput(
                f"output.shadow: preset {preset.name} forbids shadows (rule {rule.id}); leave the shadow out", loc=loc
            )


def _depth_rgb(depth: np.ndarray) -> np.ndarray:
    values = np.asarray(depth, np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return np.repeat(np.rint(scaled).astype(np.uint8)[..., None], 3, axis=2)
