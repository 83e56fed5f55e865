"""Gradio component subclasses behind ``modules.ui_components``.

gradio 4 writes a ``.pyi`` file next to the source of every component subclass, so ``ui_components`` loads
a *copy* of this file from the per-test WebUI root instead of importing it in place.
"""

from __future__ import annotations

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


class InputAccordion(gr.Checkbox):
    """A checkbox that renders as an accordion: its value (bool) is a script argument, and ``with`` opens the
    accordion so the controls created inside land in it."""

    global_index = 0

    def __init__(self, value: bool, **kwargs: Any) -> None:
        self.accordion_id = kwargs.get("elem_id")
        if self.accordion_id is None:
            self.accordion_id = f"input-accordion-{InputAccordion.global_index}"
            InputAccordion.global_index += 1
        checkbox_kwargs = {**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": False}
        super().__init__(value, **checkbox_kwargs)
        accordion_kwargs = {
            "elem_id": self.accordion_id,
            "label": kwargs.get("label", "Accordion"),
            "elem_classes": ["input-accordion"],
            "open": value,
        }
        self.accordion = gr.Accordion(**accordion_kwargs)

    def extra(self) -> Any:
        return gr.Column(elem_id=self.accordion_id + "-extra", elem_classes="input-accordion-extra", min_width=0)

    def __enter__(self) -> InputAccordion:
        self.accordion.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.accordion.__exit__(exc_type, exc_val, exc_tb)

    def get_block_name(self) -> str:
        return "checkbox"
