"""A UnitPlan as ControlNet's unit fields, in each flavour's exact spellings (host-contract.md §5, §5b).

The WebUI bridge (``lib_garment.host.controlnet``) turns these fields into its flavour's unit object and the
remote client (``lib_garment.client.payload``) into a JSON unit, so both send the same unit: a precomputed
full-size map with no preprocessor (module "none" on sd-webui-controlnet, "None" on Forge) and the model
title exactly as the host lists it.
"""

from __future__ import annotations

from typing import Any, Literal

from lib_garment.generate.plan import UnitPlan

Flavour = Literal["sd-webui-controlnet", "forge"]
NONE_MODULE: dict[Flavour, str] = {"sd-webui-controlnet": "none", "forge": "None"}
CONTROL_MODES = {
    "balanced": "Balanced",
    "prompt": "My prompt is more important",
    "controlnet": "ControlNet is more important",
}
# ControlNet's resize mode by the img2img pass's ``resize_mode`` (0 Just resize, 1 Crop and resize, 2 Resize
# and fill, 3 Just resize (latent upscale)), so the map is fitted to the generated size the way the photo is.
RESIZE_MODES = {0: "Just Resize", 1: "Crop and Resize", 2: "Resize and Fill", 3: "Just Resize"}


def resize_mode_for(img2img_resize_mode: int | None) -> str:
    """ControlNet's resize mode for an img2img ``resize_mode`` (an unknown one: Just Resize)."""
    return RESIZE_MODES.get(int(img2img_resize_mode or 0), RESIZE_MODES[0])


def unit_fields(unit: UnitPlan, model: str, flavour: Flavour, resize_mode: str = RESIZE_MODES[0]) -> dict[str, Any]:
    """One enabled unit fed with the plan's precomputed map: ``image`` is the map array, which each caller
    wraps as its flavour or transport takes it; ``model`` is a title already resolved against the host."""
    return {
        "enabled": True,
        "module": NONE_MODULE[flavour],
        "model": model,
        "image": unit.image,
        "weight": float(unit.weight),
        "guidance_start": float(unit.guidance_start),
        "guidance_end": float(unit.guidance_end),
        "control_mode": CONTROL_MODES[unit.control_mode],
        "resize_mode": resize_mode,
        "processor_res": -1,
        "threshold_a": -1,
        "threshold_b": -1,
        "pixel_perfect": False,
    }
