"""The tab's widgets read into the one request model, and the photos they hold.

:class:`TabInputs` names the values gradio passes (in :data:`INPUT_NAMES` order, the restore accordion's after
them); :func:`build_request` turns them into a :class:`~lib_garment.request.GarmentRequest` (BadInput naming the
field when a value is out of range); :func:`collect_photos` gives the editor's photo with its painted and
uploaded mask, then each extra photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.generate.plan import DEFAULT_CFG, DEFAULT_STEPS
from lib_garment.generate.tasks import DEFAULT_UNITS
from lib_garment.host.ui.mask_editor import combined_mask, normalise, uploaded_mask
from lib_garment.host.ui.tab_model import MODEL_INPUT_NAMES, split_model_values
from lib_garment.host.ui.tab_restore import restore_options
from lib_garment.host.ui.tab_units import (
    check_uploaded_maps,
    guidance_fields,
    split_unit_values,
    supplied_maps,
    unit_input_names,
)
from lib_garment.host.webui.processing import DEFAULT_SAMPLER
from lib_garment.imageio import image_to_rgb, read_image
from lib_garment.request import MAP_KINDS, GarmentRequest, parse_request

TASKS = ("background", "model")
# Checkbox order: the model task's defaults read in their own order (pose, mask_canny, depth), and so do the
# background task's (mask_canny, normal).
UNIT_KINDS = ("pose", "mask_canny", *(kind for kind in MAP_KINDS if kind not in ("pose", "mask_canny")))
MATTES = ("vitmatte", "classic", "none")
EDITOR_PHOTO_NAME = "photo"
NO_PRESET = "none"  # the preset dropdown's first choice: the result is not framed or checked
BACKGROUNDS = ("none", "white", "custom")  # none: the generated scene; custom: the colour box's "#RRGGBB"
SHADOWS = ("none", "contact", "drop")


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
    preset: str | None = NO_PRESET  # a marketplace preset's name, or NO_PRESET
    background: str | None = "none"  # one of BACKGROUNDS
    background_colour: str | None = ""  # the custom background's "#RRGGBB"
    shadow: str | None = "none"  # one of SHADOWS

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
    "preset",
    "background",
    "background_colour",
    "shadow",
)


def whole_number(value: Any, name: str, default: int) -> int:
    """A widget's number as a whole number (``default`` when empty); BadInput naming ``name`` otherwise."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise BadInput(f"{name} must be a whole number, got {value!r}")
    return int(number)


def output_fields(inputs: TabInputs) -> dict[str, Any]:
    """The preset, background and shadow widgets as the request's ``preset`` and ``output`` fields."""
    choice = inputs.background or "none"
    if choice not in BACKGROUNDS:
        raise BadInput(f"background must be one of {', '.join(BACKGROUNDS)}, got {choice!r}")
    colour = (inputs.background_colour or "").strip()
    if choice == "custom" and not colour:
        raise BadInput('background: custom needs a colour "#RRGGBB" in the colour box (e.g. #F5F5F5)')
    background = {"none": None, "white": "white", "custom": colour}[choice]
    shadow = inputs.shadow or "none"
    preset = inputs.preset or NO_PRESET
    return {
        "preset": None if preset == NO_PRESET else preset,
        "output": {"background": background, "shadow": None if shadow == "none" else shadow},
    }


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
                "steps": whole_number(inputs.steps, "steps", DEFAULT_STEPS),
                "cfg_scale": DEFAULT_CFG if inputs.cfg_scale is None else float(inputs.cfg_scale),
                "batch_count": whole_number(inputs.batch_count, "batch count", 1),
            },
            "seed": whole_number(inputs.seed, "seed", -1),
            "allow_without_controlnet": bool(inputs.allow_without_controlnet),
            **({"restore": inputs.restore} if inputs.restore is not None else {}),
            **output_fields(inputs),
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
