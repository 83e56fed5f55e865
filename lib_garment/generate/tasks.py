"""The two tasks of Kong & Wu (2024) §4.2–4.3 as data: which units, which mask, which size.

- background: keep the product, regenerate everything else. Units: Canny of the mask outline + normal map,
  the paper's best ablation (depth is the alternative for plain backgrounds).
- model: keep the garment, regenerate the person and the background (from a mannequin or self-shot photo).
  Units: pose from the photo + Canny of the mask outline + depth (the paper's best is pose + depth).

Both inpaint everything the matte does not fully keep; the composite puts the kept pixels back afterwards.
"""

from __future__ import annotations

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.generate.describe import request_prompt
from lib_garment.generate.plan import INPAINT_FILL, GenerationPlan, UnitPlan
from lib_garment.request import ControlUnit, GarmentRequest

DEFAULT_UNITS: dict[str, tuple[ControlUnit, ...]] = {
    "background": (ControlUnit(kind="mask_canny", weight=1.0), ControlUnit(kind="normal", weight=0.6)),
    "model": (
        ControlUnit(kind="pose", weight=1.0),
        ControlUnit(kind="mask_canny", weight=0.8),
        ControlUnit(kind="depth", weight=0.6),
    ),
}
MAX_GENERATION_SIDE = 1024  # default generation size: the photo fitted in this, multiples of 8
SIZE_STEP = 8


def control_units(request: GarmentRequest) -> tuple[ControlUnit, ...]:
    """The request's units, or the task's defaults when it names none (an empty list means no units)."""
    return tuple(request.control) if request.control is not None else DEFAULT_UNITS[request.task]


def map_kinds(request: GarmentRequest) -> tuple[str, ...]:
    """The maps the units need, each once, in unit order."""
    return tuple(dict.fromkeys(unit.kind for unit in control_units(request)))


def inpaint_mask(alpha: np.ndarray) -> np.ndarray:
    """255 wherever the matte does not fully keep the pixel: the soft band is regenerated, then mixed back."""
    return np.where(np.asarray(alpha) >= 1.0, 0, 255).astype(np.uint8)


def generation_size(photo_width: int, photo_height: int, request: GarmentRequest) -> tuple[int, int]:
    """The request's size, or the photo fitted in MAX_GENERATION_SIDE, rounded to multiples of 8."""
    options = request.generation
    if options.width and options.height:
        return _round(options.width), _round(options.height)
    scale = min(1.0, MAX_GENERATION_SIDE / max(photo_width, photo_height))
    if options.width:  # one side given: the other keeps the photo's aspect
        scale = options.width / photo_width
    elif options.height:
        scale = options.height / photo_height
    return _round(photo_width * scale), _round(photo_height * scale)


def _round(side: float) -> int:
    return max(SIZE_STEP * 8, int(round(side / SIZE_STEP)) * SIZE_STEP)


def unit_map(kind: str, array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map as ControlNet takes it: (H, W, 3) uint8 at the photo's size."""
    array = np.asarray(array)
    width, height = size
    if array.dtype != np.uint8:
        raise BadInput(f"the {kind} map must be 8-bit, got {array.dtype}")
    if array.shape[:2] != (height, width):
        raise BadInput(f"the {kind} map is {array.shape[1]}x{array.shape[0]} but the photo is {width}x{height}")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[..., :3])
    raise BadInput(f"the {kind} map must be gray or RGB, got shape {array.shape}")


def unit_plans(request: GarmentRequest, maps: dict[str, np.ndarray], size: tuple[int, int]) -> tuple[UnitPlan, ...]:
    """The request's units, each with its map as ControlNet takes it."""
    plans = []
    for unit in control_units(request):
        if unit.kind not in maps:
            raise BadInput(f"no {unit.kind} map for the {unit.kind} unit")
        plans.append(
            UnitPlan(
                kind=unit.kind,
                image=unit_map(unit.kind, maps[unit.kind], size),
                weight=unit.weight,
                guidance_start=unit.guidance_start,
                guidance_end=unit.guidance_end,
                control_mode=unit.control_mode,
                model=unit.model,
            )
        )
    return tuple(plans)


def build_plan(
    request: GarmentRequest,
    photo: np.ndarray,
    alpha: np.ndarray,
    maps: dict[str, np.ndarray],
    notes: tuple[str, ...] = (),
) -> GenerationPlan:
    """The plan for ``photo`` ((H, W, 3) uint8) kept through ``alpha`` with the units' ``maps`` at full size."""
    height, width = photo.shape[:2]
    units = unit_plans(request, maps, (width, height))
    gen_width, gen_height = generation_size(width, height, request)
    options = request.generation
    return GenerationPlan(
        task=request.task,
        init_image=photo,
        inpaint_mask=inpaint_mask(alpha),
        keep_alpha=np.asarray(alpha, dtype=np.float32),
        units=units,
        prompt=request_prompt(request),
        negative_prompt=request.negative_prompt,
        width=gen_width,
        height=gen_height,
        seed=request.seed,
        steps=options.steps,
        cfg_scale=options.cfg_scale,
        sampler=options.sampler,
        denoising_strength=options.denoising_strength,
        mask_blur=options.mask_blur,
        inpaint_padding=options.inpaint_padding,
        inpainting_fill=None if options.inpainting_fill is None else INPAINT_FILL[options.inpainting_fill],
        only_masked=options.only_masked,
        batch_count=options.batch_count,
        notes=notes,
    )
