"""A GenerationPlan as the WebUI's ``POST /sdapi/v1/img2img`` body, and that call's answer taken apart.

Pure data work (no network): the request fields are the ones host-contract §4 lists for the inpaint pass, and
the ControlNet units are dicts under ``alwayson_scripts.controlnet.args`` with each flavour's exact spellings
(§5, §5b): precomputed full-size maps, module "none" (sd-webui-controlnet) or "None" (Forge), the model title
exactly as ``/controlnet/model_list`` gives it, the map as plain base64 PNG, "Just Resize".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lib_garment.b64images import decode_image, encode_png
from lib_garment.client.errors import WebUIError
from lib_garment.generate.controlnet_units import Flavour, resize_mode_for, unit_fields
from lib_garment.generate.plan import DEFAULT_CFG, DEFAULT_SAMPLER, DEFAULT_STEPS, GenerationPlan, UnitPlan

IMG2IMG_RESIZE_MODE = 0  # "Just resize": the output maps back onto the photo for the exact composite


def unit_dict(unit: UnitPlan, model: str, flavour: Flavour) -> dict[str, Any]:
    """One enabled ControlNet unit fed with the plan's precomputed map, as JSON (the map as base64 PNG)."""
    fields = unit_fields(unit, model, flavour, resize_mode_for(IMG2IMG_RESIZE_MODE))
    return {
        **fields,
        "image": encode_png(unit.image),
        "save_detected_map": True,  # the maps coming back tell that the units were applied
    }


def img2img_payload(
    plan: GenerationPlan,
    models: Sequence[str],
    flavour: Flavour | None,
    override_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The img2img body for ``plan``: photo, inpaint mask (white = regenerate), inpaint options, size, seed,
    batch count and the units with their resolved ``models``. Steps, CFG and sampler the plan leaves open get
    the UI's defaults, as the WebUI's own entry points use them: one request makes one picture by every path."""
    if len(models) != len(plan.units):
        raise ValueError(f"{len(plan.units)} units but {len(models)} model titles")
    plan = plan.with_inpaint_defaults()  # the API's own defaults (e.g. "Only masked") are not the UI's
    body: dict[str, Any] = {
        "init_images": [encode_png(plan.init_image)],
        "mask": encode_png(plan.inpaint_mask),
        "inpainting_mask_invert": 0,
        "mask_blur": int(plan.mask_blur),
        "inpainting_fill": int(plan.inpainting_fill),
        "inpaint_full_res": bool(plan.only_masked),
        "inpaint_full_res_padding": int(plan.inpaint_padding),
        "resize_mode": IMG2IMG_RESIZE_MODE,
        "denoising_strength": float(plan.denoising_strength),
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "seed": int(plan.seed),
        "batch_size": 1,
        "n_iter": int(plan.batch_count),
        "width": int(plan.width),
        "height": int(plan.height),
        "send_images": True,
        "save_images": False,
    }
    body["steps"] = int(plan.steps or DEFAULT_STEPS)  # the API's own default would be 50
    body["cfg_scale"] = float(plan.cfg_scale or DEFAULT_CFG)
    body["sampler_name"] = plan.sampler or DEFAULT_SAMPLER
    if override_settings:
        body["override_settings"] = dict(override_settings)
        body["override_settings_restore_afterwards"] = True
    if plan.units:
        if flavour is None:
            raise ValueError("units need a ControlNet flavour")
        args = [unit_dict(unit, model, flavour) for unit, model in zip(plan.units, models, strict=True)]
        body["alwayson_scripts"] = {"controlnet": {"args": args}}
    return body


def describe_payload(body: dict[str, Any]) -> dict[str, Any]:
    """The body without its images (for result.json): what was asked of the server."""
    shown = {k: v for k, v in body.items() if k not in ("init_images", "mask", "alwayson_scripts")}
    units = body.get("alwayson_scripts", {}).get("controlnet", {}).get("args", [])
    shown["controlnet_units"] = [{k: v for k, v in unit.items() if k != "image"} for unit in units]
    return shown


@dataclass
class Img2ImgAnswer:
    """The img2img answer taken apart: the ``n_iter`` generated images (grid and ControlNet's maps set aside),
    their seeds and infotexts, and how many extra images (ControlNet's detected maps) followed them."""

    images: list[np.ndarray]
    seeds: list[int | None]
    infotexts: list[str | None]
    extra_images: int
    info: dict[str, Any] = field(default_factory=dict)


def parse_img2img_answer(answer: Any, expected: int) -> Img2ImgAnswer:
    """Split the answer of an img2img call asked for ``expected`` images. WebUIError when it is malformed or
    holds no image."""
    if not isinstance(answer, dict) or not isinstance(answer.get("images"), list):
        raise WebUIError("the img2img answer has no image list; is this a Stable Diffusion WebUI API?")
    encoded = answer["images"]
    info = _info(answer.get("info"))
    first = info.get("index_of_first_image", 0)
    first = first if isinstance(first, int) and 0 <= first <= len(encoded) else 0
    generated = encoded[first : first + expected]
    if not generated:
        raise WebUIError("the WebUI sent back no image (was the job interrupted? see the WebUI's console)")
    images = []
    for i, data in enumerate(generated):
        try:
            picture = decode_image(data, f"image {i + 1} of the img2img answer")
        except Exception as err:  # noqa: BLE001 - any undecodable image is the server's fault
            raise WebUIError(str(err)) from None
        images.append(np.asarray(picture.convert("RGB"), dtype=np.uint8))
    seeds = _nth(info.get("all_seeds"), len(images), int)
    texts = _nth(info.get("infotexts"), len(images), str, offset=first)
    extra = max(0, len(encoded) - first - len(images))
    return Img2ImgAnswer(images, seeds, texts, extra, info)


def _info(value: Any) -> dict[str, Any]:
    """``info`` is ``Processed.js()``: a JSON string (a dict from some servers)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {}


def _nth(values: Any, count: int, kind: type, offset: int = 0) -> list[Any]:
    values = values if isinstance(values, list) else []
    out = []
    for i in range(count):
        value = values[offset + i] if offset + i < len(values) else None
        try:
            out.append(None if value is None else kind(value))
        except (TypeError, ValueError):
            out.append(None)
    return out
