"""After the exact composite, the one step every entry point takes: a preset's frame and check, or a plain colour.

Every entry point (the tab, REST ``/generate``, the always-on script and the img2img script, which share the
always-on script's hook) calls the two functions here, so the same image gets the same report everywhere:

- :func:`check_delivery`, once per job before any model runs (the host's up-front check calls it): the preset
  exists (BadInput at ``request.preset`` listing the valid names), its rules allow the shadow asked for, and
  the output options make sense together. It returns the loaded presets, which the job carries on.
- :func:`deliver`, once per result, after the composite (and after restoration):

  =====================  =========================  ===========================================================
  ``request.preset``     ``output.background``      result
  =====================  =========================  ===========================================================
  none                   none                       None: the composite is the result (as before presets)
  a preset               none                       the composite (the generated scene) framed on the preset's
                                                    canvas, encoded in its format, checked: a report
  a preset               white / #RRGGBB            the product framed on that plain colour, encoded, checked
  none                   white / #RRGGBB            the product on that colour at the photo's size, halo-free
                                                    edges, the shadow asked for; a PNG, no framing, no report
                                                    (no rules to check it against)
  =====================  =========================  ===========================================================

  The delivered picture is always the pixels of the delivered file (a preset's JPEG decoded), because that is
  what the report measured.

A plain background needs no diffusion: :func:`deliver_without_generation` is segmentation (or the caller's
mask), matte, then :func:`deliver`, with no generation and no control maps. The tab and ``/generate`` take it
whenever ``output.background`` is set; the always-on and img2img scripts run inside the WebUI's own generation,
which they cannot skip, so there the plain colour replaces the generated scene in the hook after the composite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.generate.plan import GenerationPlan
from lib_garment.generate.prepare import Prepared, prepare
from lib_garment.imageio import image_to_rgb, open_bytes
from lib_garment.models.settings import ModelSettings
from lib_garment.presets import background as plain
from lib_garment.presets import edges, encode, shadows
from lib_garment.presets.compliance import Report, background_colour_of
from lib_garment.presets.encode import Encoded
from lib_garment.presets.finish import FramedResult, checked_inputs, finish, refuse_forbidden_shadow, shadow_spec
from lib_garment.presets.load import PresetSet, load_presets
from lib_garment.request import GarmentRequest

PRESET_LOC = ("request", "preset")
SHADOW_LOC = ("request", "output", "shadow")
BACKGROUND_LOC = ("request", "output", "background")


def wants_delivery(request: GarmentRequest) -> bool:
    """Whether a result is finished by :func:`deliver` (a preset or a plain background is asked for)."""
    return request.preset is not None or request.output.background is not None


def plain_background(request: GarmentRequest) -> bool:
    """Whether the result is the product on a plain colour: nothing generated survives, so none is needed."""
    return request.output.background is not None


def without_delivery(request: GarmentRequest) -> GarmentRequest:
    """``request`` with no preset, background or shadow: for a generation whose composite is framed and checked
    by the caller afterwards (a catalogue's runner), so that nothing is framed twice."""
    output = request.output.copy(update={"background": None, "shadow": None})
    return request.copy(update={"preset": None, "output": output})


def _shadow_kind(request: GarmentRequest) -> str:
    return shadow_spec(request.output.shadow).kind


def check_delivery(
    request: GarmentRequest, *, models_dir: str | Path | None = None, presets: PresetSet | None = None
) -> PresetSet | None:
    """The output options checked before any model runs; the presets loaded (None when no preset is named).

    BadInput (``loc`` under ``request``) for: an unknown preset (the valid names listed); a shadow the preset's
    required shadow rule forbids; a shadow with nothing to lay it on (neither a preset nor a plain background);
    a plain background with the model task or restoration (the plain colour replaces everything generated, the
    person and the restored hands and faces included)."""
    found = None
    if request.preset is not None:
        found = presets if presets is not None else load_presets(models_dir)
        try:
            preset = found.get(request.preset)
        except BadInput as err:
            raise BadInput(str(err), loc=PRESET_LOC) from None
        refuse_forbidden_shadow(preset, shadow_spec(request.output.shadow), loc=SHADOW_LOC)
    elif _shadow_kind(request) != "none" and request.output.background is None:
        raise BadInput(
            "output.shadow: a shadow is laid on a plain background or a preset's canvas; set output.background "
            "or preset as well, or leave the shadow out",
            loc=SHADOW_LOC,
        )
    if request.output.background is not None:
        if request.task == "model":
            raise BadInput(
                "output.background puts the product alone on a plain colour, which would replace the person the "
                "model task generates; use the background task, or leave output.background out",
                loc=BACKGROUND_LOC,
            )
        if request.restore.enabled:
            raise BadInput(
                "output.background puts the product alone on a plain colour: no generated hands or faces remain "
                "to restore; switch restore off, or leave output.background out",
                loc=BACKGROUND_LOC,
            )
    return found


@dataclass(frozen=True)
class Delivered:
    """One finished result. ``image``: the delivered file's own pixels (H', W', 3) uint8; ``alpha``: the
    product's matte on that picture; ``encoded``: the file (the preset's format, else PNG); ``framed``: the
    preset's framing and report (None without a preset); ``notes``: what was done, for the user."""

    image: np.ndarray
    alpha: np.ndarray
    encoded: Encoded
    framed: FramedResult | None
    background: str | None  # "#RRGGBB" of a plain background; None: the generated scene
    shadow: str  # the shadow, described
    notes: tuple[str, ...]

    @property
    def report(self) -> Report | None:
        return self.framed.report if self.framed is not None else None

    @property
    def format(self) -> str:
        return self.encoded.format

    def compliance_json(self) -> dict[str, Any] | None:
        """The preset's report as REST and compliance.json give it (``FramedResult.to_json``), or None."""
        return self.framed.to_json() if self.framed is not None else None

    def framing_json(self) -> dict[str, Any] | None:
        return self.framed.placement.to_json() if self.framed is not None else None

    def compliance_line(self) -> str | None:
        """One line for the infotext: ``amazon-main pass (7/7)``, failing and unchecked rules named."""
        return None if self.report is None else compliance_line(self.report)

    def background_line(self) -> str | None:
        """One line for the infotext about the plain background (None: the generated scene was kept)."""
        if self.background is None:
            return None
        return f"plain {self.background}, {self.shadow}"


def compliance_line(report: Report) -> str:
    """``NAME VERDICT (PASSED/RULES)``, then the ids of failing rules and of rules that need a human."""
    passed = sum(result.status == "pass" for result in report.results)
    line = f"{report.preset} {report.verdict} ({passed}/{len(report.results)})"
    failed = [result.rule.id for result in report.results if result.status == "fail"]
    unchecked = [result.rule.id for result in report.results if result.status == "not_checked"]
    if failed:
        line += f"; failed: {', '.join(failed)}"
    if unchecked:
        line += f"; not checked: {', '.join(unchecked)}"
    return line


_STATUS_WORDS = {"pass": "pass", "fail": "**FAIL**", "not_checked": "not checked"}


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return " ".join(text.replace("|", "\\|").split())


def report_markdown(report: Report, title: str = "") -> str:
    """The report as Markdown: the verdict, a pass/fail table (one row per rule, its source), then every failing
    rule in words (what was measured, what the rule asks, why the rule exists)."""
    passed = sum(result.status == "pass" for result in report.results)
    head = f"**{_cell(title)}{' — ' if title else ''}{report.preset}: {report.verdict}** "
    lines = [head + f"({passed} of {len(report.results)} rules pass)", ""]
    lines += ["| rule | severity | result | measured | source |", "|---|---|---|---|---|"]
    for result in report.results:
        lines.append(
            f"| {_cell(result.rule.id)} | {result.rule.severity} | {_STATUS_WORDS[result.status]} | "
            f"{_cell(result.detail)} | {_cell(result.rule.source)} |"
        )
    failing = [result for result in report.results if result.status == "fail"]
    if failing:
        lines.append("")
        for result in failing:
            why = f" Why the rule exists: {_cell(result.rule.note)}" if result.rule.note else ""
            lines.append(
                f"- **{_cell(result.rule.id)}** fails ({result.rule.severity} {result.rule.kind} rule, source "
                f"{_cell(result.rule.source)}): measured {_cell(_value(result.measured))} against "
                f"{_cell(_value(result.threshold))}; {_cell(result.detail)}.{why}"
            )
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "nothing" if value is None else str(value)


def _on_plain_colour(
    photo: np.ndarray, alpha: np.ndarray, request: GarmentRequest, depth: np.ndarray | None
) -> Delivered:
    """No preset: the product on the plain colour at the photo's size (its α = 1 pixels the photo's own)."""
    photo, alpha = checked_inputs(photo, None, alpha, depth)
    colour = plain.parse_colour(request.output.background or plain.WHITE, "output.background")
    spec = shadow_spec(request.output.shadow)
    strength = shadows.shadow_strength(alpha, spec, depth)
    height, width = alpha.shape
    backdrop = shadows.darken(plain.plain(width, height, colour), strength)
    image = edges.halo_free_composite(photo, alpha, backdrop)
    band = int(edges.soft_band(alpha).sum())
    notes = (
        "no preset: not framed, the photo's size",
        f"background: plain {plain.hex_colour(colour)}; soft edge in the product's own colour ({band} px)",
        spec.describe(),
        "file: png (no preset to name a format)",
    )
    return Delivered(image, alpha, encode.png(image), None, plain.hex_colour(colour), spec.describe(), notes)


def deliver(
    photo: np.ndarray,
    composited: np.ndarray | None,
    alpha: np.ndarray,
    request: GarmentRequest,
    *,
    models_dir: str | Path | None = None,
    presets: PresetSet | None = None,
    depth: np.ndarray | None = None,
) -> Delivered | None:
    """The finished result of one job output (see the module's table); None when the request names neither a
    preset nor a background. ``photo``: (H, W, 3) uint8; ``composited``: the exact composite at the photo's
    size, or None when nothing was generated; ``alpha``: the product's matte (floats 0..1, or uint8);
    ``presets``: what :func:`check_delivery` loaded (else they are loaded from ``models_dir``); ``depth``: a
    depth map at the photo's size, larger = nearer (the drop shadow's weight)."""
    if not wants_delivery(request):
        return None
    if request.preset is None:
        return _on_plain_colour(photo, alpha, request, depth)
    found = check_delivery(request, models_dir=models_dir, presets=presets)
    assert found is not None  # a preset is named
    preset = found.get(request.preset)
    background = request.output.background
    if background is None and composited is None:  # nothing generated: the preset's own colour, as finish does
        background = background_colour_of(preset)
    spec = shadow_spec(request.output.shadow)
    framed = finish(
        photo,
        None if background is not None else composited,
        alpha,
        preset,
        background=background,
        shadow=spec,
        depth=depth,
    )
    # The file's own pixels: what the report measured (a JPEG moves some of the rendered ones).
    pixels = image_to_rgb(open_bytes(framed.encoded.data, "framed image"), "framed image")
    colour = plain.hex_colour(plain.parse_colour(background)) if background is not None else None
    return Delivered(pixels, framed.alpha, framed.encoded, framed, colour, spec.describe(), framed.notes)


def map_depth(maps: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """The depth control map of a job (larger = nearer, as Depth Anything writes it) as (H, W), or None."""
    found = (maps or {}).get("depth")
    if found is None:
        return None
    found = np.asarray(found)
    return found[..., 0] if found.ndim == 3 else found


def plan_depth(plan: GenerationPlan) -> np.ndarray | None:
    """The depth unit's map of a plan (made at the photo's size), for the drop shadow; None without one."""
    for unit in plan.units:
        if unit.kind == "depth" and unit.image.shape[:2] == plan.init_image.shape[:2]:
            return map_depth({"depth": unit.image})
    return None


def deliver_without_generation(
    request: GarmentRequest,
    photo: np.ndarray,
    env: ModelSettings,
    *,
    mask: np.ndarray | None = None,
    presets: PresetSet | None = None,
) -> tuple[Prepared, Delivered]:
    """A plain background with no diffusion: segment ``photo`` (or take ``mask``), matte, :func:`deliver`.

    No control maps are made and nothing is generated; the prepared job's plan is there for its masks only.
    BadInput when the request asks for no plain background (this path would drop the generation it wants)."""
    if not plain_background(request):
        raise BadInput("internal: a job without output.background needs a generation", loc=BACKGROUND_LOC)
    started = time.perf_counter()
    prepared = prepare(request.copy(update={"control": []}), photo, env, mask=mask)
    prepared = replace(prepared, request=request)
    finishing = time.perf_counter()
    delivered = deliver(prepared.photo, None, prepared.segmentation.alpha, request, presets=presets)
    assert delivered is not None  # a background is asked for
    done = time.perf_counter()
    note = (
        f"no diffusion: the product on plain {delivered.background} (output.background); "
        f"finished in {done - finishing:.2f} s after segmentation"
    )
    timings = {**prepared.timings, "deliver_s": done - finishing, "total_s": done - started}
    prepared = replace(prepared, notes=(*prepared.notes, note), timings=timings)
    return prepared, delivered
