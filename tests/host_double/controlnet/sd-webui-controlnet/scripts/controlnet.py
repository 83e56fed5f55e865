"""Fake always-on "ControlNet" script of sd-webui-controlnet v1.1.455 (host-contract §5).

``ui()`` returns one ``gr.State`` per unit (``control_net_unit_count``, default 3). ``process()`` reads the
units from its slice of ``p.script_args`` (dicts go through ``ControlNetUnit.from_dict``, so validation errors
surface as a reported hook error), writes ``ControlNet <i>`` infotext for every enabled unit, resolves the
model like the extension (exact title, stem, shortest stem containing it), takes the unit image or, in
img2img, the init image, and records an :class:`AppliedUnit` per unit in ``self.applied_units`` (also on
``p.host_double_cn_applied``). The fake sampler sees the units through ``p.host_double_conditioning``.
``postprocess()`` appends the control maps to ``processed.images`` unless ``control_net_no_detectmap``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import gradio as gr
import numpy as np
from fastapi import Body, FastAPI
from fastapi.exceptions import HTTPException
from internal_controlnet import external_code, registry
from modules import _double_cn, processing, script_callbacks, scripts, shared
from PIL import Image

ControlNetUnit = external_code.ControlNetUnit


def _unit_image(unit: Any, p: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The unit's image (any accepted shape) or, in img2img, the init image and A1111 mask."""
    image, mask = unit.image, getattr(unit, "mask", None)
    if isinstance(image, list | tuple) and image:
        if isinstance(image[0], dict):
            image = image[0]
        else:
            image, mask = image[0], image[1]
    if isinstance(image, dict):
        image, mask = image.get("image"), image.get("mask")
    if image is not None:
        return _double_cn.decode_image(image), None if mask is None else _double_cn.decode_image(mask)
    if isinstance(p, processing.StableDiffusionProcessingImg2Img) and p.init_images:
        a1111_mask = getattr(p, "image_mask", None)
        mask_arr = None if a1111_mask is None else np.asarray(a1111_mask.convert("L"))
        return _double_cn.decode_image(p.init_images[0]), mask_arr
    raise ValueError("controlnet is enabled but no input image is given")


class Script(scripts.Script):
    def __init__(self) -> None:
        self.applied_units: list[_double_cn.AppliedUnit] = []
        self.history: list[list[_double_cn.AppliedUnit]] = []

    def title(self) -> str:
        return "ControlNet"

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> tuple:
        count = shared.opts.data.get("control_net_unit_count", 3)
        controls = []
        with (
            gr.Group(elem_id=("img2img" if is_img2img else "txt2img") + "_controlnet"),
            gr.Accordion("ControlNet v1.1.455", open=False),
        ):
            controls = [gr.State(ControlNetUnit(enabled=False)) for _ in range(count)]
        return tuple(controls)

    def process(self, p: Any, *args: Any) -> None:
        self.applied_units = []
        units = external_code.get_all_units_in_processing(p)
        enabled = [u for u in units if u.enabled]
        p.extra_generation_params.update({f"ControlNet {i}": u.serialize() for i, u in enumerate(enabled)})
        for i, unit in enumerate(enabled):
            if unit.model in (None, "None"):
                raise RuntimeError("You have not selected any ControlNet Model.")
            model = registry.find_closest_model(unit.model)
            if model is None:
                raise RuntimeError(f"model not found: {unit.model}")
            if registry.get_preprocessor(unit.module) is None:  # only the legacy unit gets this far
                raise ValueError(f"module({unit.module}) not found in supported modules.")
            resize_mode = external_code.resize_mode_from_value(unit.resize_mode)
            source, mask = _unit_image(unit, p)
            detected = _double_cn.detect(registry.get_preprocessor(unit.module).name, source)
            control_map, cropped = _double_cn.fit_to_generation(
                p, detected, resize_mode.int_value(), crop_to_mask=getattr(unit, "inpaint_crop_input_image", True)
            )
            applied = _double_cn.AppliedUnit(
                index=i,
                module=unit.module,
                model=model,
                weight=float(unit.weight),
                resize_mode=resize_mode.value,
                guidance_start=float(unit.guidance_start),
                guidance_end=float(unit.guidance_end),
                control_mode=getattr(unit.control_mode, "value", str(unit.control_mode)),
                pixel_perfect=bool(unit.pixel_perfect),
                processor_res=unit.processor_res,
                threshold_a=unit.threshold_a,
                threshold_b=unit.threshold_b,
                save_detected_map=bool(unit.save_detected_map),
                control_map=control_map,
                source_shape=tuple(source.shape),
                cropped_to_mask=cropped,
                mask=mask,
            )
            self.applied_units.append(applied)
            p.host_double_conditioning.append(_double_cn.conditioning_token(applied))
        p.host_double_cn_applied = list(self.applied_units)
        self.history.append(list(self.applied_units))

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        if self.applied_units and not shared.opts.data.get("control_net_no_detectmap", False):
            for unit in self.applied_units:
                if unit.save_detected_map:
                    processed.images.append(Image.fromarray(unit.control_map))


def on_ui_settings() -> None:
    section = ("control_net", "ControlNet")
    add = shared.opts.add_option
    add(
        "control_net_unit_count",
        shared.OptionInfo(
            3,
            "Multi-ControlNet: ControlNet unit number",
            gr.Slider,
            {"minimum": 1, "maximum": 10, "step": 1},
            section=section,
        ).needs_reload_ui(),
    )
    add("control_net_model_cache_size", shared.OptionInfo(2, "Model cache size", section=section))
    add(
        "control_net_no_detectmap",
        shared.OptionInfo(False, "Do not append detectmap to output", gr.Checkbox, section=section),
    )
    add(
        "control_net_allow_script_control",
        shared.OptionInfo(False, "Allow other script to control this extension", gr.Checkbox, section=section),
    )
    add(
        "control_net_sync_field_args",
        shared.OptionInfo(True, "Paste ControlNet parameters in infotext", gr.Checkbox, section=section),
    )
    add("control_net_models_path", shared.OptionInfo("", "Extra path to scan for ControlNet models", section=section))
    add(
        "controlnet_ignore_noninpaint_mask",
        shared.OptionInfo(
            False, "Ignore mask on ControlNet input image if control type is not inpaint", gr.Checkbox, section=section
        ),
    )


def _encode(arr: np.ndarray) -> str:
    with io.BytesIO() as buffer:
        Image.fromarray(arr).save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode("ascii")


def controlnet_api(_demo: Any, app: FastAPI) -> None:
    @app.get("/controlnet/version")
    async def version() -> dict:
        return {"version": external_code.get_api_version()}

    @app.get("/controlnet/model_list")
    async def model_list(update: bool = True) -> dict:
        return {"model_list": external_code.get_models(update=update)}

    @app.get("/controlnet/module_list")
    async def module_list(alias_names: bool = False) -> dict:
        return {
            "module_list": external_code.get_modules(alias_names),
            "module_detail": external_code.get_modules_detail(alias_names),
        }

    @app.get("/controlnet/settings")
    async def settings() -> dict:
        return {"control_net_unit_count": shared.opts.data.get("control_net_unit_count", 3)}

    @app.post("/controlnet/detect")
    async def detect(
        controlnet_module: str = Body("none", title="Controlnet Module"),
        controlnet_input_images: list[str] = Body([], title="Controlnet Input Images"),  # noqa: B008
        controlnet_processor_res: int = Body(512, title="Controlnet Processor Res"),
        controlnet_threshold_a: float = Body(64, title="Controlnet Threshold a"),
        controlnet_threshold_b: float = Body(64, title="Controlnet Threshold b"),
        low_vram: bool = Body(False, title="Low vram"),
    ) -> dict:
        preprocessor = registry.get_preprocessor(controlnet_module)
        if preprocessor is None:
            raise HTTPException(status_code=422, detail="Module not available")
        if not controlnet_input_images:
            raise HTTPException(status_code=422, detail="No image selected")
        results = [
            _double_cn.detect(preprocessor.name, _double_cn.decode_image(b64)) for b64 in controlnet_input_images
        ]
        return {"images": [_encode(r) for r in results], "info": "Success"}


script_callbacks.on_ui_settings(on_ui_settings)
script_callbacks.on_app_started(controlnet_api)
