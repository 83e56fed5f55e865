"""``ControlNetUnit`` as sd-webui-controlnet ≤ 1.1.447 had it: a dataclass, ``enabled=True`` by default,
no validation at construction (a bad module fails when the unit is used)."""

from __future__ import annotations

import dataclasses
from typing import Any

from modules import _double_cn

from internal_controlnet.enums import ControlMode, HiResFixOption, ResizeMode


@dataclasses.dataclass
class ControlNetUnit:
    enabled: bool = True
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    image: Any = None
    resize_mode: Any = ResizeMode.INNER_FIT
    low_vram: bool = False
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: Any = ControlMode.BALANCED
    inpaint_crop_input_image: bool = True
    hr_option: Any = HiResFixOption.BOTH
    save_detected_map: bool = True
    advanced_weighting: Any = None

    @classmethod
    def from_dict(cls, values: dict) -> ControlNetUnit:
        """Old keys are mapped, unknown keys dropped, a separate ``mask`` is folded into ``image``."""
        values = {
            {"guidance": "guidance_end", "lowvram": "low_vram", "input_image": "image"}.get(k, k): v
            for k, v in values.items()
        }
        mask = values.pop("mask", None)
        if mask is not None and values.get("image") is not None and not isinstance(values["image"], dict):
            values["image"] = {"image": values["image"], "mask": mask}
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

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
        return _double_cn.serialize({f: getattr(self, f) for f in self.infotext_fields()})
