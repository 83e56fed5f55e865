"""A job prepared on the WebUI's own img2img processing object (the always-on script, the img2img script).

- :func:`prepare_on_img2img`: the engine's plan made on ``p``'s init image (mask from the phrases or from what
  the user's inpaint mask keeps) and put onto ``p`` (:func:`apply_plan`: inpaint mask, inpaint options, units);
- :func:`remember_fields` / :func:`restore_fields`: what the plan changed on ``p``, put back after the run;
- :func:`finish_image`: the exact composite of one output.

The tab and REST run plans on processing objects of their own (:mod:`lib_garment.host.passes.generation`),
through the same :func:`apply_plan` and :func:`finish_image`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from lib_garment.errors import BadInput, GarmentError
from lib_garment.generate.composite import KeptCheck, check_kept, composite_kept
from lib_garment.generate.plan import GenerationPlan, UnitPlan
from lib_garment.generate.prepare import prepare
from lib_garment.host.passes.checks import JobChecks
from lib_garment.host.webui.controlnet import ControlNetBridge, Injected
from lib_garment.host.webui.processing import to_array
from lib_garment.host.webui.progress import webui_progress
from lib_garment.host.webui.settings import model_settings
from lib_garment.presets.deliver import plain_background
from lib_garment.request import GarmentRequest

JOB_ATTR = "_garment_studio_job"  # the prepared plan riding on a processing object until its composite


def painted_area(image_mask: Any) -> np.ndarray:
    """Where the WebUI inpaints for this mask: as its create_binary_mask reads it (an RGBA mask that is not fully
    opaque by its alpha above 128, anything else by its grey value) and as its latent mask rounds grey (≥ 128)."""
    if image_mask.mode == "RGBA" and image_mask.getextrema()[-1] != (255, 255):
        return np.asarray(image_mask.getchannel("A")) > 128
    return np.asarray(image_mask.convert("L")) >= 128


def kept_mask_from_inpaint(image_mask: Any, invert: int | bool) -> np.ndarray:
    """What the user's inpaint mask keeps: the unpainted area, or the painted one with "Inpaint not masked"."""
    painted = painted_area(image_mask)
    keep = painted if invert else ~painted
    return (keep * 255).astype(np.uint8)


# What apply_plan changes on the caller's processing object. The WebUI reuses one object for every image of
# its img2img Batch tab, so these are put back after each run (restore_fields): the next image must see the
# user's mask and options, never our previous plan's.
PLAN_FIELDS = (
    "image_mask",
    "mask_blur_x",
    "mask_blur_y",
    "inpainting_fill",
    "inpaint_full_res",
    "inpaint_full_res_padding",
    "inpainting_mask_invert",
    "resize_mode",
    "script_args",
)
SAVED_ATTR = "_garment_studio_saved_fields"


def remember_fields(p: Any) -> None:
    """Note ``p``'s PLAN_FIELDS before a plan is applied (once per run; a nested call keeps the first note)."""
    if getattr(p, SAVED_ATTR, None) is None:
        setattr(p, SAVED_ATTR, {name: getattr(p, name) for name in PLAN_FIELDS if hasattr(p, name)})


def restore_fields(p: Any) -> None:
    """Put back what :func:`remember_fields` noted (nothing when nothing was noted)."""
    saved = getattr(p, SAVED_ATTR, None)
    if saved is None:
        return
    for name, value in saved.items():
        setattr(p, name, value)
    setattr(p, SAVED_ATTR, None)


@dataclass
class Unitless:
    """No ControlNet: the run goes on without units only when the request allows it."""

    note: str


def inject_units(
    p: Any, units: tuple[UnitPlan, ...], bridge: ControlNetBridge | None, resize_mode: int = 0
) -> Injected | Unitless:
    """Our units into ``p``'s ControlNet slots (merged with the caller's), or a note why there are none."""
    if not units:
        return Unitless("no ControlNet units requested")
    if bridge is None:
        return Unitless("ControlNet is not installed: generated without control units")
    return bridge.inject(p, units, resize_mode)


def apply_plan(p: Any, plan: GenerationPlan, bridge: ControlNetBridge | None) -> Injected | Unitless:
    """Make an img2img ``p`` regenerate what the plan says: its inpaint mask and units, and the inpaint options
    the plan sets (None: ``p`` keeps its own, i.e. the user's img2img settings or the API request's)."""
    remember_fields(p)
    p.image_mask = Image.fromarray(plan.inpaint_mask, mode="L")
    if plan.mask_blur is not None:
        p.mask_blur = int(plan.mask_blur)
    if plan.inpainting_fill is not None:
        p.inpainting_fill = plan.inpainting_fill
    if plan.only_masked is not None:
        p.inpaint_full_res = plan.only_masked
    if plan.inpaint_padding is not None:
        p.inpaint_full_res_padding = plan.inpaint_padding
    p.inpainting_mask_invert = 0  # our mask is white where the WebUI regenerates
    p.resize_mode = 0  # "Just resize": the output maps back onto the photo for the exact composite
    return inject_units(p, plan.units, bridge)


def outcome_notes(outcome: Injected | Unitless) -> tuple[str, ...]:
    """What the user should read about the units: why there are none, or caller units left as they were."""
    return (outcome.note,) if isinstance(outcome, Unitless) else outcome.notes


def the_photo(p: Any) -> Any:
    """``p``'s one init image. The WebUI's Batch tab repeats one photo batch-size times; different photos in one
    generation (REST init_images) would share one inpaint mask, so they are refused."""
    first, *others = p.init_images
    pixels = np.asarray(first)
    for other in others:
        if other is not first and not np.array_equal(np.asarray(other), pixels):
            raise BadInput(
                f"Garment Studio prepares one photo per generation and img2img got {len(p.init_images)} different "
                "init images: send one per request (or use the img2img Batch tab, or Garment Studio's own "
                "/garment-studio/v1/generate route per photo)"
            )
    return first


def img2img_photo(p: Any) -> np.ndarray:
    """``p``'s one init image as (H, W, 3) uint8 RGB; GarmentError without one, BadInput for several."""
    if not getattr(p, "init_images", None):
        raise GarmentError("img2img has no init image")
    return to_array(the_photo(p))


def prepare_on_img2img(p: Any, request: GarmentRequest, checks: JobChecks, photo: np.ndarray) -> tuple[str, ...]:
    """Prepare the job on ``photo`` (``p``'s init image, :func:`img2img_photo`) and make ``p`` run it; returns
    notes for the user.

    ``checks``: the job's up-front check (ControlNet and restore options, before any model runs). The mask comes
    from the phrases or from what the user's inpaint mask keeps. The prepared job rides on ``p`` (JOB_ATTR) until
    the always-on script composites each output."""
    user_mask = None
    if getattr(p, "image_mask", None) is not None and request.segment.mask_source != "phrase":
        user_mask = kept_mask_from_inpaint(p.image_mask, getattr(p, "inpainting_mask_invert", 0))
    plain = plain_background(request)
    # A plain background replaces the generated scene after the composite: no units, so no control maps are made
    # for a scene that is thrown away (the WebUI's own generation still runs: this path cannot skip it).
    plan_request = request.copy(update={"control": []}) if plain else request
    with webui_progress() as progress:
        prepared = prepare(plan_request, photo, model_settings(progress), mask=user_mask, units=checks.units)
    prepared = replace(prepared, request=request)
    outcome = apply_plan(p, prepared.plan, checks.controlnet)
    setattr(p, JOB_ATTR, prepared)
    notes = list(prepared.notes)
    if plain:
        notes.append(
            f"output.background: the product goes onto plain {request.output.background} after the composite, "
            "replacing the generated scene (the WebUI's generation cannot be skipped here; the Garment Studio tab "
            "and /garment-studio/v1/generate skip it)"
        )
    if isinstance(outcome, Injected):  # without units prepare() already said why
        notes += outcome.notes
    return tuple(notes)


def finish_image(plan: GenerationPlan, generated: Any) -> tuple[np.ndarray, KeptCheck]:
    """One generated image composited onto the photo at its resolution, and the check of the kept pixels."""
    out = composite_kept(plan.init_image, to_array(generated), plan.keep_alpha)
    return out, check_kept(plan.init_image, out, plan.keep_alpha)
