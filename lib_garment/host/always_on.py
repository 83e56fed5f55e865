"""The always-on "Garment Studio" section of txt2img and img2img: one enable flag and one settings dict.

Positional arguments break API clients when a UI changes, so everything but the flag travels in one dict
validated by the shared request model (design.md, "Arguments and API"). The few widgets here only edit that
dict; the Garment Studio tab and REST callers set any field.

- img2img: in ``before_process`` the engine prepares the job on the init image (mask from the phrases or the
  user's inpaint mask, maps, plan); the plan's inpaint mask and ControlNet units go onto ``p`` (units merged
  with the user's). After the WebUI's own inpaint composite, ``postprocess_image_after_composite`` puts the
  kept pixels back exactly at the photo's resolution and records the check in the infotext.
- txt2img: ControlNet units made from ``reference_image`` (pose, depth, canny of a mannequin shot).

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
from modules import scripts, shared

from lib_garment.b64images import decode_image
from lib_garment.errors import GarmentError
from lib_garment.generate.prepare import Prepared, reference_units
from lib_garment.generate.tasks import control_units
from lib_garment.host.jobs import (
    INNER_MARK,
    JOB_ATTR,
    check_controlnet,
    engine_environment,
    finish_image,
    inject_units,
    prepare_on_img2img,
    to_array,
)
from lib_garment.host.messages import warn
from lib_garment.host.progress import webui_progress
from lib_garment.host.restore_pass import DETECTORS_ATTR, REQUEST_ATTR, restore_in_hook
from lib_garment.host.restore_setup import check_restore
from lib_garment.host.settings import current_settings
from lib_garment.request import GarmentRequest, parse_request
from lib_garment.runtime import offload_all

TITLE = "Garment Studio"
INFOTEXT_KEY = "Garment Studio"
KEPT_KEY = "Garment Studio kept"
ERROR_KEY = "Garment Studio error"
EXCLUDED_FROM_INFOTEXT = {"reference_image"}


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
    """(enabled, settings) from the script's slots. A lone dict counts as enabled settings, as API users expect."""
    if not args:
        return False, None
    first = args[0]
    if isinstance(first, dict):  # `[{...}]` over REST: the second slot then holds the UI default
        return True, first
    return first is True, (args[1] if len(args) > 1 else None)


def infotext_value(request: GarmentRequest) -> str:
    """The request's non-default fields as compact JSON: what pasting the infotext back restores."""
    data = request.dict(exclude_defaults=True, exclude=EXCLUDED_FROM_INFOTEXT)
    data = {key: value for key, value in data.items() if value != {}}  # untouched option groups
    data["task"] = request.task
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def settings_from_infotext(params: dict[str, Any]) -> Any:
    """Paste-back: the settings dict from an infotext's "Garment Studio" value (unchanged when absent)."""
    text = params.get(INFOTEXT_KEY)
    if not text:
        return gr.update()
    try:
        value = json.loads(text)
    except ValueError:
        return gr.update()
    return value if isinstance(value, dict) else gr.update()


def settings_with(settings: Any, **fields: Any) -> dict[str, Any]:
    """A new settings dict with ``fields`` set (the default dict is shared by the host: never mutate it)."""
    new = dict(settings) if isinstance(settings, dict) else {}
    for key, value in fields.items():
        if key == "phrases":
            new["segment"] = {**(new.get("segment") or {}), "phrases": value}
        else:
            new[key] = value
    return new


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
                    else " with ControlNet units made from a reference photo (API: reference_image)."
                )
                + " All options: the Garment Studio tab; API callers pass the settings dict as the second argument.",
                elem_id=self.elem_id("help"),
            )
            # The default dict is shared between API requests by the host: it is read, never mutated.
            settings = gr.State({})
            with gr.Row():
                task = gr.Radio(["background", "model"], value="background", label="Task", elem_id=self.elem_id("task"))
                phrases = gr.Textbox(
                    label="Keep (what to segment)", placeholder="white t-shirt", elem_id=self.elem_id("phrases")
                )
            task.change(lambda s, v: settings_with(s, task=v), inputs=[settings, task], outputs=[settings])
            phrases.change(lambda s, v: settings_with(s, phrases=v), inputs=[settings, phrases], outputs=[settings])
        self.infotext_fields = [
            (enabled, lambda params: INFOTEXT_KEY in params),
            (settings, settings_from_infotext),
        ]
        return [enabled, settings]

    def before_process(self, p: Any, *args: Any) -> None:
        if current_settings().offload_before_generation:
            try:
                offload_all()  # in-process models and, if it runs, the worker's: starts nothing
            except Exception as err:  # noqa: BLE001 - a failed offload must not cost the user the generation
                warn(f"could not move Garment Studio's models off the GPU: {type(err).__name__}: {err}")
        if getattr(p, INNER_MARK, False) or getattr(p, JOB_ATTR, None) is not None:
            return  # our own pass, or a job the img2img script already prepared
        enabled, settings = split_args(args)
        if not enabled:
            return
        try:
            request = parse_request(settings)
            if request.restore.enabled:
                check_restore(request.restore, p.scripts)  # bad restore options stop the job before anything runs
            p.extra_generation_params[INFOTEXT_KEY] = infotext_value(request)
            setattr(p, REQUEST_ATTR, request)  # for the restore pass after each image's composite
            if hasattr(p, "init_images"):
                for note in prepare_on_img2img(p, request):
                    p.comment(f"{TITLE}: {note}")
            else:
                self._prepare_txt2img(p, request)
        except GarmentError as err:
            fail(p, str(err))
        except Exception as err:  # noqa: BLE001 - the host would swallow it; say it and stop instead
            traceback.print_exc()  # for the console and bug reports; the user gets the one-line message
            fail(p, f"internal error: {type(err).__name__}: {err} (please report it)")

    def _prepare_txt2img(self, p: Any, request: GarmentRequest) -> None:
        units = control_units(request)
        if not units:
            return
        if not request.reference_image:
            raise GarmentError(
                "txt2img: the control maps are made from a reference photo; send it as reference_image "
                "(base64), or use img2img with your photo"
            )
        photo = to_array(decode_image(request.reference_image, "reference_image"))
        bridge = check_controlnet(p.scripts, request)
        with webui_progress() as progress:
            units = reference_units(request, photo, engine_environment(progress))
        outcome = inject_units(p, units, bridge, resize_mode=1)  # ControlNet crops the maps to the generation
        if hasattr(outcome, "note"):
            p.comment(f"{TITLE}: {outcome.note}")

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
            p.extra_generation_params[KEPT_KEY] = check.describe()
            keep_alpha = prepared.plan.keep_alpha  # restoration leaves the garment's alpha = 1 pixels exact
        request = getattr(p, REQUEST_ATTR, None) or (prepared.request if prepared is not None else None)
        if request is not None and request.restore.enabled:
            pp.image = restore_in_hook(p, pp.image, keep_alpha, request)

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        for attr in (JOB_ATTR, REQUEST_ATTR, DETECTORS_ATTR):
            if hasattr(p, attr):
                delattr(p, attr)  # the photo, maps and detectors are not kept alive by the finished job
