"""One job prepared: photo (+ the caller's mask and maps) → segmentation → control maps → GenerationPlan.

This is the engine call behind every entry point (tab preview and generate, always-on script, img2img script,
REST routes, ``python -m lib_garment run``). Everything is checked before any model runs: the request, the
images' sizes, which mask to use, and whether each needed model can be had (ModelUnavailable names the file
and folder). Backends and estimators are cached, so a batch loads each model once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lib_garment.arrays import check_image
from lib_garment.errors import BadInput
from lib_garment.generate.plan import GenerationPlan, UnitPlan
from lib_garment.generate.tasks import build_plan, map_kinds, unit_plans
from lib_garment.imageio import check_array_size
from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.depth import RawDepth, depth_from_pixels
from lib_garment.maps.from_request import map_estimators, map_settings
from lib_garment.models.settings import ModelSettings
from lib_garment.request import MAP_KINDS, GarmentRequest
from lib_garment.segment.phrases import parse_phrases
from lib_garment.segment.pipeline import Segmentation, nothing_kept

_shared_cache = MapCache(max_entries=32)  # maps of recent photos: preview then generate computes them once
PHRASES = ("request", "segment", "phrases")  # where a REST body says what to keep (BadInput.loc)
NO_CONTROLNET = "ControlNet is not installed: generated without control units (no control maps made)"
# Said, not raised: a garment on a table or a mannequin the model does not take for a person is a photo the task
# can still generate from, so the job goes on; the seller learns why the pose did not follow the photo.
EMPTY_POSE = (
    "the pose map is empty: the pose model found no person (no keypoint over maps.pose_threshold) in the photo, so "
    "the pose unit steers nothing; photograph the garment worn or on a mannequin, supply the pose yourself, or "
    "leave the pose unit out"
)


@dataclass(frozen=True, eq=False)
class Prepared:
    """A job ready to generate: its segmentation, maps and plan, and what was decided on the way."""

    request: GarmentRequest
    photo: np.ndarray
    segmentation: Segmentation
    maps: dict[str, np.ndarray]
    plan: GenerationPlan
    mask_source: str
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.dict(),
            "mask_source": self.mask_source,
            "segmentation": self.segmentation.to_json(),
            "plan": self.plan.to_json(),
            "notes": list(self.notes),
            "timings": self.timings,
        }


def choose_mask_source(request: GarmentRequest, has_mask: bool) -> str:
    """ "mask" or "phrase" for this job, or BadInput saying what is missing."""
    wanted = request.segment.mask_source
    if wanted == "none":  # nothing kept: a mask or phrases, if given, are not used
        return "none"
    has_phrases = bool(parse_phrases(request.segment.phrases))
    if wanted == "mask" and not has_mask:
        raise BadInput(
            "segment.mask_source is 'mask' but no mask was given (paint one, upload one or send it)", loc=("mask",)
        )
    if wanted == "phrase" and not has_phrases:
        raise BadInput('segment.phrases: say what to keep, e.g. "white t-shirt", or use your own mask', loc=PHRASES)
    if wanted == "auto":
        if has_mask:
            return "mask"
        if not has_phrases:
            raise BadInput(
                'say what to keep: segment.phrases, e.g. "white t-shirt" (several: "dress . belt"), or give a mask',
                loc=PHRASES,
            )
        return "phrase"
    return wanted


def check_inputs(
    request: GarmentRequest,
    photo: np.ndarray,
    mask: np.ndarray | None = None,
    supplied_maps: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, str]:
    """The photo checked and the mask source decided; BadInput for anything inconsistent."""
    photo = check_image(photo)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise BadInput(f"the photo must be RGB, got shape {photo.shape}", loc=("image",))
    try:
        check_array_size(photo, "photo")
    except BadInput as err:
        raise BadInput(str(err), loc=("image",)) from None
    height, width = photo.shape[:2]
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape[:2] != (height, width):
            raise BadInput(
                f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {width}x{height}", loc=("mask",)
            )
    for kind, array in (supplied_maps or {}).items():
        if kind not in MAP_KINDS:
            raise BadInput(f"unknown map {kind!r} supplied", loc=("maps", kind))
        if np.asarray(array).shape[:2] != (height, width):
            shape = np.asarray(array).shape
            raise BadInput(
                f"the supplied {kind} map is {shape[1]}x{shape[0]} but the photo is {width}x{height}",
                loc=("maps", kind),
            )
    return photo, choose_mask_source(request, mask is not None)


def segmentation_backends(request: GarmentRequest, env: ModelSettings, *, from_mask: bool) -> Any:
    """The segmentation models the request needs (found or fetched now, loaded on first use): GroundingDINO
    and SAM unless the job starts from a mask, and the matting model."""
    from lib_garment.segment.backends.assemble import ModelChoice, build_backends

    return build_backends(
        request.segment,
        env.models_root,
        device=env.device,
        offline=env.offline,
        progress=env.progress,
        from_mask=from_mask,
        choice=ModelChoice(
            detector=request.segment.detector,
            sam=request.segment.sam,
            trust_unverified=env.trust_unverified,
            runtime_policy=env.runtime_policy,  # type: ignore[arg-type]
        ),
    )


def _make_maps(
    request: GarmentRequest,
    photo: np.ndarray,
    mask: np.ndarray | None,
    supplied: dict[str, np.ndarray],
    needed: set[str],
    estimators: tuple[Any, Any],
    cache: MapCache | None,
    depth: RawDepth | None = None,
) -> dict[str, np.ndarray]:
    maps = dict(supplied)
    if needed:
        computed = compute_maps(
            MapSources(photo, mask, depth=depth),
            sorted(needed),
            map_settings(request),
            cache if cache is not None else _shared_cache,
            pose_estimator=estimators[0],
            depth_estimator=estimators[1],
        )
        maps.update(computed.maps)
    return maps


def supplied_depth(needed: set[str], supplied: Mapping[str, np.ndarray]) -> RawDepth | None:
    """The caller's own depth map when the normal map is to be made: it is made from that (as the CLI's
    ``maps --depth`` does), so the normals match the depth unit's map and need no depth model. Read before any
    model runs, so a depth image that is no depth map fails first."""
    if "normal" not in needed or "depth" not in supplied:
        return None
    try:
        return depth_from_pixels(np.asarray(supplied["depth"]), "the supplied depth map")
    except BadInput as err:
        raise BadInput(str(err), loc=("maps", "depth")) from None


def model_kinds(needed: set[str], depth: RawDepth | None) -> set[str]:
    """The needed maps that a model makes: not the normal map when the caller's depth map is there for it."""
    return needed - {"normal"} if depth is not None else needed


def reference_units(
    request: GarmentRequest,
    photo: np.ndarray,
    env: ModelSettings,
    mask: np.ndarray | None = None,
    depth: np.ndarray | None = None,
) -> tuple[UnitPlan, ...]:
    """txt2img: the units' maps made from a reference photo. Only the outline unit (mask_canny) needs to know
    what is kept: the caller's keep ``mask`` when given (as it is: no model runs for it), else the phrases
    (segmented without a matte: an outline needs the mask only). ``depth``: the caller's own depth map of the
    photo, which the normal map is made from."""
    from lib_garment.segment.backends.assemble import run_segmentation

    photo = check_image(photo)
    check_array_size(photo, "reference photo")
    needed = set(map_kinds(request))
    keep, backends, outline_only = None, None, None
    if "mask_canny" in needed:
        use_mask = mask is not None and request.segment.mask_source != "phrase"
        if not use_mask and (request.segment.mask_source == "mask" or not parse_phrases(request.segment.phrases)):
            raise BadInput(
                "the mask_canny unit outlines what the reference photo keeps: give segment.phrases (e.g. "
                '"white t-shirt") or a keep mask for the reference photo (reference_mask), or choose other units',
                loc=PHRASES,
            )
        if use_mask:
            keep = reference_keep_mask(mask, photo)
        else:
            outline_only = request.segment.copy(update={"matte": "none"})
            backends = segmentation_backends(request.copy(update={"segment": outline_only}), env, from_mask=False)
    own_depth = None if depth is None else supplied_depth(needed, {"depth": depth})
    estimators = map_estimators(model_kinds(needed, own_depth), request, env)  # every model found before any runs
    if backends is not None:
        found = run_segmentation(photo, outline_only, backends).segmentation
        if not found.mask.any():
            raise BadInput(f"nothing found for {request.segment.phrases!r} on the reference photo", loc=PHRASES)
        keep = found.mask
    maps = _make_maps(request, photo, keep, {}, needed, estimators, None, own_depth)
    return unit_plans(request, maps, (photo.shape[1], photo.shape[0]))


def reference_keep_mask(mask: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The caller's keep mask of a reference photo as 0/255 (any non-zero keeps), checked against its size."""
    mask = np.asarray(mask)
    height, width = photo.shape[:2]
    if mask.shape[:2] != (height, width):
        raise BadInput(
            f"the reference mask is {mask.shape[1]}x{mask.shape[0]} but the reference photo is {width}x{height}",
            loc=("request", "reference_mask"),
        )
    keep = (mask if mask.ndim == 2 else mask.max(axis=2)) > 0
    if not keep.any():
        raise BadInput("the reference mask keeps nothing", loc=("request", "reference_mask"))
    return np.where(keep, 255, 0).astype(np.uint8)


def prepare(
    request: GarmentRequest,
    photo: np.ndarray,
    env: ModelSettings,
    *,
    mask: np.ndarray | None = None,
    supplied_maps: Mapping[str, np.ndarray] | None = None,
    cache: MapCache | None = None,
    units: bool = True,
) -> Prepared:
    """Segment ``photo`` (or take ``mask``), make the maps the units need and build the plan. ``units=False``
    (ControlNet is absent and the request allows going without): no maps are made and the plan has no units."""
    from lib_garment.segment.backends.assemble import run_segmentation

    started = time.perf_counter()
    photo, source = check_inputs(request, photo, mask, supplied_maps)
    plan_request = request if units else request.copy(update={"control": []})
    supplied = dict(supplied_maps or {}) if units else {}
    needed = {kind for kind in map_kinds(plan_request) if kind not in supplied}

    # Every model the job needs is found (or fetched) before any of them runs.
    own_depth = supplied_depth(needed, supplied)
    backends = None if source == "none" else segmentation_backends(request, env, from_mask=source == "mask")
    pose_model, depth_model = map_estimators(model_kinds(needed, own_depth), request, env)
    setup_s = time.perf_counter() - started

    if backends is None:  # mask_source none: the whole photo is regenerated, no model segments it
        segmentation, run_notes, segment_s = nothing_kept(*photo.shape[:2]), (), 0.0
    else:
        run = run_segmentation(photo, request.segment, backends, mask if source == "mask" else None)
        segmentation, run_notes, segment_s = run.segmentation, tuple(run.notes), run.seconds
    if source != "none" and not segmentation.mask.any():
        if segmentation.missing:
            raise BadInput(
                f"nothing found for {', '.join(map(repr, segmentation.missing))}: lower segment.box_threshold, "
                "reword the phrase or give a mask",
                loc=PHRASES,
            )
        raise BadInput(
            "the mask keeps nothing: paint or upload a mask that covers the product",
            loc=("mask",) if source == "mask" else PHRASES,
        )
    notes = list(run_notes)
    notes.extend(f"nothing found for {phrase!r}" for phrase in segmentation.missing)
    if not units and map_kinds(request):
        notes.append(NO_CONTROLNET)

    maps_start = time.perf_counter()
    maps = _make_maps(request, photo, segmentation.mask, supplied, needed, (pose_model, depth_model), cache, own_depth)
    maps_s = time.perf_counter() - maps_start
    if "pose" in needed and not maps["pose"].any():  # the model's map (a supplied one is the caller's choice)
        notes.append(EMPTY_POSE)
    plan = build_plan(plan_request, photo, segmentation.alpha, maps, tuple(notes))
    timings = {
        "setup_s": setup_s,
        "segment_s": segment_s,
        "maps_s": maps_s,
        "total_s": time.perf_counter() - started,
    }
    return Prepared(request, photo, segmentation, maps, plan, source, tuple(notes), timings)
