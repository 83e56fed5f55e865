"""The always-on "Garment Studio" section of txt2img and img2img: one enable flag and one settings dict.

Positional arguments break API clients when a UI changes, so everything but the flag travels in one dict
validated by the shared request model (design.md, "Arguments and API").

``before_process`` runs for every generation, enabled or not, before ControlNet and the checkpoint load: it
gives the GPU memory Garment Studio's resident models hold back to the WebUI (setting "Free Garment
Studio's GPU memory before each generation"). With nothing loaded that is a check of an empty cache.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import scripts

from lib_garment.errors import BadInput
from lib_garment.host.messages import warn
from lib_garment.host.settings import current_settings
from lib_garment.request import parse_request
from lib_garment.runtime import offload_all

TITLE = "Garment Studio"
INFOTEXT_KEY = "Garment Studio"
ERROR_KEY = "Garment Studio error"
INNER_MARK = "_garment_studio_inner"  # set on nested processing objects so the script never re-enters


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


class GarmentStudioScript(scripts.Script):
    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> object:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list[Any]:
        container, enabled = _enable_control(self.elem_id("accordion"))
        with container:
            gr.Markdown(
                "Keeps the product exactly and regenerates the rest. Jobs are set up in the Garment Studio tab; "
                "API callers pass the settings dict as the second argument.",
                elem_id=self.elem_id("help"),
            )
            # The default dict is shared between API requests by the host: it is read, never mutated.
            settings = gr.State({})
        return [enabled, settings]

    def before_process(self, p: Any, *args: Any) -> None:
        if not current_settings().offload_before_generation:
            return
        try:
            offload_all()  # in-process models and, if it runs, the worker's: starts nothing
        except Exception as err:  # noqa: BLE001 - a failed offload must not cost the user the generation
            warn(f"could not move Garment Studio's models off the GPU: {type(err).__name__}: {err}")

    def process(self, p: Any, *args: Any) -> None:
        if getattr(p, INNER_MARK, False):
            return
        enabled, settings = split_args(args)
        if not enabled:
            return
        try:
            request = parse_request(settings)
        except BadInput as err:
            # Host hooks swallow exceptions, so the message goes where users look: console and infotext.
            warn(str(err))
            p.extra_generation_params[ERROR_KEY] = str(err)
            return
        p.extra_generation_params[INFOTEXT_KEY] = f"task={request.task}"
