"""Which maps a job wants, from which sources, through the cache: the one entry point every caller uses.

Pose and depth come from what the caller supplies (keypoints, a depth map) or from an estimator, the plug-in
point for models: a pose estimator returns COCO-17 keypoints, a depth estimator a :class:`RawDepth`. Without
either, the map cannot be made and :class:`ModelUnavailable` says how to supply it. The model-backed
estimators are :func:`lib_garment.maps.pose_model.pose_estimator` (YOLOv8-pose) and
:func:`lib_garment.maps.depth_models.depth_estimator` (Depth Anything V2 Small); each call of an estimator is
cached under its ``name`` and the image's content, so a job runs each model once per image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache as cache_once
from functools import cached_property
from typing import Protocol

import numpy as np

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps.arrays import check_image, check_mask
from lib_garment.maps.cache import MapCache, array_digest
from lib_garment.maps.depth import (
    DEFAULT_DEPTH,
    DepthParams,
    RawDepth,
    check_depth_shape,
    depth_range,
    fit_depth,
    normalize_depth,
    unit_depth,
)
from lib_garment.maps.edges import DEFAULT_CANNY, CannyParams, canny_map, mask_outline
from lib_garment.maps.lines import DEFAULT_LINES, LineParams, lines_map
from lib_garment.maps.normal import DEFAULT_NORMAL, NormalParams, dequantise, normal_from_depth
from lib_garment.maps.pose_format import DEFAULT_POSE, Pose, PoseParams, pose_from_coco
from lib_garment.maps.pose_render import render_pose

MAP_KINDS = ("canny", "mask_canny", "lines", "pose", "depth", "normal")


class PoseEstimator(Protocol):
    """A pose model: ``name`` identifies it in cache keys; calling it gives (people, 17, 3) COCO keypoints
    (x, y in pixels of the image, confidence) for an (H, W, 3) uint8 RGB image."""

    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


class DepthEstimator(Protocol):
    """A depth model: ``name`` identifies it in cache keys; calling it gives the image's raw depth."""

    name: str

    def __call__(self, image: np.ndarray) -> RawDepth: ...


@dataclass(frozen=True)
class MapSettings:
    canny: CannyParams = DEFAULT_CANNY
    lines: LineParams = DEFAULT_LINES
    pose: PoseParams = DEFAULT_POSE
    depth: DepthParams = DEFAULT_DEPTH
    normal: NormalParams = DEFAULT_NORMAL
    normal_uses_mask: bool = False  # cut the normal map's background with the mask


DEFAULT_SETTINGS = MapSettings()


@dataclass(frozen=True, eq=False)
class MapSources:
    """What maps are made from. ``image``: (H, W, 3) uint8 RGB. ``mask``: the product mask or alpha, same
    size. ``pose``: keypoints supplied instead of a pose model. ``depth``: depth supplied instead of a model.

    Content hashes are taken once per MapSources, so do not change its arrays after building it.
    """

    image: np.ndarray
    mask: np.ndarray | None = None
    pose: Pose | None = None
    depth: RawDepth | None = None

    @cached_property
    def image_id(self) -> str:
        return array_digest(self.image)

    @cached_property
    def mask_id(self) -> str | None:
        return None if self.mask is None else array_digest(self.mask)

    @cached_property
    def depth_id(self) -> str | None:
        return (
            None
            if self.depth is None
            else f"{array_digest(self.depth.values)}:{self.depth.near_is_high}:{self.depth.quantised}"
        )


@dataclass(frozen=True, eq=False)
class ControlMaps:
    """The maps by kind (each at the image's full size) and the keypoints the pose map was drawn from."""

    maps: dict[str, np.ndarray] = field(default_factory=dict)
    pose: Pose | None = None


def parse_kinds(names: Iterable[str]) -> tuple[str, ...]:
    """Map names in canonical order without repeats; BadInput naming any unknown one."""
    wanted = [name.strip() for name in names if name.strip()]
    unknown = [name for name in wanted if name not in MAP_KINDS]
    if unknown:
        raise BadInput(f"unknown map {', '.join(map(repr, unknown))}; choose from {', '.join(MAP_KINDS)}")
    if not wanted:
        raise BadInput(f"no map named; choose from {', '.join(MAP_KINDS)}")
    return tuple(kind for kind in MAP_KINDS if kind in wanted)


def check_sources(
    kinds: Iterable[str],
    sources: MapSources,
    settings: MapSettings = DEFAULT_SETTINGS,
    pose_estimator: PoseEstimator | None = None,
    depth_estimator: DepthEstimator | None = None,
) -> None:
    """Fail before any work: BadInput for inconsistent sources, ModelUnavailable for a map nothing can make."""
    kinds = parse_kinds(kinds)
    image = check_image(sources.image)
    if image.ndim != 3:
        raise BadInput(f"image must be (H, W, 3) RGB, got shape {image.shape}")
    height, width = image.shape[:2]
    if sources.mask is not None:
        check_mask(sources.mask, (height, width))
    if sources.depth is not None and {"depth", "normal"} & set(kinds):
        check_depth_shape(sources.depth, width, height)
    needs_mask = "mask_canny" in kinds or ("normal" in kinds and settings.normal_uses_mask)
    if needs_mask and sources.mask is None:
        what = "mask_canny" if "mask_canny" in kinds else "cutting the normal map's background by mask"
        raise BadInput(f"{what} needs a mask")
    if "pose" in kinds and sources.pose is None and pose_estimator is None:
        raise ModelUnavailable(
            "the pose map needs keypoints or a pose model: pass a pose estimator (YOLOv8-pose, see "
            "lib_garment.maps.pose_model.pose_estimator) or supply the pose as OpenPose JSON (e.g. saved from "
            "ControlNet's pose editor)"
        )
    if {"depth", "normal"} & set(kinds) and sources.depth is None and depth_estimator is None:
        raise ModelUnavailable(
            "the depth and normal maps need a depth map or a depth model: pass a depth estimator (Depth Anything "
            "V2 Small, see lib_garment.maps.depth_models.depth_estimator) or supply a depth image (near = bright, "
            "or colour-mapped)"
        )


def compute_maps(
    sources: MapSources,
    kinds: Iterable[str] = MAP_KINDS,
    settings: MapSettings = DEFAULT_SETTINGS,
    cache: MapCache | None = None,
    pose_estimator: PoseEstimator | None = None,
    depth_estimator: DepthEstimator | None = None,
) -> ControlMaps:
    """Compute the requested maps (see :func:`check_sources` for what fails, and how, before any work)."""
    kinds = parse_kinds(kinds)
    check_sources(kinds, sources, settings, pose_estimator, depth_estimator)
    cache = cache if cache is not None else MapCache()
    image = check_image(sources.image)
    height, width = image.shape[:2]
    image_id = sources.image_id
    maps: dict[str, np.ndarray] = {}

    edges = None  # the Canny map, shared with the line map when both use the same thresholds
    if "canny" in kinds or ("lines" in kinds and settings.lines.canny == settings.canny):
        edges = cache.get_or_compute(("canny", image_id, settings.canny), lambda: canny_map(image, settings.canny))
        if "canny" in kinds:
            maps["canny"] = edges
    if "lines" in kinds:
        shared = edges if settings.lines.canny == settings.canny else None
        maps["lines"] = cache.get_or_compute(
            ("lines", image_id, settings.lines), lambda: lines_map(image, settings.lines, shared)
        )
    if "mask_canny" in kinds:  # the mask is hashed only for the maps made from it
        mask = sources.mask
        maps["mask_canny"] = cache.get_or_compute(("mask_canny", sources.mask_id), lambda: mask_outline(mask))

    pose = None
    if "pose" in kinds:
        pose = _pose(sources, image, image_id, settings, cache, pose_estimator)
        maps["pose"] = cache.get_or_compute(
            ("pose", pose.digest(), width, height, settings.pose),
            lambda: render_pose(pose, width, height, settings.pose),
        )
    if {"depth", "normal"} & set(kinds):
        raw, depth_id = _raw_depth(sources, image, image_id, cache, depth_estimator)

        @cache_once
        def prepared() -> tuple[RawDepth, tuple[float, float] | None]:
            # Resizing and percentiles run only when a depth or normal map is not in the cache yet.
            fitted = fit_depth(raw, width, height)
            return fitted, depth_range(fitted, settings.depth)

        def depth_map() -> np.ndarray:
            fitted, value_range = prepared()
            return normalize_depth(fitted, settings.depth, value_range)

        def normal_map() -> np.ndarray:
            fitted, value_range = prepared()
            if settings.normal.smooth is None and raw.quantised:
                # 8-bit levels would show as terraces: the depth between them is recovered at the file's own
                # resolution, where each level is still one step (resizing first would blur the steps into
                # ramps of unknown width). An explicit ``smooth`` keeps the plain Gaussian instead.
                smooth = RawDepth(dequantise(raw.values, 1.0), raw.near_is_high)
                fitted = fit_depth(smooth, width, height)
            # Neither rounded to the depth map's 256 levels nor clipped at its percentiles: the percentiles set
            # how deep black to white is, but a clipped tail would turn the ends of a slope into flats.
            unit = unit_depth(fitted, settings.depth, value_range, clip=False)
            return normal_from_depth(unit, settings.normal, sources.mask if settings.normal_uses_mask else None)

        depth_key = ("depth", depth_id, width, height, settings.depth)
        if "depth" in kinds:
            maps["depth"] = cache.get_or_compute(depth_key, depth_map)
        if "normal" in kinds:
            cut_id = sources.mask_id if settings.normal_uses_mask else None
            maps["normal"] = cache.get_or_compute(("normal", depth_key, settings.normal, cut_id), normal_map)
    return ControlMaps({kind: maps[kind] for kind in kinds}, pose)  # in the canonical order


def _pose(
    sources: MapSources,
    image: np.ndarray,
    image_id: str,
    settings: MapSettings,
    cache: MapCache,
    estimator: PoseEstimator | None,
) -> Pose:
    height, width = image.shape[:2]
    if sources.pose is not None:
        return sources.pose.scaled_to(width, height)
    assert estimator is not None  # check_sources made sure
    return cache.get_or_compute(
        ("pose-keypoints", estimator.name, image_id, settings.pose),
        lambda: pose_from_coco(estimator(image), width, height, settings.pose.threshold),
    )


def _raw_depth(
    sources: MapSources, image: np.ndarray, image_id: str, cache: MapCache, estimator: DepthEstimator | None
) -> tuple[RawDepth, str]:
    if sources.depth is not None:
        return sources.depth, str(sources.depth_id)
    assert estimator is not None  # check_sources made sure
    key = ("raw-depth", estimator.name, image_id)
    return cache.get_or_compute(key, lambda: estimator(image)), f"{estimator.name}:{image_id}"
