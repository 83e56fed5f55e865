"""``modules.api.models``: request models generated from the processing constructors (host-contract §4
"Request model"), plus the script listing models.

Every constructor field becomes an optional request field; unknown request keys are ignored (pydantic's
default). Works on pydantic 1 (A1111) and 2 (Forge).
"""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any, Optional

from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img
from pydantic import BaseModel, Field, create_model

API_NOT_ALLOWED = {
    "self",
    "kwargs",
    "sd_model",
    "outpath_samples",
    "outpath_grids",
    "sampler_index",
    "extra_generation_params",
    "overlay_images",
    "do_not_reload_embeddings",
    "seed_enable_extras",
    "prompt_for_display",
    "sampler_noise_scheduler_override",
    "ddim_discretize",
}

# Outlives each double's fresh ``modules`` (the process-wide cache lives in a module that is not reinstalled).
_BUILT: dict[tuple[str, str], type[BaseModel]] = sys.modules.setdefault(
    "_garment_double_api_models", types.ModuleType("_garment_double_api_models")
).__dict__.setdefault("built", {})

_PLAIN_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


def _request_model(name: str, cls: type, additional: list[tuple[str, Any, Any]]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in API_NOT_ALLOWED:
            continue
        default = f.default
        if default is dataclasses.MISSING or isinstance(default, property):
            default = None
        field_type = _PLAIN_TYPES.get(str(f.type), Any)
        fields[f.name] = (Optional[field_type], default)  # noqa: UP007  (a runtime type expression)
    for key, field_type, default in additional:
        fields[key] = (field_type, default)
    # The WebUI builds these once per process; the double installs ``modules`` afresh for every test, and on
    # pydantic 2 building them is about 0.1 s of each double's start. Same name and fields: the same class.
    key = (name, repr(sorted(fields.items())))
    if key not in _BUILT:
        _BUILT[key] = create_model(name, **fields)
    return _BUILT[key]


_COMMON_EXTRA = [
    ("sampler_index", Optional[str], "Euler"),  # noqa: UP007
    ("script_name", Optional[str], None),  # noqa: UP007
    ("script_args", list, []),
    ("send_images", bool, True),
    ("save_images", bool, False),
    ("alwayson_scripts", dict, {}),
    ("force_task_id", Optional[str], None),  # noqa: UP007
    ("infotext", Optional[str], None),  # noqa: UP007
]

StableDiffusionTxt2ImgProcessingAPI = _request_model(
    "StableDiffusionProcessingTxt2Img", StableDiffusionProcessingTxt2Img, _COMMON_EXTRA
)
StableDiffusionImg2ImgProcessingAPI = _request_model(
    "StableDiffusionProcessingImg2Img",
    StableDiffusionProcessingImg2Img,
    [
        *_COMMON_EXTRA,
        ("init_images", Optional[list], None),  # noqa: UP007
        ("denoising_strength", float, 0.75),
        ("mask", Optional[str], None),  # noqa: UP007
        ("include_init_images", bool, False),
    ],
)


class TextToImageResponse(BaseModel):
    images: list[str] | None = Field(default=None, title="Image")
    parameters: dict
    info: str


class ImageToImageResponse(BaseModel):
    images: list[str] | None = Field(default=None, title="Image")
    parameters: dict
    info: str


class ScriptsList(BaseModel):
    txt2img: list | None = Field(default=None, title="Txt2img")
    img2img: list | None = Field(default=None, title="Img2img")


class ScriptArg(BaseModel):
    label: str | None = Field(default=None, title="Label")
    value: Any | None = Field(default=None, title="Value")
    minimum: Any | None = Field(default=None, title="Minimum")
    maximum: Any | None = Field(default=None, title="Maximum")
    step: Any | None = Field(default=None, title="Step")
    choices: list[str] | None = Field(default=None, title="Choices")


class ScriptInfo(BaseModel):
    name: str | None = Field(default=None, title="Name")
    is_alwayson: bool | None = Field(default=None, title="IsAlwayson")
    is_img2img: bool | None = Field(default=None, title="IsImg2img")
    args: list[ScriptArg] = Field(title="Arguments")
