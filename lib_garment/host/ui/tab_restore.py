"""The tab's "Restore hands and faces" accordion: the request's ``restore`` options, and "Restore this image".

- The options' widgets feed the request's ``restore`` field (:func:`restore_options`), so **Generate** restores
  each result as a step after the composite (:func:`~lib_garment.host.passes.generation.run_plan` does it).
  Their values travel after the tab's own inputs, in :data:`RESTORE_NAMES` order.
- **Restore this image** restores a finished image on its own: the selected result (click one in Results) or an
  uploaded image, with an optional keep mask (white = stays exact, e.g. the garment). It uses the tab's prompt,
  negative prompt, sampler, steps, CFG and seed and these options, under the WebUI's queue lock like Generate.

The handlers hold no pipeline logic: :mod:`lib_garment.host.passes.restore_run` restores; this module reads widgets and
turns results and failures into what the tab shows.
"""

from __future__ import annotations

import html
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
from lib_garment.host.passes.checks import check_restoring
from lib_garment.host.passes.infotext import RESTORE_KEY
from lib_garment.host.passes.outputs import output_folder, save_result
from lib_garment.host.passes.restore_run import restore_standalone
from lib_garment.host.webui.messages import warn
from lib_garment.imageio import image_to_rgb, open_image
from lib_garment.request import RESTORE_MAP_KINDS, GarmentRequest, parse_request

ELEM = "garment_studio_restore"
FACE_DETECTORS = ("face_yolov8n", "face_yolov8s", "mediapipe_face_short", "mediapipe_face_full", "haar")
HAND_DETECTORS = ("hand_yolov8n", "mediapipe_hands")
SORTS = ("none", "left_to_right", "center_out", "area")
# Every kind a restore unit may have, depth first as the dropdown has always listed it.
UNIT_KINDS = ("none", "depth", *(kind for kind in RESTORE_MAP_KINDS if kind != "depth"))
SOURCES = ("selected result", "uploaded image")
# The options' widgets, in the order their values follow the tab's own inputs.
RESTORE_NAMES = (
    "enabled",
    "faces",
    "hands",
    "face_detector",
    "hand_detector",
    "prompt",
    "negative_prompt",
    "face_prompt",
    "hand_prompt",
    "denoising_strength",
    "confidence",
    "top_k",
    "rank_by",
    "sort",
    "classes",
    "crop_size",
    "padding",
    "mask_blur",
    "matte",
    "blend",
    "skin_model",
    "skin_model_path",
    "controlnet_kind",
    "controlnet_weight",
)
# The standalone action's inputs after the task id, before the options.
STANDALONE_NAMES = ("source", "upload", "keep_mask", "results", "selected", "prompt", "negative_prompt")
STANDALONE_NAMES += ("sampler", "steps", "cfg_scale", "seed")


def _whole(value: Any, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"restore {name} must be a whole number, got {value!r}") from None
    if number != int(number):
        raise BadInput(f"restore {name} must be a whole number, got {value!r}")
    return int(number)


def restore_options(values: Sequence[Any]) -> dict[str, Any]:
    """The widgets' values (:data:`RESTORE_NAMES` order) as the request's ``restore`` object (validated later by
    the request model, which names any bad field)."""
    named = dict(zip(RESTORE_NAMES, values, strict=True))
    kind = named.pop("controlnet_kind") or "none"
    weight = named.pop("controlnet_weight")
    top_k = named.pop("top_k")
    classes = named.pop("classes") or ""
    path = (named.pop("skin_model_path") or "").strip()
    options = {key: value for key, value in named.items() if value is not None}
    options["top_k"] = None if top_k in (None, "", 0) else _whole(top_k, "top_k")
    options["crop_size"] = _whole(options.get("crop_size", 512), "crop_size")
    options["mask_blur"] = _whole(options.get("mask_blur", 4), "mask_blur")
    options["classes"] = [name.strip() for name in str(classes).split(",") if name.strip()]
    options["skin_model_path"] = path or None
    options["controlnet"] = None if kind == "none" else {"kind": kind, "weight": float(weight or 1.0)}
    return options


# ----- Restore this image ----------------------------------------------------------------------------------------


def _picture(value: Any, what: str) -> Image.Image | None:
    """A PIL picture from what gradio hands over: PIL, array, path, file dict, or a gallery's (image, caption)."""
    if isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("path") or value.get("name") or value.get("image")
    if value is None or isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return Image.fromarray(np.ascontiguousarray(value.astype(np.uint8)))
    if isinstance(value, str | Path):
        return open_image(value, what)
    raise BadInput(f"the {what} has an unexpected type {type(value).__name__}")


@dataclass
class StandaloneInputs:
    """The action's widget values by name (:data:`STANDALONE_NAMES`) and the options' (:func:`restore_options`)."""

    source: str = SOURCES[0]
    upload: Any = None
    keep_mask: Any = None
    results: Any = None
    selected: Any = None
    prompt: str = ""
    negative_prompt: str = ""
    sampler: str | None = None
    steps: Any = None
    cfg_scale: Any = None
    seed: Any = -1
    restore: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> StandaloneInputs:
        head = values[: len(STANDALONE_NAMES)]
        named = dict(zip(STANDALONE_NAMES, head, strict=True))
        return cls(**named, restore=restore_options(values[len(STANDALONE_NAMES) :]))

    def image(self) -> np.ndarray:
        """The image to restore: the selected result or the uploaded image, as the source choice says."""
        if self.source == "uploaded image":
            picture = _picture(self.upload, "uploaded image")
            if picture is None:
                raise BadInput("upload the image to restore first (or choose 'selected result')")
            return image_to_rgb(picture, "uploaded image")
        items = list(self.results or [])
        index = self.selected if isinstance(self.selected, int) else None
        if not items or index is None or not 0 <= index < len(items):
            raise BadInput("select a result to restore first (click it under Results), or upload an image")
        picture = _picture(items[index], "selected result")
        if picture is None:
            raise BadInput("the selected result has no image")
        return image_to_rgb(picture, "selected result")

    def keep(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The keep mask (non-zero = exact), at the image's size, or None."""
        picture = _picture(self.keep_mask, "keep mask")
        if picture is None:
            return None
        mask = np.asarray(picture.convert("RGBA"))
        kept = (mask[..., :3].max(axis=2) > 0) & (mask[..., 3] > 0)
        if kept.shape != shape:
            raise BadInput(f"the keep mask is {kept.shape[1]}x{kept.shape[0]} but the image is {shape[1]}x{shape[0]}")
        return (kept * 255).astype(np.uint8)

    def request(self) -> GarmentRequest:
        generation: dict[str, Any] = {"sampler": self.sampler or None}
        if self.steps not in (None, ""):
            generation["steps"] = _whole(self.steps, "steps")
        if self.cfg_scale not in (None, ""):
            generation["cfg_scale"] = float(self.cfg_scale)
        return parse_request(
            {
                "prompt": self.prompt or "",
                "negative_prompt": self.negative_prompt or "",
                "seed": _whole(-1 if self.seed in (None, "") else self.seed, "seed"),
                "generation": generation,
                "restore": {**self.restore, "enabled": True},  # this action always restores
            }
        )


@dataclass
class RestoreImageOutputs:
    image: Image.Image | None = None
    line: str = ""
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[Any, ...]:
        parts = [f"<div class='garment-studio-error'>{html.escape(text)}</div>" for text in self.errors]
        parts += [f"<div class='garment-studio-note'>{html.escape(text)}</div>" for text in self.notes]
        return self.image, "".join(parts)


STANDALONE_OUTPUTS = 2


def run_restore_image(inputs: StandaloneInputs) -> RestoreImageOutputs:
    """Restore one image (see the module docstring); failures become messages, never tracebacks."""
    out = RestoreImageOutputs()
    try:
        request = inputs.request()
        image = inputs.image()
        keep = inputs.keep(image.shape[:2])
        checks = check_restoring(request, scripts.scripts_img2img)
        shared.state.job_count = 0  # grows by one per nested pass
        shared.state.textinfo = "Garment Studio: restoring faces and hands"
        result = restore_standalone(image, keep, request, checks, is_api=False)
    except GarmentError as err:
        out.errors.append(str(err))
        return out
    except Exception as err:  # noqa: BLE001 - a message in the tab; the traceback in the console
        traceback.print_exc()
        warn(f"internal error while restoring: {type(err).__name__}: {err}")
        out.errors.append(f"internal error: {type(err).__name__}: {err} (please report it; details in the console)")
        return out
    picture = Image.fromarray(result.image)
    out.image, out.line = picture, result.line
    out.notes.append(f"{RESTORE_KEY}: {result.line} (seed {result.info['seed']})")
    kept = result.info.get("kept")
    if kept is not None:  # the keep mask's pixels, checked on the restored image
        out.notes.append(f"kept: {kept['kept_pixels']} pixels, {kept['differing']} of them changed")
    try:
        text = f"{request.prompt}\nSeed: {result.info['seed']}, {RESTORE_KEY}: {result.line}"
        path = save_result(picture, output_folder(), result.info["seed"], request.prompt, text)
        out.notes.append(f"saved: {path}")
    except Exception as err:  # noqa: BLE001 - the result is still shown; say why there is no file
        out.notes.append(f"not saved ({type(err).__name__}: {err})")
    return out


def restore_image_clicked(*values: Any) -> tuple[Any, ...]:
    """The button's function: the task id first (the WebUI's progress bar), then the widgets' values."""
    return run_restore_image(StandaloneInputs.from_values(values[1:])).outputs()


# ----- widgets ---------------------------------------------------------------------------------------------------


def _upload(label: str, elem_id: str, major: int) -> Any:
    sources = {"sources": ["upload"]} if major >= 4 else {"source": "upload"}
    return gr.Image(label=label, type="pil", elem_id=elem_id, **sources)


def restore_accordion(major: int) -> dict[str, Any]:
    """The accordion's widgets by name: the options (:data:`RESTORE_NAMES`) and the standalone action's."""
    w: dict[str, Any] = {}
    with gr.Accordion("Restore hands and faces", open=False, elem_id=f"{ELEM}_accordion"):
        w["enabled"] = gr.Checkbox(False, label="Restore faces and hands after generating", elem_id=f"{ELEM}_enabled")
        with gr.Row():
            w["faces"] = gr.Checkbox(True, label="Faces", elem_id=f"{ELEM}_faces")
            w["hands"] = gr.Checkbox(True, label="Hands", elem_id=f"{ELEM}_hands")
            kw = {"allow_custom_value": True}  # a YOLOv8 .pt file's path is accepted too
            w["face_detector"] = gr.Dropdown(
                list(FACE_DETECTORS), value="face_yolov8n", label="Face detector", elem_id=f"{ELEM}_face_det", **kw
            )
            w["hand_detector"] = gr.Dropdown(
                list(HAND_DETECTORS), value="hand_yolov8n", label="Hand detector", elem_id=f"{ELEM}_hand_det", **kw
            )
        w["prompt"] = gr.Textbox(label="Restore prompt ([SEP] per detection; empty: the prompt)", elem_id=f"{ELEM}_p")
        w["negative_prompt"] = gr.Textbox(label="Restore negative prompt", elem_id=f"{ELEM}_np")
        with gr.Row():
            w["face_prompt"] = gr.Textbox(label="Face prompt ([PROMPT], [SEP], [SKIP])", elem_id=f"{ELEM}_fp")
            w["hand_prompt"] = gr.Textbox(label="Hand prompt ([PROMPT], [SEP], [SKIP])", elem_id=f"{ELEM}_hp")
        with gr.Row():
            w["denoising_strength"] = gr.Slider(0.0, 1.0, 0.4, step=0.01, label="Denoising", elem_id=f"{ELEM}_den")
            w["confidence"] = gr.Slider(0.0, 1.0, 0.3, step=0.01, label="Confidence", elem_id=f"{ELEM}_conf")
        with gr.Row():
            w["top_k"] = gr.Number(0, precision=0, label="Top k per kind (0: all)", elem_id=f"{ELEM}_topk")
            w["rank_by"] = gr.Radio(["area", "confidence"], value="area", label="Top k by", elem_id=f"{ELEM}_rank")
            w["sort"] = gr.Dropdown(list(SORTS), value="none", label="Order", elem_id=f"{ELEM}_sort")
            w["classes"] = gr.Textbox(label="Model classes to keep (comma-separated)", elem_id=f"{ELEM}_classes")
        with gr.Row():
            w["crop_size"] = gr.Slider(64, 2048, 512, step=8, label="Crop size", elem_id=f"{ELEM}_crop")
            w["padding"] = gr.Slider(0.0, 4.0, 0.25, step=0.05, label="Context padding", elem_id=f"{ELEM}_pad")
            w["mask_blur"] = gr.Slider(0, 64, 4, step=1, label="Mask blur", elem_id=f"{ELEM}_blur")
        with gr.Row():
            w["matte"] = gr.Radio(["classic", "none", "model"], value="classic", label="Matte", elem_id=f"{ELEM}_matte")
            w["blend"] = gr.Radio(["normal", "mixed", "alpha"], value="normal", label="Blend", elem_id=f"{ELEM}_blend")
        with gr.Row():
            w["skin_model"] = gr.Radio(["colour", "fcn"], value="colour", label="Skin", elem_id=f"{ELEM}_skin")
            w["skin_model_path"] = gr.Textbox(label="FCN skin model file (skin: fcn)", elem_id=f"{ELEM}_skin_path")
        with gr.Row():
            label = "ControlNet unit in each pass (map of the crop)"
            w["controlnet_kind"] = gr.Dropdown(list(UNIT_KINDS), value="none", label=label, elem_id=f"{ELEM}_cn_kind")
            w["controlnet_weight"] = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="Its weight", elem_id=f"{ELEM}_cn_w")
        gr.Markdown("**Restore this image**: a finished image on its own (Results: click one to select it).")
        with gr.Row():
            w["source"] = gr.Radio(list(SOURCES), value=SOURCES[0], label="Restore", elem_id=f"{ELEM}_source")
            w["run"] = gr.Button("Restore this image", elem_id=f"{ELEM}_run")
        with gr.Row():
            w["upload"] = _upload("Image to restore", f"{ELEM}_upload", major)
            w["keep_mask"] = _upload("Keep mask (optional; white = stays exact)", f"{ELEM}_keep", major)
        w["selected"] = gr.State(None)
        w["output"] = gr.Image(label="Restored", type="pil", interactive=False, elem_id=f"{ELEM}_output")
        w["message"] = gr.HTML("", elem_id=f"{ELEM}_message")
    return w


def selected_index(evt: gr.SelectData) -> int | None:
    """The index of the result the user clicked (gradio's select event)."""
    return evt.index if isinstance(evt.index, int) else None


def wire_standalone(
    w: dict[str, Any],
    task_id: Any,
    results: Any,
    given: dict[str, Any],
    wrapped: Callable[[Callable[..., tuple[Any, ...]], int], Callable[..., tuple[Any, ...]]],
    submit: Callable[[int], dict[str, str]],
) -> None:
    """Hook up "Restore this image": the results gallery's selection, and the button (through ``wrapped``, the
    tab's queue-lock wrapper, with ``submit(count)`` its browser-side submit of ``count`` inputs)."""
    results.select(fn=selected_index, inputs=None, outputs=[w["selected"]])
    sources = {"results": results, **{name: given[name] for name in STANDALONE_NAMES if name in given}}
    sources.update({name: w[name] for name in ("source", "upload", "keep_mask", "selected")})
    inputs = [task_id, *(sources[name] for name in STANDALONE_NAMES), *(w[name] for name in RESTORE_NAMES)]
    w["run"].click(
        fn=wrapped(restore_image_clicked, STANDALONE_OUTPUTS),
        inputs=inputs,
        outputs=[w["output"], w["message"]],
        **submit(len(inputs)),
    )
