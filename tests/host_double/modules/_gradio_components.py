"""Gradio component subclasses behind ``modules.ui_components``.

gradio 4 writes a ``.pyi`` file next to the source of every component subclass, so ``ui_components`` loads
a *copy* of this file from the per-test WebUI root instead of importing it in place.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import gradio as gr


class FormComponent:
    def get_expected_parent(self) -> Any:
        return gr.components.Form


class ToolButton(gr.Button):
    """Small icon button."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        classes = kwargs.pop("elem_classes", [])
        super().__init__(*args, elem_classes=["tool", *classes], **kwargs)

    def get_block_name(self) -> str:
        return "button"


class FormRow(gr.Row):
    """Same as gr.Row but fits inside gradio forms."""

    def get_block_name(self) -> str:
        return "row"


class FormColumn(gr.Column):
    """Same as gr.Column but fits inside gradio forms."""

    def get_block_name(self) -> str:
        return "column"


class FormGroup(gr.Group):
    """Same as gr.Group but fits inside gradio forms."""

    def get_block_name(self) -> str:
        return "group"


class FormHTML(gr.HTML):
    """Same as gr.HTML but fits inside gradio forms."""

    def get_block_name(self) -> str:
        return "html"


class InputAccordionImpl(gr.Checkbox):
    """A checkbox that renders as an accordion: its value (bool) is a script argument, and ``with`` opens the
    accordion so the controls created inside land in it.

    Forge's shape (``modules/ui_components.py`` at dfdcbab6): gradio 4 applies an update to a component by
    building it again from its arguments, so only ``setup=True`` (the :func:`InputAccordion` factory) builds
    the accordion; a plain call is just the checkbox. AUTOMATIC1111 1.10.1 (gradio 3, which never rebuilds)
    has a class taking ``value`` positionally instead of the factory: called the same way, it behaves the same."""

    global_index = 0

    @wraps(gr.Checkbox.__init__)
    def __init__(self, value: Any = None, setup: bool = False, **kwargs: Any) -> None:
        if not setup:
            super().__init__(value=value, **kwargs)
            return
        self.accordion_id = kwargs.get("elem_id")
        if self.accordion_id is None:
            self.accordion_id = f"input-accordion-{InputAccordionImpl.global_index}"
            InputAccordionImpl.global_index += 1
        checkbox_kwargs = {**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": False}
        super().__init__(value=value, **checkbox_kwargs)
        accordion_kwargs = {
            "elem_id": self.accordion_id,
            "label": kwargs.get("label", "Accordion"),
            "elem_classes": ["input-accordion"],
            "open": value,
        }
        self.accordion = gr.Accordion(**accordion_kwargs)

    def extra(self) -> Any:
        return gr.Column(elem_id=self.accordion_id + "-extra", elem_classes="input-accordion-extra", min_width=0)

    def __enter__(self) -> InputAccordionImpl:
        self.accordion.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.accordion.__exit__(exc_type, exc_val, exc_tb)

    def get_block_name(self) -> str:
        return "checkbox"


def InputAccordion(value: Any = None, **kwargs: Any) -> InputAccordionImpl:
    return InputAccordionImpl(value=value, setup=True, **kwargs)
