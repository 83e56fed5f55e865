"""The "Garment Studio" tab: photo(s) → what to keep → prompts and units → Preview → Generate → results.

Layout (left: inputs; right: outputs; the environment report at the bottom):

- photo editor (paint the product to keep it; :mod:`lib_garment.host.mask_editor`), and in an accordion a mask to
  upload for that photo plus more photos, processed in turn and segmented by the Keep phrase;
- task (background | model), Keep phrase(s), prompt, negative prompt;
- ControlNet units (map kinds, preset with the task's defaults) and, folded, their weights;
- generation (sampler, steps, CFG, seed, batch count) and, folded, segmentation options;
- folded, "Restore hands and faces" (:mod:`lib_garment.host.tab_restore`): the request's restore options, so
  Generate restores each result, and "Restore this image" for a finished one;
- Preview / Generate / Interrupt / Skip, one message line, then two output tabs: Preview (mask overlay, mask,
  alpha, inpaint mask and every control map, with a summary) and Results (composited results, the kept area
  tinted on each, the kept check, files to download, Send to img2img / inpaint);
- "Environment and models": the status panel (:mod:`lib_garment.host.status_tab`).

The handlers hold no pipeline logic: they read the widgets into the one request model (``parse_request``), hand
each photo to the engine (``prepare``) and the host's job runner (``run_plan``), and turn what comes back into
gallery items and text. Both run under the WebUI's queue lock with a task id (``wrap_gradio_gpu_call``), so the
WebUI's progress bar follows them and its Interrupt/Skip apply between photos. Expected failures (bad input,
missing models, ControlNet missing) become a message in the tab; anything else a one-line "internal error"
there and the traceback in the console.
"""

from __future__ import annotations

import html
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from modules import scripts, shared
from PIL import Image

from lib_garment.errors import BadInput, GarmentError
from lib_garment.generate.outputs import preview_images
from lib_garment.generate.plan import DEFAULT_CFG, DEFAULT_STEPS
from lib_garment.generate.prepare import Prepared, prepare
from lib_garment.generate.tasks import DEFAULT_UNITS
from lib_garment.host.always_on import INFOTEXT_KEY, KEPT_KEY, infotext_value
from lib_garment.host.jobs import (
    DEFAULT_SAMPLER,
    GenerationResult,
    check_controlnet,
    engine_environment,
    output_folder,
    run_plan,
    save_result,
)
from lib_garment.host.jobs import sampler_names as jobs_sampler_names
from lib_garment.host.mask_editor import build_editor, combined_mask, gradio_major, normalise, uploaded_mask
from lib_garment.host.messages import warn
from lib_garment.host.progress import webui_progress
from lib_garment.host.restore_setup import check_restore
from lib_garment.host.status_tab import status_panel, unload_models
from lib_garment.host.tab_model import MODEL_INPUT_NAMES, build_model_fields, model_fields_shown, split_model_values
from lib_garment.host.tab_restore import RESTORE_NAMES, restore_accordion, restore_options, wire_standalone
from lib_garment.host.tab_units import (
    build_guidance,
    build_map_uploads,
    check_uploaded_maps,
    guidance_fields,
    split_unit_values,
    supplied_maps,
    unit_input_names,
    unused_maps,
)
from lib_garment.imageio import image_to_rgb, read_image
from lib_garment.request import MAP_KINDS, GarmentRequest, parse_request
from lib_garment.segment.overlay import overlay_image

GRADIO_MAJOR = gradio_major()
ELEM = "garment_studio"
TASKS = ("background", "model")
# Checkbox order: the model task's defaults read in their own order (pose, mask_canny, depth), and so do the
# background task's (mask_canny, normal).
UNIT_KINDS = ("pose", "mask_canny", *(kind for kind in MAP_KINDS if kind not in ("pose", "mask_canny")))
UNIT_HELP = (
    "pose: the person's pose · mask_canny: outline of the kept product · canny: edges of the photo · "
    "lines: straight lines · depth · normal (from depth)"
)
MATTES = ("vitmatte", "classic", "none")
EDITOR_PHOTO_NAME = "photo"
# Results: the only gallery whose id ends in "_gallery", so the WebUI's "Send to" picks the selected result there
RESULTS_GALLERY = f"{ELEM}_results_gallery"
OUTPUT_TABS = f"{ELEM}_output_tabs"


# ----- reading the widgets -------------------------------------------------------------------------------------


def task_weights(task: str) -> dict[str, float]:
    """Each unit kind's default weight for ``task`` (1.0 for kinds the task does not use by default)."""
    defaults = {unit.kind: unit.weight for unit in DEFAULT_UNITS.get(task, ())}
    return {kind: defaults.get(kind, 1.0) for kind in UNIT_KINDS}


def task_units(task: str) -> list[str]:
    return [unit.kind for unit in DEFAULT_UNITS.get(task, ())]


@dataclass
class TabInputs:
    """The widgets' values, by name (the order of :data:`INPUT_NAMES` is the order gradio passes them in)."""

    task_id: str = ""
    photo: Any = None  # the editor's value (gradio 3 or 4 shape)
    mask_upload: Any = None
    more_photos: Any = None
    task: str = "background"
    phrases: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    units: Sequence[str] | None = None  # None: the task's defaults
    weights: dict[str, float] = field(default_factory=dict)
    matte: str = "vitmatte"
    box_threshold: float = 0.35
    allow_without_controlnet: bool = False
    sampler: str | None = DEFAULT_SAMPLER
    steps: float = DEFAULT_STEPS
    cfg_scale: float = DEFAULT_CFG
    seed: float = -1
    batch_count: float = 1
    restore: dict[str, Any] | None = None  # the request's restore options (tab_restore.RESTORE_NAMES widgets)
    guidance: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # kind: (start, end); absent: 0 and 1
    maps: dict[str, Any] = field(default_factory=dict)  # kind: the user's own map (PIL) for the editor's photo
    model: dict[str, str] = field(default_factory=dict)  # the model task's person, by field

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> TabInputs:
        named = dict(zip(INPUT_NAMES, values[: len(INPUT_NAMES)], strict=True))
        weights = {kind: named.pop(f"weight_{kind}") for kind in UNIT_KINDS}
        rest = values[len(INPUT_NAMES) :]  # the restore widgets' values follow the tab's own inputs
        restore = restore_options(rest) if rest else None
        guidance, maps = split_unit_values(named, UNIT_KINDS)
        model = split_model_values(named)
        weights = {k: v for k, v in weights.items() if v is not None}
        return cls(**named, weights=weights, guidance=guidance, maps=maps, model=model, restore=restore)


INPUT_NAMES = (
    "task_id",
    "photo",
    "mask_upload",
    "more_photos",
    "task",
    "phrases",
    "prompt",
    "negative_prompt",
    "units",
    *(f"weight_{kind}" for kind in UNIT_KINDS),
    "matte",
    "box_threshold",
    "allow_without_controlnet",
    "sampler",
    "steps",
    "cfg_scale",
    "seed",
    "batch_count",
    *unit_input_names(UNIT_KINDS),
    *MODEL_INPUT_NAMES,
)


def _whole(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise BadInput(f"{name} must be a whole number, got {value!r}")
    return int(number)


def build_request(inputs: TabInputs) -> GarmentRequest:
    """The request the widgets describe (BadInput names the field when a value is out of range)."""
    task = inputs.task or "background"
    chosen = task_units(task) if inputs.units is None else [k for k in UNIT_KINDS if k in set(inputs.units)]
    unknown = sorted(set(inputs.units or ()) - set(UNIT_KINDS))
    if unknown:
        raise BadInput(f"unknown unit kind(s): {', '.join(unknown)}")
    weights = {**task_weights(task), **inputs.weights}
    units = [
        {"kind": kind, "weight": float(weights[kind]), **guidance_fields(inputs.guidance, kind)} for kind in chosen
    ]
    return parse_request(
        {
            "task": task,
            **({"model": dict(inputs.model)} if task == "model" and inputs.model else {}),
            "prompt": inputs.prompt or "",
            "negative_prompt": inputs.negative_prompt or "",
            "segment": {
                "phrases": inputs.phrases or "",
                "matte": inputs.matte or "vitmatte",
                "box_threshold": 0.35 if inputs.box_threshold is None else float(inputs.box_threshold),
            },
            "control": units,
            "generation": {
                "sampler": inputs.sampler or None,
                "steps": _whole(inputs.steps, "steps", DEFAULT_STEPS),
                "cfg_scale": DEFAULT_CFG if inputs.cfg_scale is None else float(inputs.cfg_scale),
                "batch_count": _whole(inputs.batch_count, "batch count", 1),
            },
            "seed": _whole(inputs.seed, "seed", -1),
            "allow_without_controlnet": bool(inputs.allow_without_controlnet),
            **({"restore": inputs.restore} if inputs.restore is not None else {}),
        }
    )


@dataclass(frozen=True, eq=False)
class Photo:
    name: str
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    mask: np.ndarray | None  # (H, W) uint8, non-zero = keep; None: the Keep phrase decides
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # the user's own control maps, by kind


def _file_path(item: Any) -> str:
    """A path from what gr.File hands over: a path (gradio 4), a temp file object (gradio 3) or a file dict."""
    if isinstance(item, dict):
        item = item.get("path") or item.get("name")
    path = getattr(item, "name", item)
    if not isinstance(path, str | Path):
        raise BadInput(f"unexpected upload {type(item).__name__}")
    return str(path)


def collect_photos(inputs: TabInputs) -> list[Photo]:
    """The editor's photo (with the painted and/or uploaded mask), then every extra photo, in order."""
    editor = normalise(inputs.photo)
    upload = uploaded_mask(inputs.mask_upload)
    check_uploaded_maps(inputs.maps, editor.image is not None)
    photos = []
    if editor.image is not None:
        pixels, mask = image_to_rgb(editor.image, "photo"), combined_mask(editor, upload)
        photos.append(Photo(EDITOR_PHOTO_NAME, pixels, mask, supplied_maps(inputs.maps)))
    elif upload is not None:
        raise BadInput("the uploaded mask belongs to the photo in the editor: upload that photo there as well")
    more = inputs.more_photos or []
    for item in more if isinstance(more, list | tuple) else [more]:
        path = _file_path(item)
        photos.append(Photo(Path(path).name, read_image(path), None))
    if not photos:
        raise BadInput("upload a photo first (in the editor, or several under 'More photos')")
    return photos


# ----- what the handlers return --------------------------------------------------------------------------------


def message_html(errors: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The message line: errors in red, notes plain (gradio's HTML, so every text is escaped)."""
    parts = [f"<div class='garment-studio-error'>{html.escape(text)}</div>" for text in errors]
    parts += [f"<div class='garment-studio-note'>{html.escape(text)}</div>" for text in notes]
    return "".join(parts)


@dataclass
class PreviewResult:
    gallery: list[tuple[Image.Image, str]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    prepared: list[Prepared] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[Any, ...]:
        summary = "\n".join(f"- {line}" for line in self.summary)
        return self.gallery, summary, gr.update(selected="preview"), message_html(self.errors, self.notes)


@dataclass
class GenerateResult:
    results: list[tuple[Image.Image, str]] = field(default_factory=list)
    overlays: list[tuple[Image.Image, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    infotexts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[Any, ...]:
        kept = "\n".join(f"- {line}" for line in self.kept)
        return (
            self.results,
            self.overlays,
            kept,
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


def _start(
    inputs: TabInputs, errors: list[str], notes: list[str], per_photo: int
) -> tuple[GarmentRequest, list[Photo]] | None:
    """The request and photos, or None with the reason in ``errors``; sets the WebUI's job count."""
    try:
        request = build_request(inputs)
        if request.restore.enabled:  # bad restore options stop the job before any model runs
            check_restore(request.restore, scripts.scripts_img2img)
        photos = collect_photos(inputs)
    except GarmentError as err:
        errors.append(str(err))
        return None
    shared.state.job_count = len(photos) * per_photo
    notes.extend(unused_maps(request, inputs.maps))
    return request, photos


def _prepare(request: GarmentRequest, photo: Photo, units: bool = True) -> Prepared:
    with webui_progress() as progress:
        env = engine_environment(progress)
        return prepare(request, photo.pixels, env, mask=photo.mask, supplied_maps=photo.maps, units=units)


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


def run_preview(inputs: TabInputs) -> PreviewResult:
    """Segmentation, maps and plan for every photo, no generation."""
    out = PreviewResult()
    started = _start(inputs, out.errors, out.notes, per_photo=1)
    if started is None:
        return out
    request, photos = started
    try:
        for index, photo in enumerate(photos):
            if _interrupted(out.notes, index, len(photos)):
                break
            shared.state.textinfo = f"Garment Studio: preview of {photo.name} ({index + 1}/{len(photos)})"
            try:
                prepared = _prepare(request, photo)
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


def result_infotext(base: str, extra: dict[str, str]) -> str:
    """``base`` (the WebUI's infotext of the generation) with ``extra`` appended to its parameter line."""
    from modules import infotext_utils

    pairs = ", ".join(f"{key}: {infotext_utils.quote(value)}" for key, value in extra.items())
    if not base:
        return pairs
    return f"{base}, {pairs}"


def _deliver(
    out: GenerateResult,
    folder: tuple[str, str],
    name: str,
    prepared: Prepared,
    result: GenerationResult,
    request: GarmentRequest,
) -> None:
    seeds = result.info.get("seeds") or []
    bases = result.info.get("infotexts") or []
    for k, (image, check) in enumerate(zip(result.images, result.kept, strict=True)):
        caption = f"{name} #{k + 1}" if len(result.images) > 1 else name
        seed = seeds[k] if k < len(seeds) else None
        base = bases[k] if k < len(bases) else ""
        picture = _picture(image)
        # The saved file records the request too (as the always-on script's outputs do); what "Send to" pastes
        # does not, so sending a result on does not switch the img2img section of Garment Studio on.
        paste = result_infotext(base, {KEPT_KEY: check.describe()})
        saved = result_infotext(base, {KEPT_KEY: check.describe(), INFOTEXT_KEY: infotext_value(request)})
        picture.info["parameters"] = saved
        try:
            out.files.append(save_result(picture, folder, seed, request.prompt, saved))
        except Exception as err:  # noqa: BLE001 - the result is still shown; say why there is no file
            warn(f"could not save {caption}: {type(err).__name__}: {err}")
            out.notes.append(f"{caption}: not saved ({type(err).__name__}: {err})")
        out.results.append((picture, caption))
        out.overlays.append((_picture(overlay_image(image, prepared.plan.keep_alpha)), f"{caption}: kept area"))
        out.kept.append(f"{caption}: {check.describe()}")
        out.infotexts.append(paste)


def _reported(out: GenerateResult, name: str, prepared: Prepared, result: GenerationResult, done: str) -> bool:
    """The photo's notes; True when the generation was interrupted (what it made is delivered already)."""
    if prepared.plan.units and result.info.get("controlnet"):
        out.notes.append(f"{name}: ControlNet: {result.info['controlnet']}")
    out.notes += [f"{name}: {note}" for note in (*prepared.notes, *result.info.get("notes", []))]
    if result.info.get("interrupted"):
        out.notes.append(f"Interrupted: {done} photos done.")
        return True
    return False


def run_generate(inputs: TabInputs) -> GenerateResult:
    """Every photo in turn: prepare, generate with the WebUI's current checkpoint, composite, save."""
    out = GenerateResult()
    try:
        batch_count = _whole(inputs.batch_count, "batch count", 1)
    except BadInput as err:
        out.errors.append(str(err))
        return out
    started = _start(inputs, out.errors, out.notes, per_photo=max(1, batch_count))
    if started is None:
        return out
    request, photos = started
    try:  # ControlNet and its models before any of ours runs; without it (when allowed) no maps are made
        units = check_controlnet(scripts.scripts_img2img, request) is not None
    except GarmentError as err:
        out.errors.append(str(err))
        return out
    folder = output_folder()
    try:
        for index, photo in enumerate(photos):
            if _interrupted(out.notes, index, len(photos)):
                break
            shared.state.textinfo = f"Garment Studio: {photo.name} ({index + 1}/{len(photos)})"
            try:
                prepared = _prepare(request, photo, units)
                if _interrupted(out.notes, index, len(photos)):
                    break
                if _skipped(out.notes, photo.name):
                    continue
                result = run_plan(prepared.plan, request)
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


def preview(*values: Any) -> tuple[Any, ...]:
    return run_preview(TabInputs.from_values(values)).outputs()


def generate(*values: Any) -> tuple[Any, ...]:
    return run_generate(TabInputs.from_values(values)).outputs()


def selected_infotext(infotexts: list[str], evt: gr.SelectData) -> str:
    """The infotext of the result selected in the gallery: what "Send to img2img" pastes."""
    index = evt.index if isinstance(evt.index, int) else 0
    return infotexts[index] if 0 <= index < len(infotexts or []) else ""


def task_changed(task: str) -> tuple[Any, ...]:
    """The task's default units and weights."""
    weights = task_weights(task)
    return (gr.update(value=task_units(task)), *(gr.update(value=weights[kind]) for kind in UNIT_KINDS))


def sampler_names() -> list[str]:
    """The WebUI's samplers (those not hidden in its settings)."""
    return jobs_sampler_names() or [DEFAULT_SAMPLER]


def event_js(code: str) -> dict[str, str]:
    """A browser-side function for an event: ``js=`` on gradio 4, ``_js=`` on gradio 3 (its only spelling)."""
    return {"js": code} if GRADIO_MAJOR >= 4 else {"_js": code}


def submit_js(count: int, gallery: str | None) -> str:
    """javascript/garment_studio.js's submit: a task id for the WebUI's progress bar in the first input."""
    target = f"'{gallery}'" if gallery else "null"
    return f"(...args) => garmentStudioSubmit({count}, args, '{OUTPUT_TABS}', {target})"


def _gallery(label: str, elem_id: str, columns: int) -> Any:
    kwargs: dict[str, Any] = {"columns": columns, "object_fit": "contain", "preview": False}
    if GRADIO_MAJOR >= 4:
        # PNG, not gradio 4's lossy WebP default: these are the deliverables. PIL values for the WebUI's "Send to".
        kwargs.update(format="png", type="pil", interactive=False)
    return gr.Gallery(label=label, elem_id=elem_id, **kwargs)


def _image_upload(label: str, elem_id: str) -> Any:
    sources = {"sources": ["upload"]} if GRADIO_MAJOR >= 4 else {"source": "upload"}
    return gr.Image(label=label, type="pil", image_mode="RGBA", elem_id=elem_id, **sources)


def _paste_support() -> tuple[Any, Any] | None:
    """The WebUI's (register_paste_params_button, ParamBinding), or None where the host has no such API."""
    try:
        from modules import infotext_utils
    except ImportError:
        return None
    register = getattr(infotext_utils, "register_paste_params_button", None)
    binding = getattr(infotext_utils, "ParamBinding", None)
    return (register, binding) if callable(register) and binding is not None else None


def _wrapped(fn: Callable[..., tuple[Any, ...]], count: int) -> Callable[..., tuple[Any, ...]]:
    from modules.call_queue import wrap_gradio_gpu_call

    # On an unexpected exception the WebUI fills every output but the last with these, and the last with its error
    return wrap_gradio_gpu_call(fn, extra_outputs=[gr.update() for _ in range(count - 1)])


def _input_column(samplers: list[str]) -> dict[str, Any]:
    """The left column's widgets by input name (weights as weight_<kind>)."""
    weights = task_weights("background")
    w: dict[str, Any] = {}
    w["photo"] = build_editor("Photo: paint the product to keep it (optional)", f"{ELEM}_photo")
    with gr.Accordion("Uploaded mask and more photos", open=False, elem_id=f"{ELEM}_more"):
        w["mask_upload"] = _image_upload(
            "Mask for the photo above (white or opaque = keep; added to what you paint)", f"{ELEM}_mask_upload"
        )
        w["more_photos"] = gr.File(
            label="More photos, processed in turn (segmented by the Keep phrase)",
            file_count="multiple",
            file_types=["image"],
            elem_id=f"{ELEM}_more_photos",
        )
    w["task"] = gr.Radio(list(TASKS), value="background", label="Task", elem_id=f"{ELEM}_task")
    w["phrases"] = gr.Textbox(
        label="Keep: what to segment (several: 'dress . belt'); not needed where you paint or upload a mask",
        placeholder="white t-shirt",
        elem_id=f"{ELEM}_phrases",
    )
    w["model_group"], model_fields = build_model_fields(ELEM, visible=False)  # shown for the model task
    w.update(model_fields)
    w["prompt"] = gr.Textbox(
        label="Prompt", lines=2, placeholder="on a marble table, soft daylight", elem_id=f"{ELEM}_prompt"
    )
    w["negative_prompt"] = gr.Textbox(label="Negative prompt", lines=2, elem_id=f"{ELEM}_negative_prompt")
    w["units"] = gr.CheckboxGroup(
        list(UNIT_KINDS),
        value=task_units("background"),
        label=f"ControlNet units ({UNIT_HELP})",
        elem_id=f"{ELEM}_units",
    )
    with gr.Accordion("Unit weights and guidance", open=False, elem_id=f"{ELEM}_weights"):
        for kind in UNIT_KINDS:
            w[f"weight_{kind}"] = gr.Slider(
                0.0, 2.0, value=weights[kind], step=0.05, label=kind, elem_id=f"{ELEM}_weight_{kind}"
            )
        gr.Markdown("When each unit acts: from start to end, as shares of the sampling steps.")
        w.update(build_guidance(UNIT_KINDS, ELEM))
    with gr.Accordion("Your own control maps (optional)", open=False, elem_id=f"{ELEM}_own_maps"):
        w.update(build_map_uploads(UNIT_KINDS, ELEM, GRADIO_MAJOR))
    with gr.Row():
        default = DEFAULT_SAMPLER if DEFAULT_SAMPLER in samplers else samplers[0]
        w["sampler"] = gr.Dropdown(samplers, value=default, label="Sampling method", elem_id=f"{ELEM}_sampler")
        w["steps"] = gr.Slider(1, 150, value=DEFAULT_STEPS, step=1, label="Sampling steps", elem_id=f"{ELEM}_steps")
    with gr.Row():
        w["cfg_scale"] = gr.Slider(1.0, 30.0, value=DEFAULT_CFG, step=0.5, label="CFG Scale", elem_id=f"{ELEM}_cfg")
        w["seed"] = gr.Number(value=-1, precision=0, label="Seed (-1: random)", elem_id=f"{ELEM}_seed")
        w["batch_count"] = gr.Slider(1, 100, value=1, step=1, label="Batch count", elem_id=f"{ELEM}_batch_count")
    with gr.Accordion("Segmentation and ControlNet", open=False, elem_id=f"{ELEM}_advanced"):
        w["matte"] = gr.Radio(list(MATTES), value="vitmatte", label="Matte (soft edge)", elem_id=f"{ELEM}_matte")
        w["box_threshold"] = gr.Slider(
            0.0, 1.0, value=0.35, step=0.01, label="Detection threshold", elem_id=f"{ELEM}_box_threshold"
        )
        w["allow_without_controlnet"] = gr.Checkbox(
            False,
            label="Generate without ControlNet units when ControlNet is not installed",
            elem_id=f"{ELEM}_allow_without_controlnet",
        )
    w["restore"] = restore_accordion(GRADIO_MAJOR)
    return w


def _output_column(paste: bool) -> dict[str, Any]:
    """The right column's widgets by name."""
    w: dict[str, Any] = {}
    with gr.Row():
        w["preview"] = gr.Button("Preview", elem_id=f"{ELEM}_preview")
        w["generate"] = gr.Button("Generate", variant="primary", elem_id=f"{ELEM}_generate")
    with gr.Row():
        w["interrupt"] = gr.Button("Interrupt", elem_id=f"{ELEM}_interrupt")
        w["skip"] = gr.Button("Skip", elem_id=f"{ELEM}_skip")
    w["message"] = gr.HTML("", elem_id=f"{ELEM}_message")
    with gr.Tabs(elem_id=OUTPUT_TABS) as w["tabs"]:
        with gr.Tab("Results", id="results", elem_id=f"{ELEM}_results_tab"):
            w["results"] = _gallery("Results", RESULTS_GALLERY, columns=2)
            w["kept"] = gr.Markdown("", elem_id=f"{ELEM}_kept")
            w["overlays"] = _gallery("Kept area (tinted)", f"{ELEM}_kept_overlays", columns=4)
            w["files"] = gr.File(label="Download", file_count="multiple", interactive=False, elem_id=f"{ELEM}_files")
            with gr.Row(visible=paste):
                w["send_img2img"] = gr.Button("Send to img2img", elem_id=f"{ELEM}_send_img2img")
                w["send_inpaint"] = gr.Button("Send to inpaint", elem_id=f"{ELEM}_send_inpaint")
            w["infotext"] = gr.Textbox(visible=False, elem_id=f"{ELEM}_infotext")
            w["infotexts"] = gr.State([])  # every result's, for the one selected in the gallery
        with gr.Tab("Preview", id="preview", elem_id=f"{ELEM}_preview_tab"):
            w["maps"] = _gallery("Mask, matte, inpaint mask and control maps", f"{ELEM}_maps", columns=4)
            w["summary"] = gr.Markdown("", elem_id=f"{ELEM}_summary")
    return w


def build_tab(status: Callable[[], str], unload: Callable[[], str] = unload_models) -> gr.Blocks:
    """The tab (see the module docstring); ``status``/``unload`` feed its environment panel."""
    paste = _paste_support()
    with gr.Blocks(analytics_enabled=False) as block:
        gr.Markdown(
            "## Garment Studio\nUpload a photo of the garment, say (or paint) what to keep, preview the masks and "
            "control maps, then generate: the kept pixels stay exactly the photographed ones.",
            elem_id=f"{ELEM}_intro",
        )
        task_id = gr.Textbox(visible=False, elem_id=f"{ELEM}_task_id")
        with gr.Row(elem_id=f"{ELEM}_workflow"):
            with gr.Column(scale=1, elem_id=f"{ELEM}_inputs"):
                given = _input_column(sampler_names())
            with gr.Column(scale=1, elem_id=f"{ELEM}_outputs"):
                out = _output_column(paste is not None)
        with gr.Accordion("Environment and models", open=False, elem_id=f"{ELEM}_environment"):
            status_panel(status, unload)

        restore = given["restore"]
        inputs = [task_id, *(given[name] for name in INPUT_NAMES[1:]), *(restore[name] for name in RESTORE_NAMES)]
        weights = [given[f"weight_{kind}"] for kind in UNIT_KINDS]
        given["task"].change(fn=task_changed, inputs=[given["task"]], outputs=[given["units"], *weights])
        given["task"].change(fn=model_fields_shown, inputs=[given["task"]], outputs=[given["model_group"]])
        out["results"].select(fn=selected_infotext, inputs=[out["infotexts"]], outputs=[out["infotext"]])
        out["preview"].click(
            fn=_wrapped(preview, PREVIEW_OUTPUTS),
            inputs=inputs,
            outputs=[out["maps"], out["summary"], out["tabs"], out["message"]],
            **event_js(submit_js(len(inputs), None)),
        )
        out["generate"].click(
            fn=_wrapped(generate, GENERATE_OUTPUTS),
            inputs=inputs,
            outputs=[
                out[k] for k in ("results", "overlays", "kept", "files", "infotext", "infotexts", "tabs", "message")
            ],
            **event_js(submit_js(len(inputs), RESULTS_GALLERY)),
        )
        wire_standalone(restore, task_id, out["results"], given, _wrapped, lambda n: event_js(submit_js(n, None)))
        out["interrupt"].click(fn=lambda: shared.state.interrupt(), inputs=[], outputs=[])
        out["skip"].click(fn=lambda: shared.state.skip(), inputs=[], outputs=[])
        if paste is not None:
            register, binding = paste
            # img2img gets the image and the generation's parameters; inpaint the image only (the WebUI's paste of
            # parameters into inpaint calls a browser function the WebUI does not define)
            register(
                binding(
                    paste_button=out["send_img2img"],
                    tabname="img2img",
                    source_image_component=out["results"],
                    source_text_component=out["infotext"],
                )
            )
            register(
                binding(paste_button=out["send_inpaint"], tabname="inpaint", source_image_component=out["results"])
            )
    return block
