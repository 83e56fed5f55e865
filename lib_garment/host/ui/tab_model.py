"""The tab's description of the person the model task generates (``GarmentRequest.model``): one textbox per
field, shown while the task is "model"; the engine composes them into the prompt
(``lib_garment.generate.describe``)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lib_garment.generate.describe import FIELDS

PLACEHOLDERS = {
    "gender": "woman",
    "age": "in her 30s",
    "ethnicity": "East Asian",
    "body": "slim build",
    "expression": "smiling",
    "pose": "standing, hands on hips",
    "scene": "on a city street at dusk",
}
MODEL_INPUT_NAMES = tuple(f"model_{name}" for name in FIELDS)


def build_model_fields(elem: str, visible: bool) -> tuple[Any, dict[str, Any]]:
    """The group (shown for the model task) and its textboxes by input name."""
    widgets: dict[str, Any] = {}
    with gr.Group(visible=visible, elem_id=f"{elem}_model_description") as group, gr.Row():
        for name in FIELDS:
            widgets[f"model_{name}"] = gr.Textbox(
                label=f"Model: {name}", placeholder=PLACEHOLDERS[name], elem_id=f"{elem}_model_{name}"
            )
    return group, widgets


def split_model_values(named: dict[str, Any]) -> dict[str, str]:
    """Take the description's fields out of the tab's named values (in place), the empty ones left out."""
    values = {name: named.pop(f"model_{name}") for name in FIELDS}
    return {name: str(value).strip() for name, value in values.items() if value is not None and str(value).strip()}


def model_fields_shown(task: str) -> Any:
    return gr.update(visible=task == "model")
