"""The tab's two jobs, Preview and Generate, and what they hand back to the widgets.

The handlers hold no pipeline logic: they read the widgets into the one request model (:mod:`.tab_inputs`), check
the job once up front (:mod:`lib_garment.host.passes.checks`), hand each photo to the engine (``prepare``) and the
host's plan runner (``run_plan``, which ends with the engine's delivery: a preset's frame and check, a plain
background), and turn what comes back into gallery items and text: under the results, each one's kept-pixel
check and, with a preset, its pass/fail table (failing rules in words). With a plain background (the Background
choice) nothing is generated: the engine's ``deliver_without_generation`` segments, mattes and puts the product
on the colour, and the saved file is the preset's (its format, as checked) or a PNG. Both run under the
WebUI's queue lock with a task id (``wrap_gradio_gpu_call``, see :mod:`.tab_layout`), so the WebUI's progress bar
follows them and its Interrupt/Skip apply between photos. Expected failures (bad input, missing models,
ControlNet missing) become a message in the tab; anything else a one-line "internal error" there and the
traceback in the console.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
from modules import scripts, shared
from PIL import Image

from lib_garment.errors import BadInput, GarmentError
from lib_garment.generate.composite import check_kept
from lib_garment.generate.outputs import preview_images
from lib_garment.generate.prepare import Prepared, prepare
from lib_garment.host.passes.checks import JobChecks, check_generation, check_preview
from lib_garment.host.passes.generation import PlanOutputs, run_plan
from lib_garment.host.passes.infotext import INFOTEXT_KEY, KEPT_KEY, delivery_params, request_infotext, with_params
from lib_garment.host.passes.outputs import output_folder, save_delivered, save_result
from lib_garment.host.ui.tab_inputs import (
    UNIT_KINDS,
    Photo,
    TabInputs,
    build_request,
    collect_photos,
    task_units,
    task_weights,
    whole_number,
)
from lib_garment.host.ui.tab_units import unused_maps
from lib_garment.host.webui.messages import warn
from lib_garment.host.webui.progress import webui_progress
from lib_garment.host.webui.settings import model_settings
from lib_garment.presets.deliver import Delivered, deliver_without_generation, plain_background, report_markdown
from lib_garment.request import GarmentRequest
from lib_garment.segment.overlay import overlay_image

# ----- what the handlers return --------------------------------------------------------------------------------


def message_html(errors: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The message line: errors in red, notes plain (gradio's HTML, so every text is escaped)."""
    parts = [f"<div class='garment-studio-error'>{html.escape(text)}</div>" for text in errors]
    parts += [f"<div class='garment-studio-note'>{html.escape(text)}</div>" for text in notes]
    return "".join(parts)


@dataclass
class PreviewOutputs:
    gallery: list[tuple[Image.Image, str]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    prepared: list[Prepared] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[Any, ...]:
        summary = "\n".join(f"- {line}" for line in self.summary)
        return self.gallery, summary, gr.update(selected="preview"), message_html(self.errors, self.notes)


@dataclass
class GenerateOutputs:
    results: list[tuple[Image.Image, str]] = field(default_factory=list)
    overlays: list[tuple[Image.Image, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # per result: its preset's table (Markdown), or ""
    files: list[str] = field(default_factory=list)
    infotexts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def report_text(self) -> str:
        """Under the results: each one's line, and its preset's pass/fail table after it."""
        parts = []
        for k, line in enumerate(self.kept):
            table = self.reports[k] if k < len(self.reports) else ""
            parts.append(f"- {line}" + (f"\n\n{table}\n" if table else ""))
        return "\n".join(parts)

    def outputs(self) -> tuple[Any, ...]:
        return (
            self.results,
            self.overlays,
            self.report_text(),
            self.files or None,
            self.infotexts[0] if self.infotexts else "",
            list(self.infotexts),
            gr.update(selected="results"),
            message_html(self.errors, self.notes),  # last: the WebUI's wrapper appends its timing to it
        )


PREVIEW_OUTPUTS = 4
GENERATE_OUTPUTS = 8


def _picture(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(array))


def _kept_pixels(prepared: Prepared) -> int:
    return int(np.count_nonzero(prepared.plan.keep_alpha >= 1.0))


def _caption(key: str) -> str:
    """A preview image's caption: "mask overlay", "alpha", "canny map"…"""
    if key.startswith("maps/"):
        return f"{key[len('maps/'):]} map"
    return {"overlay": "mask overlay", "inpaint_mask": "inpaint mask"}.get(key, key)


def describe_prepared(name: str, prepared: Prepared) -> str:
    """One summary line: mask source, kept pixel count, sizes, units and notes."""
    plan = prepared.plan
    width, height = plan.photo_size
    source = "your mask" if prepared.mask_source == "mask" else "the Keep phrase"
    units = ", ".join(f"{unit.kind} {unit.weight:g}" for unit in plan.units) or "none"
    line = (
        f"**{name}** ({width}×{height}): mask from {source}; {_kept_pixels(prepared)} kept pixels; "
        f"generated at {plan.width}×{plan.height}; units: {units}"
    )
    if prepared.notes:
        line += "; notes: " + "; ".join(prepared.notes)
    return line


# ----- the two jobs --------------------------------------------------------------------------------------------


class _Stop(Exception):
    """Stop the batch (the message is already recorded)."""


@dataclass
class TabJob:
    """A job the widgets describe: the request, its photos and its up-front check."""

    request: GarmentRequest
    photos: list[Photo]
    checks: JobChecks


def _start(
    inputs: TabInputs, errors: list[str], notes: list[str], per_photo: int, *, generating: bool
) -> TabJob | None:
    """The job, or None with the reason in ``errors``; sets the WebUI's job count. The job's check (restore
    options; for Generate ControlNet and its models too) runs here, once, before any model."""
    check = check_generation if generating else check_preview
    try:
        request = build_request(inputs)
        photos = collect_photos(inputs)
        checks = check(request, scripts.scripts_img2img)
    except GarmentError as err:
        errors.append(str(err))
        return None
    shared.state.job_count = len(photos) * (1 if plain_background(request) else per_photo)
    notes.extend(unused_maps(request, inputs.maps))
    if generating and plain_background(request) and request.generation.batch_count > 1:
        notes.append(
            f"batch count {request.generation.batch_count}: a plain background is not generated, so each photo "
            "gives one result"
        )
    return TabJob(request, photos, checks)


def _prepare(job: TabJob, photo: Photo) -> Prepared:
    with webui_progress() as progress:
        env = model_settings(progress)
        return prepare(
            job.request, photo.pixels, env, mask=photo.mask, supplied_maps=photo.maps, units=job.checks.units
        )


def _interrupted(notes: list[str], done: int, total: int) -> bool:
    if shared.state.interrupted:
        notes.append(f"Interrupted: {done} of {total} photos done.")
        return True
    return False


def _skipped(notes: list[str], name: str) -> bool:
    if shared.state.skipped:
        shared.state.skipped = False
        notes.append(f"{name}: skipped")
        return True
    return False


def _failure(name: str, err: Exception, errors: list[str]) -> None:
    """Record why ``name`` failed; raise _Stop when the next photos would fail the same way."""
    if isinstance(err, BadInput):  # about this photo (nothing found, empty mask): the others may be fine
        errors.append(f"{name}: {err}")
        return
    if isinstance(err, GarmentError):  # models, ControlNet: the same for every photo
        errors.append(f"{name}: {err}")
        raise _Stop
    traceback.print_exc()
    warn(f"internal error on {name}: {type(err).__name__}: {err}")
    errors.append(f"{name}: internal error: {type(err).__name__}: {err} (please report it; details in the console)")
    raise _Stop


def run_preview(inputs: TabInputs) -> PreviewOutputs:
    """Segmentation, maps and plan for every photo, no generation."""
    out = PreviewOutputs()
    job = _start(inputs, out.errors, out.notes, per_photo=1, generating=False)
    if job is None:
        return out
    photos = job.photos
    try:
        for index, photo in enumerate(photos):
            if _interrupted(out.notes, index, len(photos)):
                break
            shared.state.textinfo = f"Garment Studio: preview of {photo.name} ({index + 1}/{len(photos)})"
            try:
                prepared = _prepare(job, photo)
            except Exception as err:  # noqa: BLE001 - every failure becomes a message in the tab
                _failure(photo.name, err, out.errors)
                continue
            finally:
                shared.state.nextjob()
            out.prepared.append(prepared)
            out.summary.append(describe_prepared(photo.name, prepared))
            prefix = f"{photo.name}: " if len(photos) > 1 else ""
            images = preview_images(prepared).items()
            out.gallery += [(_picture(array), prefix + _caption(key)) for key, array in images]
    except _Stop:
        pass
    return out


@dataclass
class _Result:
    """One result to show and save: the picture, the matte its kept area is tinted by, its kept-pixel line, its
    delivery (None: the composite is the result), its seed, the WebUI's infotext of its generation (``base``,
    which run_plan already gave the delivery's lines) and the lines to add to it."""

    caption: str
    image: np.ndarray
    alpha: np.ndarray
    kept: str
    delivered: Delivered | None
    seed: Any = None
    base: str = ""
    lines: dict[str, str] = field(default_factory=dict)


def _add_result(out: GenerateOutputs, folder: tuple[str, str], request: GarmentRequest, result: _Result) -> None:
    caption, done, extra = result.caption, result.delivered, result.lines
    # The saved file records the request too (as the always-on script's outputs do); what "Send to" pastes
    # does not, so sending a result on does not switch the img2img section of Garment Studio on.
    paste = with_params(result.base, extra)
    saved = with_params(result.base, {**extra, INFOTEXT_KEY: request_infotext(request)})
    picture = _picture(result.image)
    picture.info["parameters"] = saved
    try:
        if done is not None:  # a preset's file as it was checked (its format), or the plain background's PNG
            out.files.append(save_delivered(done, folder, result.seed, request.prompt, saved))
        else:
            out.files.append(save_result(picture, folder, result.seed, request.prompt, saved))
    except Exception as err:  # noqa: BLE001 - the result is still shown; say why there is no file
        warn(f"could not save {caption}: {type(err).__name__}: {err}")
        out.notes.append(f"{caption}: not saved ({type(err).__name__}: {err})")
    out.results.append((picture, caption))
    out.overlays.append((_picture(overlay_image(result.image, result.alpha)), f"{caption}: kept area"))
    line = result.kept or "nothing generated"
    if done is not None and done.framed is not None:
        line += f"; framed on {done.framed.report.preset}'s canvas, {done.framed.placement.describe()}"
    if done is not None and done.background_line():
        line += f"; background {done.background_line()}"
    out.kept.append(f"{caption}: {line}")
    out.reports.append(report_markdown(done.report) if done is not None and done.report is not None else "")
    out.infotexts.append(paste)


def _deliver(
    out: GenerateOutputs,
    folder: tuple[str, str],
    name: str,
    prepared: Prepared,
    result: PlanOutputs,
    request: GarmentRequest,
) -> None:
    seeds = result.info.get("seeds") or []
    bases = result.info.get("infotexts") or []
    for k, check in enumerate(result.kept):
        done = result.delivered[k] if k < len(result.delivered) else None
        found = _Result(
            caption=f"{name} #{k + 1}" if len(result.images) > 1 else name,
            image=result.result(k),
            alpha=done.alpha if done is not None else prepared.plan.keep_alpha,
            kept=check.describe(),
            delivered=done,
            seed=seeds[k] if k < len(seeds) else None,
            base=bases[k] if k < len(bases) else "",
            lines={KEPT_KEY: check.describe()},
        )
        _add_result(out, folder, request, found)


def _plain_photo(out: GenerateOutputs, folder: tuple[str, str], job: TabJob, photo: Photo) -> None:
    """One photo on the plain background: no generation (the engine's one path for it); raises _Stop when the
    next photos would fail the same way."""
    try:
        with webui_progress() as progress:
            prepared, done = deliver_without_generation(
                job.request, photo.pixels, model_settings(progress), mask=photo.mask, presets=job.checks.presets
            )
    except Exception as err:  # noqa: BLE001 - every failure becomes a message in the tab
        _failure(photo.name, err, out.errors)
        return
    finally:
        shared.state.nextjob()
    kept = ""
    if done.framed is None:  # not framed: the photo's size, its α = 1 pixels the photographed ones
        kept = check_kept(prepared.photo, done.image, prepared.plan.keep_alpha).describe()
    lines = {**({KEPT_KEY: kept} if kept else {}), **delivery_params(done)}
    _add_result(out, folder, job.request, _Result(photo.name, done.image, done.alpha, kept, done, lines=lines))
    out.notes += [f"{photo.name}: {note}" for note in prepared.notes]


def _reported(out: GenerateOutputs, name: str, prepared: Prepared, result: PlanOutputs, done: str) -> bool:
    """The photo's notes; True when the generation was interrupted (what it made is delivered already)."""
    if prepared.plan.units and result.info.get("controlnet"):
        out.notes.append(f"{name}: ControlNet: {result.info['controlnet']}")
    out.notes += [f"{name}: {note}" for note in (*prepared.notes, *result.info.get("notes", []))]
    if result.info.get("interrupted"):
        out.notes.append(f"Interrupted: {done} photos done.")
        return True
    return False


def run_generate(inputs: TabInputs) -> GenerateOutputs:
    """Every photo in turn: prepare, generate with the WebUI's current checkpoint, composite, save."""
    out = GenerateOutputs()
    try:
        batch_count = whole_number(inputs.batch_count, "batch count", 1)
    except BadInput as err:
        out.errors.append(str(err))
        return out
    job = _start(inputs, out.errors, out.notes, per_photo=max(1, batch_count), generating=True)
    if job is None:
        return out
    request, photos = job.request, job.photos
    folder = output_folder()
    try:
        for index, photo in enumerate(photos):
            if _interrupted(out.notes, index, len(photos)):
                break
            shared.state.textinfo = f"Garment Studio: {photo.name} ({index + 1}/{len(photos)})"
            if plain_background(request):  # no generation: the product on the plain colour
                _plain_photo(out, folder, job, photo)
                continue
            try:
                prepared = _prepare(job, photo)
                if _interrupted(out.notes, index, len(photos)):
                    break
                if _skipped(out.notes, photo.name):
                    continue
                result = run_plan(prepared.plan, request, job.checks)
            except Exception as err:  # noqa: BLE001 - every failure becomes a message in the tab
                if shared.state.interrupted:
                    out.notes.append(f"Interrupted: {index} of {len(photos)} photos done.")
                    break
                if _skipped(out.notes, photo.name):
                    continue
                _failure(photo.name, err, out.errors)
                continue
            shared.state.skipped = False  # a Skip during this photo's sampling is spent on it
            _deliver(out, folder, photo.name, prepared, result, request)
            if _reported(out, photo.name, prepared, result, f"{index} of {len(photos)}"):
                break
    except _Stop:
        pass
    return out


# ----- gradio wiring -------------------------------------------------------------------------------------------


def preview_clicked(*values: Any) -> tuple[Any, ...]:
    return run_preview(TabInputs.from_values(values)).outputs()


def generate_clicked(*values: Any) -> tuple[Any, ...]:
    return run_generate(TabInputs.from_values(values)).outputs()


def selected_infotext(infotexts: list[str], evt: gr.SelectData) -> str:
    """The infotext of the result selected in the gallery: what "Send to img2img" pastes."""
    index = evt.index if isinstance(evt.index, int) else 0
    return infotexts[index] if 0 <= index < len(infotexts or []) else ""


def task_changed(task: str) -> tuple[Any, ...]:
    """The task's default units and weights."""
    weights = task_weights(task)
    return (gr.update(value=task_units(task)), *(gr.update(value=weights[kind]) for kind in UNIT_KINDS))
