"""Fake always-on "ControlNet" script of Forge (host-contract §5b).

Units apply only with Forge's exact spellings: ``module`` one of ``global_state.get_all_preprocessor_names()``
("None" with a capital N), ``model`` exactly one of ``get_all_controlnet_names()`` (hash included) and an
``image`` that is an array or a base64 string. Otherwise ``process()`` raises like the real script (an
``AttributeError``, ``KeyError`` or ``TypeError``), the host reports it and the request still succeeds,
with "ControlNet <i>" already in the infotext and the unit not applied. Control maps go to
``p.extra_result_images`` (they reach the API through ``Processed.extra_images``); Forge never reads
``control_net_no_detectmap``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import gradio as gr
import numpy as np
from fastapi import Body, FastAPI
from fastapi.exceptions import HTTPException
from lib_controlnet import external_code, global_state
from lib_controlnet.external_code import ControlNetUnit
from modules import _double_cn, processing, script_callbacks, scripts, shared
from modules.ui_components import InputAccordion
from PIL import Image


def _input_image(unit: ControlNetUnit, p: Any) -> tuple[np.ndarray, np.ndarray | None]:
    image = unit.image
    if image is None:
        if isinstance(p, processing.StableDiffusionProcessingImg2Img) and p.init_images:
            a1111_mask = getattr(p, "image_mask", None)
            mask = None if a1111_mask is None else np.asarray(a1111_mask.convert("L"))
            return _double_cn.decode_image(p.init_images[0]), mask
        raise ValueError("controlnet is enabled but no input image is given")
    # Forge compares the image with an int, which a dict (A1111's {"image", "mask"} form) cannot do.
    _ = image < 5
    mask = None if unit.mask_image is None else _double_cn.decode_image(unit.mask_image)
    return _double_cn.decode_image(image), mask


class ControlNetForForgeOfficial(scripts.Script):
    sorting_priority = 10

    def __init__(self) -> None:
        self.applied_units: list[_double_cn.AppliedUnit] = []
        self.history: list[list[_double_cn.AppliedUnit]] = []

    def title(self) -> str:
        return "ControlNet"

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> tuple:
        count = shared.opts.data.get("control_net_unit_count", 3)
        default_unit = ControlNetUnit(enabled=False, module="None", model="None")
        controls = []
        with (
            gr.Group(elem_id=("img2img" if is_img2img else "txt2img") + "_controlnet"),
            gr.Accordion("ControlNet Integrated", open=False),
        ):
            for i in range(count):
                with InputAccordion(value=False, label=f"ControlNet Unit {i}"):
                    controls.append(gr.State(default_unit))
        return tuple(controls)

    def get_enabled_units(self, units: tuple) -> list[ControlNetUnit]:
        units = [ControlNetUnit.from_dict(u) if isinstance(u, dict) else u for u in units]
        assert all(isinstance(u, ControlNetUnit) for u in units)
        return [u for u in units if u.enabled]

    def process(self, p: Any, *args: Any) -> None:
        self.applied_units = []
        enabled = self.get_enabled_units(args)
        p.extra_generation_params.update(
            {
                f"ControlNet {i}": _double_cn.serialize({f: getattr(u, f) for f in u.infotext_fields()})
                for i, u in enumerate(enabled)
            }
        )
        for i, unit in enumerate(enabled):
            if global_state.get_preprocessor(unit.module) is None:
                raise AttributeError("'NoneType' object has no attribute 'slider_resolution'")
            global_state.get_controlnet_filename(unit.model)  # KeyError unless the exact listed name
            if unit.model == "None":
                raise RuntimeError("You have not selected any ControlNet Model.")
            resize_mode = external_code.resize_mode_from_value(unit.resize_mode)
            source, mask = _input_image(unit, p)
            detected = _double_cn.detect(unit.module, source)
            control_map, cropped = _double_cn.fit_to_generation(p, detected, resize_mode.int_value(), crop_to_mask=True)
            control_mode = external_code.control_mode_from_value(unit.control_mode)
            applied = _double_cn.AppliedUnit(
                index=i,
                module=unit.module,
                model=unit.model,
                weight=float(unit.weight),
                resize_mode=resize_mode.value,
                guidance_start=float(unit.guidance_start),
                guidance_end=float(unit.guidance_end),
                control_mode=control_mode.value,
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
            if unit.save_detected_map:
                p.extra_result_images.append(control_map)
        p.host_double_cn_applied = list(self.applied_units)
        self.history.append(list(self.applied_units))


def on_ui_settings() -> None:
    section = ("control_net", "ControlNet")
    add = shared.opts.add_option
    add(
        "control_net_unit_count",
        shared.OptionInfo(
            3,
            "Multi-ControlNet: ControlNet unit number (requires restart)",
            gr.Slider,
            {"minimum": 1, "maximum": 10, "step": 1},
            section=section,
        ),
    )
    add("control_net_model_cache_size", shared.OptionInfo(5, "Model cache size (requires restart)", section=section))
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


def _encode(arr: np.ndarray) -> str:
    with io.BytesIO() as buffer:
        Image.fromarray(arr).save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode("ascii")


def controlnet_api(_demo: Any, app: FastAPI) -> None:
    # Forge has no /controlnet/version and its module_list has no module_detail (host-contract §5b).
    @app.get("/controlnet/model_list")
    async def model_list(update: bool = True) -> dict:
        if update:
            global_state.update_controlnet_filenames()
        return {"model_list": global_state.get_all_controlnet_names()}

    @app.get("/controlnet/module_list")
    async def module_list(alias_names: bool = False) -> dict:
        return {"module_list": global_state.get_all_preprocessor_names()}

    @app.post("/controlnet/detect")
    async def detect(
        controlnet_module: str = Body("None", title="Controlnet Module"),
        controlnet_input_images: list[str] = Body([], title="Controlnet Input Images"),  # noqa: B008
        controlnet_processor_res: int = Body(512, title="Controlnet Processor Res"),
        controlnet_threshold_a: float = Body(64, title="Controlnet Threshold a"),
        controlnet_threshold_b: float = Body(64, title="Controlnet Threshold b"),
    ) -> dict:
        if global_state.get_preprocessor(controlnet_module) is None:
            raise HTTPException(status_code=422, detail="Module not available")
        if not controlnet_input_images:
            raise HTTPException(status_code=422, detail="No image selected")
        results = [
            _double_cn.detect(controlnet_module, _double_cn.decode_image(b64)) for b64 in controlnet_input_images
        ]
        return {"images": [_encode(r) for r in results], "info": "Success"}


script_callbacks.on_ui_settings(on_ui_settings)
script_callbacks.on_app_started(controlnet_api)
