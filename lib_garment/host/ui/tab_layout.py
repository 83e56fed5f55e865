"""The "Garment Studio" tab: photo(s) → what to keep → prompts and units → Preview → Generate → results.

Layout (left: inputs; right: outputs; the environment report at the bottom):

- photo editor (paint the product to keep it; :mod:`lib_garment.host.ui.mask_editor`), and in an accordion a mask to
  upload for that photo plus more photos, processed in turn and segmented by the Keep phrase;
- task (background | model), Keep phrase(s), prompt, negative prompt;
- ControlNet units (map kinds, preset with the task's defaults) and, folded, their weights;
- generation (sampler, steps, CFG, seed, batch count) and, folded, segmentation options;
- folded, "Restore hands and faces" (:mod:`lib_garment.host.ui.tab_restore`): the request's restore options, so
  Generate restores each result, and "Restore this image" for a finished one;
- folded, "Marketplace preset and background": the preset (its canvas, rules and file format; "none"), the
  background (none: the generated scene; white or a custom "#RRGGBB": the product on that colour, nothing
  generated) and the shadow (none, contact, drop);
- Preview / Generate / Interrupt / Skip, one message line, then two output tabs: Preview (mask overlay, mask,
  alpha, inpaint mask and every control map, with a summary) and Results (composited results, the kept area
  tinted on each, the kept check and each result's pass/fail table of its preset, files to download (a preset's
  result in its format), Send to img2img / inpaint);
- folded, "Catalogue" (:mod:`lib_garment.host.ui.tab_catalogue`): a manifest of SKUs made in the background with
  the settings above as every row's base request, its jobs' table and thumbnails;
- "Environment and models": the status panel (:mod:`lib_garment.host.ui.status_tab`).

This module lays the widgets out and wires them; the values are read in :mod:`.tab_inputs` and the Preview and
Generate jobs run in :mod:`.tab_handlers`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
from modules import shared

from lib_garment.errors import BadInput
from lib_garment.host.ui.mask_editor import build_editor, gradio_major
from lib_garment.host.ui.status_tab import status_panel, unload_and_report
from lib_garment.host.ui.tab_catalogue import build_catalogue
from lib_garment.host.ui.tab_handlers import (
    GENERATE_OUTPUTS,
    PREVIEW_OUTPUTS,
    generate_clicked,
    preview_clicked,
    selected_infotext,
    task_changed,
)
from lib_garment.host.ui.tab_inputs import (
    BACKGROUNDS,
    DEFAULT_CFG,
    DEFAULT_STEPS,
    INPUT_NAMES,
    MATTES,
    NO_PRESET,
    SHADOWS,
    TASKS,
    UNIT_KINDS,
    task_units,
    task_weights,
)
from lib_garment.host.ui.tab_model import build_model_fields, model_fields_shown
from lib_garment.host.ui.tab_restore import RESTORE_NAMES, restore_accordion, wire_standalone
from lib_garment.host.ui.tab_units import build_guidance, build_map_uploads
from lib_garment.host.webui.messages import warn
from lib_garment.host.webui.processing import DEFAULT_SAMPLER
from lib_garment.host.webui.processing import sampler_names as webui_sampler_names
from lib_garment.host.webui.settings import current_settings
from lib_garment.presets.load import load_presets

GRADIO_MAJOR = gradio_major()
ELEM = "garment_studio"
UNIT_HELP = (
    "pose: the person's pose · mask_canny: outline of the kept product · canny: edges of the photo · "
    "lines: straight lines · depth · normal (from depth)"
)
# Results: the only gallery whose id ends in "_gallery", so the WebUI's "Send to" picks the selected result there
RESULTS_GALLERY = f"{ELEM}_results_gallery"
OUTPUT_TABS = f"{ELEM}_output_tabs"


def sampler_choices() -> list[str]:
    """The WebUI's samplers (those not hidden in its settings)."""
    return webui_sampler_names() or [DEFAULT_SAMPLER]


def preset_choices() -> list[str]:
    """ "none", then every preset's name (shipped and the user's); a broken user file is said in the console and
    leaves the shipped ones (Generate names the file when that preset is chosen)."""
    try:
        names = load_presets(current_settings().models_root()).names
    except BadInput as err:
        warn(f"the preset list is incomplete: {err}")
        names = load_presets(user=current_settings().models_root() / "__no_user_presets__").names
    return [NO_PRESET, *names]


def _output_options(w: dict[str, Any]) -> None:
    """The preset, background and shadow widgets (the request's ``preset`` and ``output`` fields)."""
    with gr.Accordion("Marketplace preset and background", open=False, elem_id=f"{ELEM}_delivery"):
        w["preset"] = gr.Dropdown(
            preset_choices(),
            value=NO_PRESET,
            label="Preset: frame each result on the marketplace's canvas, save it in its format and check its rules",
            elem_id=f"{ELEM}_preset",
        )
        with gr.Row():
            w["background"] = gr.Radio(
                list(BACKGROUNDS),
                value="none",
                label="Background (white or custom: the product on that colour, nothing generated)",
                elem_id=f"{ELEM}_background",
            )
            w["background_colour"] = gr.Textbox(
                "", label="Custom colour", placeholder="#F5F5F5", elem_id=f"{ELEM}_background_colour"
            )
        w["shadow"] = gr.Radio(
            list(SHADOWS), value="none", label="Shadow (on a plain background or a preset)", elem_id=f"{ELEM}_shadow"
        )


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
    _output_options(w)
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


def build_tab(status: Callable[[], str], unload: Callable[[], str] = unload_and_report) -> gr.Blocks:
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
                given = _input_column(sampler_choices())
            with gr.Column(scale=1, elem_id=f"{ELEM}_outputs"):
                out = _output_column(paste is not None)
        restore = given["restore"]
        inputs = [task_id, *(given[name] for name in INPUT_NAMES[1:]), *(restore[name] for name in RESTORE_NAMES)]
        build_catalogue(inputs, GRADIO_MAJOR)  # the tab's settings are every row's base request
        with gr.Accordion("Environment and models", open=False, elem_id=f"{ELEM}_environment"):
            status_panel(status, unload)

        weights = [given[f"weight_{kind}"] for kind in UNIT_KINDS]
        given["task"].change(fn=task_changed, inputs=[given["task"]], outputs=[given["units"], *weights])
        given["task"].change(fn=model_fields_shown, inputs=[given["task"]], outputs=[given["model_group"]])
        out["results"].select(fn=selected_infotext, inputs=[out["infotexts"]], outputs=[out["infotext"]])
        out["preview"].click(
            fn=_wrapped(preview_clicked, PREVIEW_OUTPUTS),
            inputs=inputs,
            outputs=[out["maps"], out["summary"], out["tabs"], out["message"]],
            **event_js(submit_js(len(inputs), None)),
        )
        out["generate"].click(
            fn=_wrapped(generate_clicked, GENERATE_OUTPUTS),
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
