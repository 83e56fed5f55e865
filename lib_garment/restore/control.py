"""The optional ControlNet unit of each nested restore pass: its map, made from that pass's crop.

The request's ``restore.controlnet`` names a map kind (canny, lines, pose, depth, normal) and the unit's
weight, guidance and model. The map is computed with :mod:`lib_garment.maps` from the crop itself (the init
image of the nested pass, at its size), with the request's map settings and, for pose and depth/normal, the
same estimators the task's maps use (found or fetched before any pass runs). The host puts the resulting
:class:`~lib_garment.generate.plan.UnitPlan` into the nested pass's ControlNet slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lib_garment.generate.plan import UnitPlan
from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSettings, MapSources, compute_maps
from lib_garment.maps.from_request import map_estimators, map_settings
from lib_garment.models.settings import ModelSettings
from lib_garment.request import GarmentRequest, RestoreControlUnit


@dataclass(frozen=True, eq=False)
class CropControl:
    """How each crop's unit is made: the unit's options, the map settings and the estimators its kind needs."""

    unit: RestoreControlUnit
    settings: MapSettings
    pose_estimator: Any = None
    depth_estimator: Any = None

    @property
    def kind(self) -> str:
        return self.unit.kind

    def crop_map(self, crop: np.ndarray) -> np.ndarray:
        """The unit's map of ``crop`` ((S, S, 3) uint8), as ControlNet takes it: (S, S, 3) uint8."""
        maps = compute_maps(
            MapSources(np.ascontiguousarray(crop)),
            [self.unit.kind],
            self.settings,
            MapCache(max_entries=2),  # a crop is seen once: nothing to share between passes
            pose_estimator=self.pose_estimator,
            depth_estimator=self.depth_estimator,
        ).maps[self.unit.kind]
        return np.repeat(maps[..., None], 3, axis=2) if maps.ndim == 2 else np.ascontiguousarray(maps[..., :3])

    def unit_for(self, crop: np.ndarray, model: str | None = None) -> UnitPlan:
        """The nested pass's unit for ``crop`` (``model``: a title already resolved against the host)."""
        unit = self.unit
        return UnitPlan(
            kind=unit.kind,
            image=self.crop_map(crop),
            weight=unit.weight,
            guidance_start=unit.guidance_start,
            guidance_end=unit.guidance_end,
            control_mode=unit.control_mode,
            model=model if model is not None else unit.model,
        )

    def describe(self) -> str:
        return f"ControlNet {self.unit.kind} {self.unit.weight:g}"


def crop_control(request: GarmentRequest, env: ModelSettings) -> CropControl | None:
    """The crop unit's maker for ``request.restore.controlnet`` (None: no unit); pose and depth models are found
    (or fetched) now, so a missing one is named before any pass runs (ModelUnavailable)."""
    unit = request.restore.controlnet
    if unit is None:
        return None
    # The task's own estimator lookup: one place decides which pose/depth model a request means.
    pose, depth = map_estimators({unit.kind}, request, env)
    return CropControl(unit, map_settings(request), pose, depth)
