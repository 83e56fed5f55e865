"""The always-on "Garment Studio" section of txt2img and img2img: one enable flag and one settings dict.

Positional arguments break API clients when a UI changes, so everything but the flag travels in one dict
validated by the shared request model (design.md, "Arguments and API"). The few widgets here only edit that
dict; the Garment Studio tab and REST callers set any field.

- img2img: in ``before_process`` the engine prepares the job on the init image (mask from the phrases or the
  user's inpaint mask, maps, plan); the plan's inpaint mask and ControlNet units go onto ``p`` (units merged
  with the user's). After the WebUI's own inpaint composite, ``postprocess_image_after_composite`` puts the
  kept pixels back exactly at the photo's resolution and records the check in the infotext; then (after any
  restoration) the engine's delivery: with ``preset`` the image becomes the preset's framed picture (the pixels
  of its file as checked) and the infotext gets one "Garment Studio compliance" line; with
  ``output.background`` the product goes onto that plain colour. The WebUI's generation cannot be skipped from
  here (it is the WebUI's job, already under way), so a plain background replaces the generated scene; the tab
  and ``/garment-studio/v1/generate`` skip the generation instead. The WebUI then saves the picture in its own
  format (Settings > Saving images), which the compliance line says when it is not the preset's.
- txt2img: ControlNet units made from a reference photo (pose, depth, canny of a mannequin shot): the section's
  upload (slots 3 and 4: photo and optional keep mask) or ``reference_image``/``reference_mask`` in the settings.

Paste-back: the settings travel as JSON text in a textbox (slot 2), not in a ``gr.State``: gradio (3 and 4)
ignores a ``gr.update`` sent to a State, which is what the WebUI's paste makes of a value, so a State would never
receive a pasted request. The textbox, the enable flag and the task/phrase widgets are the infotext's paste
targets; REST callers may still pass the settings as an object (or its JSON text).

``before_process`` runs for every generation, enabled or not: it first gives the GPU memory Garment Studio's
resident models hold back to the WebUI (setting "Free Garment Studio's GPU memory before each generation").
A job that cannot run stops the generation with its message (console, infotext, the UI's comments, the API's
info) rather than producing a picture that does not keep the product.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import gradio as gr
import numpy as np
from modules import scripts, shared

from lib_garment.b64images import decode_image
from lib_garment.errors import BadInput, GarmentError
from lib_garment.generate.describe import request_prompt
from lib_garment.generate.prepare import NO_CONTROLNET, Prepared, reference_units
from lib_garment.generate.tasks import control_units
from lib_garment.host.passes.checks import CHECKS_ATTR, JobChecks, check_generation, checks_of
from lib_garment.host.passes.img2img_job import (
    JOB_ATTR,
    finish_image,
    img2img_photo,
    inject_units,
    outcome_notes,
    prepare_on_img2img,
    remember_fields,
    restore_fields,
)
from lib_garment.host.passes.infotext import (
    BACKGROUND_KEY,
    ERROR_KEY,
    INFOTEXT_KEY,
    KEPT_KEY,
    delivery_params,
    forget_params,
    request_infotext,
)
from lib_garment.host.passes.restore_pass import REQUEST_ATTR, restore_in_hook
from lib_garment.host.passes.restore_setup import RESTORE_JOB_ATTR
from lib_garment.host.ui.mask_editor import gradio_major, uploaded_mask
from lib_garment.host.webui.messages import warn
from lib_garment.host.webui.processing import INNER_MARK, to_array
from lib_garment.host.webui.progress import webui_progress
from lib_garment.host.webui.settings import current_settings, model_settings
from lib_garment.presets.deliver import deliver, map_depth, wants_delivery
from lib_garment.request import GarmentRequest, parse_request
from lib_garment.runtime import offload_all

TITLE = "Garment Studio"
LOSSY_FORMATS = {"jpg", "jpeg", "webp", "avif"}


def _enable_control(elem_id: str) -> tuple[Any, Any]:
    """The enable flag as the WebUI's InputAccordion when it exists, else a checkbox in an accordion."""
    try:
        from modules.ui_components import InputAccordion
    except ImportError:
        accordion = gr.Accordion(TITLE, open=False, elem_id=elem_id)
        with accordion:
            return accordion, gr.Checkbox(False, label=f"Enable {TITLE}", elem_id=f"{elem_id}_enabled")
    accordion = InputAccordion(False, label=TITLE, elem_id=elem_id)
    return accordion, accordion


def split_args(args: tuple[Any, ...]) -> tuple[bool, Any]:
    """(enabled, settings) from the script's slots. A lone dict counts as enabled settings, as API users expect;
    an enable flag that is not true or false (``"true"``, 1) is refused rather than read as "off"."""
    if not args:
        return False, None
    first = args[0]
    if isinstance(first, dict):  # `[{...}]` over REST: the second slot then holds the UI default
        return True, first
    if not isinstance(first, bool):
        raise BadInput(
            f"the first argument (enable) must be true or false, got {type(first).__name__} {first!r}; "
            "the arguments are [true, {...settings...}]"
        )
    return first, (args[1] if len(args) > 1 else None)


def settings_object(settings: Any) -> Any:
    """The settings as a dict: the UI's JSON text ("" = none) or a REST caller's object, as it came otherwise
    (parse_request names anything else)."""
    if isinstance(settings, str):
        if not settings.strip():
            return {}
        try:
            return json.loads(settings)
        except ValueError as err:
            raise BadInput(f"the settings text is not valid JSON: {err}") from None
    return settings


def pasted_settings(params: dict[str, Any]) -> dict[str, Any] | None:
    """The settings dict an infotext's "Garment Studio" value holds, or None (absent or not a JSON object)."""
    text = params.get(INFOTEXT_KEY)
    if not isinstance(text, str) or not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# The paste targets below answer with gr.update(value=…): the WebUI passes an update through as it is, whereas a
# plain value is first converted to the type of the widget's current value (and dropped when that is None, as
# gradio 4's empty textboxes have it).


def settings_from_infotext(params: dict[str, Any]) -> Any:
    """Paste-back into the settings textbox: the request's JSON text (unchanged when the infotext has none)."""
    value = pasted_settings(params)
    return gr.update() if value is None else gr.update(value=json.dumps(value, separators=(",", ":"), sort_keys=True))


def task_from_infotext(params: dict[str, Any]) -> Any:
    value = pasted_settings(params)
    return gr.update() if value is None else gr.update(value=value.get("task", "background"))


def phrases_from_infotext(params: dict[str, Any]) -> Any:
    value = pasted_settings(params)
    return gr.update() if value is None else gr.update(value=(value.get("segment") or {}).get("phrases", ""))


def settings_with(settings: Any, **fields: Any) -> dict[str, Any]:
    """A new settings dict with ``fields`` set (the default dict is shared by the host: never mutate it)."""
    try:
        current = settings_object(settings)
    except BadInput:
        current = {}  # the user is editing broken JSON: the widgets start it afresh
    new = dict(current) if isinstance(current, dict) else {}
    for key, value in fields.items():
        if key == "phrases":
            new["segment"] = {**(new.get("segment") or {}), "phrases": value}
        else:
            new[key] = value
    return new


def settings_text_with(settings: Any, **fields: Any) -> str:
    """:func:`settings_with` as the settings textbox holds it."""
    return json.dumps(settings_with(settings, **fields), separators=(",", ":"), sort_keys=True)


def lossy_note() -> str | None:
    """What the kept-pixel check cannot vouch for: the WebUI encodes its saved files and API answers in its own
    samples_format, and JPEG/WebP change pixels (the check is of the image before encoding)."""
    fmt = str(shared.opts.data.get("samples_format") or "png").lower()
    if fmt not in LOSSY_FORMATS:
        return None
    return (
        f"before the WebUI's {fmt} encoding, which changes pixels; for exact files set Settings > Saving images > "
        "File format to png"
    )


def format_note(fmt: str) -> str | None:
    """What a preset's report cannot vouch for here: it checked Garment Studio's file in the preset's format,
    while the WebUI saves the image (and answers the API) in its own samples_format."""
    saved = str(shared.opts.data.get("samples_format") or "png").lower().replace("jpg", "jpeg")
    if saved == fmt:
        return None
    return f"checked as a {fmt} file; the WebUI saves this image as {saved} (Settings > Saving images > File format)"


def refuse_delivery_on_txt2img(request: GarmentRequest) -> None:
    """txt2img keeps no product of a photo, so there is nothing to frame or to put on a plain colour."""
    if wants_delivery(request):
        raise BadInput(
            "preset and output.background frame and finish the kept product of a photo: use img2img (or the "
            "Garment Studio tab, or /garment-studio/v1/generate); txt2img keeps no product"
        )


def reference_inputs(request: GarmentRequest, photo: Any, mask: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """txt2img's reference photo (RGB) and keep mask (or None): from the settings' base64 fields, or from the
    section's uploads (PIL from the UI, base64 text from a REST caller's third and fourth arguments)."""
    if request.reference_image is not None and photo is not None:
        raise BadInput("give the reference photo once: in the section (or the third argument) or as reference_image")
    if request.reference_mask is not None and mask is not None:
        raise BadInput("give the reference mask once: in the section (or the fourth argument) or as reference_mask")
    photo_value = request.reference_image if request.reference_image is not None else photo
    mask_value = request.reference_mask if request.reference_mask is not None else mask
    return _picture(photo_value, "reference_image", rgb=True), _picture(mask_value, "reference_mask", rgb=False)


def _picture(value: Any, name: str, *, rgb: bool) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = decode_image(value, name)
    if not hasattr(value, "convert"):
        raise BadInput(f"{name}: expected an image (base64 text), got {type(value).__name__}")
    return to_array(value) if rgb else uploaded_mask(value, name)


def fail(p: Any, message: str) -> None:
    """Stop this generation with ``message`` where users look: console, infotext/API info, the UI's comments."""
    warn(message)
    p.extra_generation_params[ERROR_KEY] = message
    p.comment(f"{TITLE}: {message}")
    shared.state.interrupted = True  # no picture that does not keep the product; the next job starts clean


class GarmentStudioScript(scripts.Script):
    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> object:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list[Any]:
        container, enabled = _enable_control(self.elem_id("accordion"))
        with container:
            gr.Markdown(
                "Keeps the product exactly and regenerates the rest"
                + (
                    " (the init image; paint the product and pick 'Inpaint not masked' to use your own mask)."
                    if is_img2img
                    else " with ControlNet units made from a reference photo (e.g. a mannequin shot)."
                )
                + " All options: the Garment Studio tab, or the settings JSON below (API callers pass it as the "
                "second argument).",
                elem_id=self.elem_id("help"),
            )
            with gr.Row():
                task = gr.Radio(["background", "model"], value="background", label="Task", elem_id=self.elem_id("task"))
                phrases = gr.Textbox(
                    "", label="Keep (what to segment)", placeholder="white t-shirt", elem_id=self.elem_id("phrases")
                )
            references: list[Any] = []
            if not is_img2img:
                with gr.Row():
                    references = [
                        _upload("Reference photo (the units' maps are made from it)", self.elem_id("reference")),
                        _upload("Its keep mask (optional; white = keep)", self.elem_id("reference_mask")),
                    ]
            with gr.Accordion("Settings (JSON)", open=False, elem_id=self.elem_id("settings_accordion")):
                # A textbox, not a gr.State: the infotext's paste reaches it (see the module docstring).
                settings = gr.Textbox(
                    "{}", label="Request fields (see the API's schema)", lines=2, elem_id=self.elem_id("settings")
                )
            task.change(lambda s, v: settings_text_with(s, task=v), inputs=[settings, task], outputs=[settings])
            phrases.change(
                lambda s, v: settings_text_with(s, phrases=v), inputs=[settings, phrases], outputs=[settings]
            )
        self.infotext_fields = [
            (enabled, lambda params: INFOTEXT_KEY in params),
            (settings, settings_from_infotext),
            (task, task_from_infotext),
            (phrases, phrases_from_infotext),
        ]
        return [enabled, settings, *references]

    def before_process(self, p: Any, *args: Any) -> None:
        if current_settings().offload_before_generation:
            try:
                offload_all()  # in-process models and, if it runs, the worker's: starts nothing
            except Exception as err:  # noqa: BLE001 - a failed offload must not cost the user the generation
                warn(f"could not move Garment Studio's models off the GPU: {type(err).__name__}: {err}")
        if getattr(p, INNER_MARK, False) or getattr(p, JOB_ATTR, None) is not None:
            return  # our own pass, or a job the img2img script already prepared
        forget_params(p.extra_generation_params)  # the Batch tab's previous image's lines
        try:
            enabled, settings = split_args(args)
            if not enabled:
                return
            request = parse_request(settings_object(settings))
            if hasattr(p, "init_images"):
                photo = img2img_photo(p)  # the inputs first: the user's to fix before anything is checked or run
                checks = self._checked(p, request)
                if request.reference_image is not None or request.reference_mask is not None:
                    p.comment(f"{TITLE}: reference_image/reference_mask are for txt2img; img2img uses its init image")
                remember_fields(p)  # put back in postprocess: the Batch tab reuses p for its next image
                for note in prepare_on_img2img(p, request, checks, photo):
                    p.comment(f"{TITLE}: {note}")
            else:
                refuse_delivery_on_txt2img(request)
                reference, mask = reference_inputs(request, *args[2:4])
                self._prepare_txt2img(p, request, self._checked(p, request), reference, mask)
        except GarmentError as err:
            fail(p, str(err))
        except Exception as err:  # noqa: BLE001 - the host would swallow it; say it and stop instead
            traceback.print_exc()  # for the console and bug reports; the user gets the one-line message
            fail(p, f"internal error: {type(err).__name__}: {err} (please report it)")

    @staticmethod
    def _checked(p: Any, request: GarmentRequest) -> JobChecks:
        """The job's one up-front check (restore options, ControlNet and its models), kept on ``p`` for the hooks
        after this one; then the request goes into the infotext and the model task's person into the prompt."""
        checks = check_generation(request, p.scripts)
        setattr(p, CHECKS_ATTR, checks)
        p.extra_generation_params[INFOTEXT_KEY] = request_infotext(request)
        setattr(p, REQUEST_ATTR, request)  # for the restore pass after each image's composite
        if isinstance(p.prompt, str):
            p.prompt = request_prompt(request, p.prompt)  # the model task's person, said in the prompt
        return checks

    def _prepare_txt2img(
        self, p: Any, request: GarmentRequest, checks: JobChecks, photo: np.ndarray | None, mask: np.ndarray | None
    ) -> None:
        if not control_units(request):
            return
        bridge = checks.controlnet
        if bridge is None:  # allowed to go without: no unit would take the maps, so none are made
            p.comment(f"{TITLE}: {NO_CONTROLNET}")
            return
        if photo is None:
            raise GarmentError(
                "txt2img: the control maps are made from a reference photo; upload one in the Garment Studio "
                "section or send it as reference_image (base64), or use img2img with your photo"
            )
        with webui_progress() as progress:
            units = reference_units(request, photo, model_settings(progress), mask=mask)
        outcome = inject_units(p, units, bridge, resize_mode=1)  # ControlNet crops the maps to the generation
        for note in outcome_notes(outcome):
            p.comment(f"{TITLE}: {note}")

    def postprocess_image_after_composite(self, p: Any, pp: Any, *args: Any) -> None:
        if getattr(p, INNER_MARK, False):
            return  # our own nested pass (restore, or a tab/REST job): nothing of ours runs in it
        prepared: Prepared | None = getattr(p, JOB_ATTR, None)  # set by before_process or the img2img script
        keep_alpha = None
        if prepared is not None:
            try:
                image, check = finish_image(prepared.plan, pp.image)
            except Exception as err:  # noqa: BLE001 - keep the WebUI's image, say why it is not composited
                fail(p, f"could not composite the kept pixels: {type(err).__name__}: {err}")
                return
            from PIL import Image

            pp.image = Image.fromarray(image)
            caveat = lossy_note()
            p.extra_generation_params[KEPT_KEY] = check.describe() + (f" ({caveat})" if caveat else "")
            keep_alpha = prepared.plan.keep_alpha  # restoration leaves the garment's alpha = 1 pixels exact
        request = getattr(p, REQUEST_ATTR, None) or (prepared.request if prepared is not None else None)
        if request is not None and request.restore.enabled:
            pp.image = restore_in_hook(p, pp.image, keep_alpha, request)
        if prepared is not None and request is not None and wants_delivery(request):
            self._deliver(p, pp, prepared, request)

    @staticmethod
    def _deliver(p: Any, pp: Any, prepared: Prepared, request: GarmentRequest) -> None:
        """After the composite and restoration: the engine's delivery (a preset's frame and check, a plain
        background replacing the generated scene), its lines in this image's infotext."""
        from PIL import Image

        try:
            done = deliver(
                prepared.photo,
                to_array(pp.image),
                prepared.plan.keep_alpha,
                request,
                presets=checks_of(p).presets,
                depth=map_depth(prepared.maps),
            )
        except GarmentError as err:  # e.g. a photo too small for the preset: keep the composite, say why
            fail(p, f"could not finish the result for {request.preset or 'its background'}: {err}")
            return
        except Exception as err:  # noqa: BLE001 - keep the composite, say why it is not finished
            traceback.print_exc()
            fail(p, f"internal error finishing the result: {type(err).__name__}: {err} (please report it)")
            return
        if done is None:
            return
        pp.image = Image.fromarray(done.image)
        params = delivery_params(done, format_note(done.format) if done.framed else None)
        if BACKGROUND_KEY in params:  # this hook runs inside the WebUI's generation, which it cannot skip
            params[BACKGROUND_KEY] += " (replaces the generated scene; the tab and /generate skip the generation)"
        p.extra_generation_params.update(params)

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        restore_fields(p)  # the user's mask, inpaint options and ControlNet units, for the Batch tab's next image
        for attr in (JOB_ATTR, REQUEST_ATTR, RESTORE_JOB_ATTR, CHECKS_ATTR):
            if hasattr(p, attr):
                delattr(p, attr)  # the photo, maps and detectors are not kept alive by the finished job


def _upload(label: str, elem_id: str) -> Any:
    """An image upload for the running gradio (``source=`` on 3, ``sources=`` on 4)."""
    sources = {"sources": ["upload"]} if gradio_major() >= 4 else {"source": "upload"}
    return gr.Image(label=label, type="pil", elem_id=elem_id, **sources)
