"""``ControlNetUnit`` as sd-webui-controlnet ≥ 1.1.448 has it: a pydantic (v1 API) model (host-contract §5).

Pinned behaviour: ``enabled=False`` and ``module="none"`` by default; ``module`` must be a known preprocessor
name or label; ``weight`` in [0, 2]; ``guidance_start`` ≤ ``guidance_end``, both in [0, 1]; ``resize_mode``
takes strings (old aliases too) or ``ResizeMode`` members and rejects ints; unknown keys are dropped;
``from_dict`` maps the legacy keys ``guidance``, ``lowvram``, ``input_image`` and ``mask_image``.
"""

from __future__ import annotations

import copy as copy_module
import logging
from typing import Any

try:
    from pydantic.v1 import BaseModel, Field, root_validator, validator
except ImportError:  # pydantic 1 without the v1 namespace
    from pydantic import BaseModel, Field, root_validator, validator

from modules import _double_cn

from internal_controlnet import registry
from internal_controlnet.enums import RESIZE_MODE_ALIASES, ControlMode, HiResFixOption, InputMode, ResizeMode

logger = logging.getLogger("ControlNet")


# allow_reuse: the double imports this module afresh for every test, and pydantic v1 otherwise refuses to
# register a validator whose qualified name it has seen before.
class ControlNetUnit(BaseModel):
    class Config:
        arbitrary_types_allowed = True
        extra = "ignore"

    # UI-only fields
    is_ui: bool = False
    input_mode: InputMode = InputMode.SIMPLE
    batch_images: Any | None = None
    output_dir: str = ""
    loopback: bool = False

    enabled: bool = False
    module: str = "none"
    model: str = "None"
    weight: float = Field(1.0, ge=0.0, le=2.0)
    image: Any | None = None
    resize_mode: ResizeMode = ResizeMode.INNER_FIT
    low_vram: bool = False
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = Field(0.0, ge=0.0, le=1.0)
    guidance_end: float = Field(1.0, ge=0.0, le=1.0)
    pixel_perfect: bool = False
    control_mode: ControlMode = ControlMode.BALANCED
    inpaint_crop_input_image: bool = True
    hr_option: HiResFixOption = HiResFixOption.BOTH
    save_detected_map: bool = True
    advanced_weighting: list[float] | None = None
    effective_region_mask: Any | None = None
    ipadapter_input: list[Any] | None = None
    pulid_mode: str = "Fidelity"
    union_control_type: str = "Unknown"
    mask: Any | None = None
    batch_mask_dir: str | None = None
    animatediff_batch: bool = False
    batch_modifiers: list = Field(default_factory=list)
    batch_image_files: list = Field(default_factory=list)
    batch_keyframe_idx: Any | None = None

    @validator("module", always=True, pre=True, allow_reuse=True)
    @classmethod
    def check_module(cls, value: str) -> str:
        if registry.get_preprocessor(value) is None:
            raise ValueError(f"module({value}) not found in supported modules.")
        return value

    @validator("resize_mode", always=True, pre=True, allow_reuse=True)
    @classmethod
    def check_resize_mode(cls, value: Any) -> ResizeMode:
        if isinstance(value, str):
            return ResizeMode(RESIZE_MODE_ALIASES.get(value, value))
        # Only strings and members: ints such as 0/1/2 fail here (host-contract §5).
        assert isinstance(value, ResizeMode), f"resize_mode must be a string or ResizeMode, not {value!r}"
        return value

    @root_validator(skip_on_failure=True, allow_reuse=True)
    @classmethod
    def bound_check_params(cls, values: dict) -> dict:
        """Out-of-range processor_res/threshold_a/threshold_b of an enabled unit fall back to the
        preprocessor's defaults."""
        if not values.get("enabled"):
            return values
        preprocessor = registry.get_preprocessor(values.get("module"))
        if preprocessor is None:
            return values
        for field, slider in (
            ("processor_res", preprocessor.slider_resolution),
            ("threshold_a", preprocessor.slider_1),
            ("threshold_b", preprocessor.slider_2),
        ):
            value = values.get(field)
            if value < slider.minimum or value > slider.maximum:
                values[field] = slider.value
                if value != -1:
                    logger.info(
                        f"[{values.get('module')}.{field}] Invalid value({value}), using default value {slider.value}."
                    )
        return values

    @root_validator(skip_on_failure=True, allow_reuse=True)
    @classmethod
    def guidance_check(cls, values: dict) -> dict:
        if values["guidance_start"] > values["guidance_end"]:
            raise ValueError(f"guidance_start({values['guidance_start']}) > guidance_end({values['guidance_end']})")
        return values

    @classmethod
    def legacy_field_alias(cls, values: dict) -> dict:
        for alias, key in {"guidance": "guidance_end", "lowvram": "low_vram", "input_image": "image"}.items():
            if alias in values:
                assert key not in values, f"Conflict of field '{alias}' and '{key}'"
                values[key] = values[alias]
                logger.warning(f"Deprecated alias '{alias}' detected. Please use '{key}' instead.")
        return values

    @classmethod
    def mask_alias(cls, values: dict) -> dict:
        mask_image = values.get("mask_image")
        if mask_image is not None:
            if values.get("mask") is not None:
                raise ValueError("Cannot specify both 'mask' and 'mask_image'!")
            values["mask"] = mask_image
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ControlNetUnit:
        values = cls.mask_alias(cls.legacy_field_alias(copy_module.copy(values)))
        return ControlNetUnit(**values)

    @staticmethod
    def infotext_fields() -> tuple[str, ...]:
        return (
            "module",
            "model",
            "weight",
            "resize_mode",
            "processor_res",
            "threshold_a",
            "threshold_b",
            "guidance_start",
            "guidance_end",
            "pixel_perfect",
            "control_mode",
        )

    def serialize(self) -> str:
        text = _double_cn.serialize({f: getattr(self, f) for f in self.infotext_fields()})
        if not text:
            logger.error("Unexpected tokens encountered in a ControlNet unit's infotext")
        return text

    @property
    def is_inpaint(self) -> bool:
        return "inpaint" in self.module

    def __copy__(self) -> ControlNetUnit:
        return self.copy()
