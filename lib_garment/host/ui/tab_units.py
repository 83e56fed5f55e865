"""The tab's per-unit controls beyond the weight: when in the sampling each unit acts (guidance start and end)
and, optionally, a control map of the user's own per kind, used instead of the one Garment Studio would make.

The widgets are named ``guidance_start_<kind>``, ``guidance_end_<kind>`` and ``map_<kind>`` among the tab's
inputs; :func:`split_unit_values` takes them back out of the named values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.imageio import image_to_rgb
from lib_garment.request import GarmentRequest


def unit_input_names(kinds: Sequence[str]) -> tuple[str, ...]:
    return (
        *(f"guidance_start_{kind}" for kind in kinds),
        *(f"guidance_end_{kind}" for kind in kinds),
        *(f"map_{kind}" for kind in kinds),
    )


def build_guidance(kinds: Sequence[str], elem: str) -> dict[str, Any]:
    """Start and end sliders per kind (ControlNet's guidance start/end: the share of the steps it acts in)."""
    widgets: dict[str, Any] = {}
    for kind in kinds:
        with gr.Row():
            widgets[f"guidance_start_{kind}"] = gr.Slider(
                0.0, 1.0, value=0.0, step=0.05, label=f"{kind}: start", elem_id=f"{elem}_guidance_start_{kind}"
            )
            widgets[f"guidance_end_{kind}"] = gr.Slider(
                0.0, 1.0, value=1.0, step=0.05, label=f"{kind}: end", elem_id=f"{elem}_guidance_end_{kind}"
            )
    return widgets


def build_map_uploads(kinds: Sequence[str], elem: str, major: int) -> dict[str, Any]:
    """One optional upload per kind: a control map of the photo in the editor, at its size."""
    sources = {"sources": ["upload"]} if major >= 4 else {"source": "upload"}
    widgets: dict[str, Any] = {}
    for kind in kinds:
        widgets[f"map_{kind}"] = gr.Image(
            label=f"{kind} map (the editor photo's size)", type="pil", elem_id=f"{elem}_map_{kind}", **sources
        )
    return widgets


def split_unit_values(named: dict[str, Any], kinds: Sequence[str]) -> tuple[dict[str, tuple[Any, Any]], dict[str, Any]]:
    """Take the guidance pairs and the uploaded maps out of the tab's named values (in place)."""
    guidance = {kind: (named.pop(f"guidance_start_{kind}"), named.pop(f"guidance_end_{kind}")) for kind in kinds}
    maps = {kind: named.pop(f"map_{kind}") for kind in kinds}
    return guidance, {kind: value for kind, value in maps.items() if value is not None}


def guidance_fields(guidance: dict[str, tuple[Any, Any]], kind: str) -> dict[str, float]:
    """A unit's guidance_start/end for the request (sliders left alone give 0 and 1, ControlNet's own)."""
    start, end = guidance.get(kind, (None, None))
    return {
        "guidance_start": 0.0 if start is None else float(start),
        "guidance_end": 1.0 if end is None else float(end),
    }


def supplied_maps(maps: dict[str, Any]) -> dict[str, np.ndarray]:
    """The uploaded maps as RGB arrays, by kind."""
    return {kind: image_to_rgb(picture, f"the uploaded {kind} map") for kind, picture in maps.items()}


def unused_maps(request: GarmentRequest, maps: dict[str, Any]) -> list[str]:
    """Notes for uploaded maps no chosen unit takes."""
    kinds = {unit.kind for unit in request.control or ()}
    return [f"the uploaded {kind} map is not used: no {kind} unit is chosen" for kind in maps if kind not in kinds]


def check_uploaded_maps(maps: dict[str, Any], has_photo: bool) -> None:
    """Uploaded maps belong to the editor's photo (its size is checked with the photo, by the engine)."""
    if maps and not has_photo:
        raise BadInput("the uploaded control maps belong to the photo in the editor: upload that photo as well")
