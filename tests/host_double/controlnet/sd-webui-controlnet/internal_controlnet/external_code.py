"""Fake ``internal_controlnet.external_code`` of sd-webui-controlnet (host-contract §5 "Module functions").

``scripts/external_code.py`` re-exports this module, so other extensions reach it with
``importlib.import_module("extensions.sd-webui-controlnet.scripts.external_code")``.
"""

from __future__ import annotations

import logging
from copy import copy
from typing import Any

import numpy as np
from modules import _double_cn, shared
from modules.api import api

from internal_controlnet import registry
from internal_controlnet._flavour import UNIT_FLAVOUR
from internal_controlnet.enums import RESIZE_MODE_ALIASES, BatchOption, ControlMode, HiResFixOption, ResizeMode

if UNIT_FLAVOUR == "legacy":
    from internal_controlnet.legacy import ControlNetUnit
else:
    from internal_controlnet.args import ControlNetUnit

logger = logging.getLogger("ControlNet")

__all__ = [
    "BatchOption",
    "ControlMode",
    "ControlNetUnit",
    "HiResFixOption",
    "ResizeMode",
    "find_cn_script",
    "get_all_units",
    "get_all_units_from",
    "get_all_units_in_processing",
    "get_api_version",
    "get_max_models_num",
    "get_models",
    "get_modules",
    "get_modules_detail",
    "get_single_unit_from",
    "is_cn_script",
    "pixel_perfect_resolution",
    "resize_mode_from_value",
    "to_base64_nparray",
    "to_processing_unit",
    "update_cn_script",
    "update_cn_script_in_place",
    "update_cn_script_in_processing",
]


def get_api_version() -> int:
    """3 since v1.1.448 (pydantic unit); 2 before."""
    return 2 if UNIT_FLAVOUR == "legacy" else 3


def resize_mode_from_value(value: str | int | ResizeMode) -> ResizeMode:
    if isinstance(value, str):
        return ResizeMode(RESIZE_MODE_ALIASES.get(value, value))
    if isinstance(value, int):
        assert value >= 0
        if value == 3 or value >= len(ResizeMode):  # 3 is A1111's "Just resize (latent upscale)"
            return ResizeMode.RESIZE
        return list(ResizeMode)[value]
    return value


def pixel_perfect_resolution(image: np.ndarray, target_H: int, target_W: int, resize_mode: ResizeMode) -> int:
    raw_h, raw_w = image.shape[:2]
    k0 = float(target_H) / float(raw_h)
    k1 = float(target_W) / float(raw_w)
    scale = min(k0, k1) if resize_mode == ResizeMode.OUTER_FIT else max(k0, k1)
    return int(np.round(scale * float(min(raw_h, raw_w))))


def to_base64_nparray(encoding: str) -> np.ndarray:
    return np.array(api.decode_base64_to_image(encoding)).astype("uint8")


def is_cn_script(script: Any) -> bool:
    return script.title().lower() == "controlnet"


def find_cn_script(script_runner: Any) -> Any:
    """The always-on script titled "ControlNet" in the runner, or ``None``."""
    if script_runner is None:
        return None
    for script in script_runner.alwayson_scripts:
        if is_cn_script(script):
            return script
    return None


def to_processing_unit(unit: dict | ControlNetUnit) -> ControlNetUnit:
    if isinstance(unit, dict):
        return ControlNetUnit.from_dict(unit)
    assert isinstance(unit, ControlNetUnit)
    return unit


def get_all_units_from(script_args: Any) -> list[ControlNetUnit]:
    """Units, dicts and objects carrying every unit field are converted; anything else is skipped."""
    unit_fields = set(vars(ControlNetUnit()).keys())

    def is_unit(arg: Any) -> bool:
        return isinstance(arg, ControlNetUnit | dict) or (
            hasattr(arg, "__dict__") and unit_fields.issubset(set(vars(arg).keys()))
        )

    units = [to_processing_unit(arg) for arg in script_args if is_unit(arg)]
    if not units:
        logger.warning(f"No ControlNetUnit detected in args. Here are args received by ControlNet: {script_args}.")
    return units


def get_all_units(script_runner: Any, script_args: Any) -> list[ControlNetUnit]:
    cn_script = find_cn_script(script_runner)
    if cn_script:
        return get_all_units_from(script_args[cn_script.args_from : cn_script.args_to])
    return []


def get_all_units_in_processing(p: Any) -> list[ControlNetUnit]:
    return get_all_units(p.scripts, p.script_args)


def get_single_unit_from(script_args: Any, index: int = 0) -> ControlNetUnit | None:
    i = 0
    while i < len(script_args) and index >= 0:
        if index == 0 and script_args[i] is not None:
            return to_processing_unit(script_args[i])
        i += 1
        index -= 1
    return None


def get_max_models_num() -> int:
    return shared.opts.data.get("control_net_unit_count", 3)


def update_cn_script(script_runner: Any, script_args: tuple | list, cn_units: list[ControlNetUnit]) -> tuple | list:
    """``script_args`` with ControlNet's slice replaced by ``cn_units`` padded with disabled units up to
    ``control_net_unit_count``; the tuple/list type is kept.

    When more units than slots are given, ControlNet's ``args_to`` grows and every *later* always-on script's
    ``args_from``/``args_to`` moves along, on the shared runner, for good (host-contract §5).
    """
    script_args_type = type(script_args)
    assert script_args_type in (tuple, list), script_args_type
    updated = list(copy(script_args))
    cn_script = find_cn_script(script_runner)
    if cn_script is None or len(script_args) < cn_script.args_from:
        return script_args

    max_models = shared.opts.data.get("control_net_unit_count", 3)
    cn_units = cn_units + [ControlNetUnit(enabled=False)] * max(max_models - len(cn_units), 0)

    shift = 0
    for script in script_runner.alwayson_scripts:
        if script is cn_script:
            shift = len(cn_units) - (cn_script.args_to - cn_script.args_from)
            updated[script.args_from : script.args_to] = cn_units
            script.args_to = script.args_from + len(cn_units)
        else:
            script.args_from += shift
            script.args_to += shift
    return script_args_type(updated)


def update_cn_script_in_processing(p: Any, cn_units: list[ControlNetUnit], **_kwargs: Any) -> None:
    p.script_args = update_cn_script(p.scripts, p.script_args_value, cn_units)


def update_cn_script_in_place(
    script_runner: Any, script_args: list, cn_units: list[ControlNetUnit], **_kwargs: Any
) -> None:
    """Deprecated upstream; asserts on a tuple."""
    assert isinstance(script_args, list), type(script_args)
    script_args[:] = update_cn_script(script_runner, script_args, cn_units)


def get_models(update: bool = False) -> list[str]:
    """Model titles ``"<name> [<hash>]"`` (no "None")."""
    if update:
        registry.update_cn_models()
    return list(registry.cn_models_names.values())


def get_modules(alias_names: bool = False) -> list[str]:
    return [p.label if alias_names else p.name for p in registry.preprocessors()]


def get_modules_detail(alias_names: bool = False) -> dict[str, Any]:
    detail = {}
    for p in registry.preprocessors():
        sliders = [
            {
                "name": "Resolution",
                "value": p.slider_resolution.value,
                "min": p.slider_resolution.minimum,
                "max": p.slider_resolution.maximum,
            },
        ]
        detail[p.label if alias_names else p.name] = {"model_free": p.model_free, "sliders": sliders}
    return detail


# Used by the fake script: keep the shared helpers reachable from here.
AppliedUnit = _double_cn.AppliedUnit
