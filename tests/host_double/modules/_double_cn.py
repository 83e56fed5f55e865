"""What both fake ControlNets share: input decoding, stand-in detectors, fitting maps to the generation.

Not a WebUI module: the fake extensions import it so their own files stay about the API they mimic.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
from typing import Any

import numpy as np
from modules import images, masking, processing
from PIL import Image


@dataclasses.dataclass
class AppliedUnit:
    """One ControlNet unit as the fake script applied it (inspect ``script.applied_units``)."""

    index: int
    module: str
    model: str
    weight: float
    resize_mode: str
    guidance_start: float
    guidance_end: float
    control_mode: str
    pixel_perfect: bool
    processor_res: float
    threshold_a: float
    threshold_b: float
    save_detected_map: bool
    control_map: np.ndarray  # uint8 (H, W, 3) at the generation size
    source_shape: tuple[int, ...]
    cropped_to_mask: bool
    mask: np.ndarray | None = None


def to_hwc3(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        return np.concatenate([arr] * 3, axis=2)
    if arr.shape[2] == 4:
        return arr[:, :, :3].copy()
    return arr


def decode_image(value: Any) -> np.ndarray:
    """ndarray, PIL image, file path or (data-URL) base64 string → uint8 (H, W, 3)."""
    if isinstance(value, np.ndarray):
        return to_hwc3(value)
    if isinstance(value, Image.Image):
        return to_hwc3(np.asarray(value.convert("RGB")))
    if isinstance(value, str):
        # os.path.exists, not Path.exists: a long base64 string must read as "no such file", not raise.
        if os.path.exists(value):  # noqa: PTH110
            return to_hwc3(np.asarray(Image.open(value).convert("RGB")))
        if value.startswith("data:image/"):
            value = value.split(";")[1].split(",")[1]
        raw = base64.b64decode(value)
        return to_hwc3(np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")))
    raise ValueError(f"Unrecognized image format {type(value).__name__}")


def detect(module: str, image: np.ndarray) -> np.ndarray:
    """Stand-in preprocessors: "none"/"None" pass through, "invert" inverts, canny marks strong gradients;
    every other module gives the luminance as a grey map."""
    image = to_hwc3(image)
    if module in ("none", "None"):
        return image.copy()
    if module.startswith("invert"):
        return 255 - image
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if module == "canny":
        gy, gx = np.gradient(grey)
        edges = (np.hypot(gx, gy) > 40).astype(np.uint8) * 255
        return to_hwc3(edges)
    return to_hwc3(np.rint(grey).astype(np.uint8))


def fit_to_generation(p: Any, control_map: np.ndarray, resize_mode: int, crop_to_mask: bool) -> tuple[np.ndarray, bool]:
    """Resize the map to ``p.width`` × ``p.height``; in img2img "Only masked" inpaint (with
    ``crop_to_mask``) first crop it with the WebUI's mask crop region, as both ControlNets do."""
    img = Image.fromarray(to_hwc3(control_map))
    image_mask = getattr(p, "image_mask", None)
    only_masked = (
        isinstance(p, processing.StableDiffusionProcessingImg2Img) and p.inpaint_full_res and image_mask is not None
    )
    if only_masked and crop_to_mask:
        mask = processing.create_binary_mask(image_mask)
        crop = masking.get_crop_region(np.asarray(mask), p.inpaint_full_res_padding)
        crop = masking.expand_crop_region(crop, p.width, p.height, mask.width, mask.height)
        img = images.resize_image(resize_mode, img, mask.width, mask.height).crop(crop)
        img = images.resize_image(0, img, p.width, p.height)
        return to_hwc3(np.asarray(img.convert("RGB"))), True
    img = images.resize_image(resize_mode, img, p.width, p.height)
    return to_hwc3(np.asarray(img.convert("RGB"))), False


def conditioning_token(unit: AppliedUnit) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(unit.control_map).tobytes()).hexdigest()[:12]
    return f"controlnet:{unit.model}:{unit.module}:{unit.weight}:{digest}"


def serialize(fields: dict[str, Any]) -> str:
    """Infotext value of a unit: "Module: x, Model: y, …"; empty when a value holds ',' or ':'."""
    text = {
        " ".join(w.capitalize() for w in k.split("_")): (v.value if hasattr(v, "value") else str(v))
        for k, v in fields.items()
    }
    if not all("," not in str(v) and ":" not in str(v) for v in text.values()):
        return ""
    return ", ".join(f"{k}: {v}" for k, v in text.items())
