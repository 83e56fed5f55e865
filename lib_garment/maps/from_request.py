"""What a request's ``maps`` options mean: the map settings and the pose/depth models its map kinds need.

One place decides this for every caller (the task's maps and each nested restore pass's crop unit), so the
same request always means the same settings and the same models.
"""

from __future__ import annotations

from typing import Any

from lib_garment.errors import ModelUnavailable
from lib_garment.maps.compute import MapSettings
from lib_garment.maps.edges import CannyParams
from lib_garment.maps.lines import LineParams
from lib_garment.maps.pose_format import PoseParams
from lib_garment.models.settings import ModelSettings
from lib_garment.request import GarmentRequest


def map_settings(request: GarmentRequest) -> MapSettings:
    """The map settings the request's ``maps`` options ask for."""
    options = request.maps
    canny = CannyParams(options.canny_low, options.canny_high)
    return MapSettings(canny=canny, lines=LineParams(canny=canny), pose=PoseParams(options.pose_threshold))


def map_estimators(kinds: set[str], request: GarmentRequest, models: ModelSettings) -> tuple[Any, Any]:
    """The pose and depth models the maps need, found and verified now (ModelUnavailable names them all)."""
    from lib_garment.maps.depth_fm import DepthFmParams
    from lib_garment.maps.depth_models import depth_estimator
    from lib_garment.maps.pose_model import pose_estimator

    common = {
        "device": models.device,
        "offline": models.offline,
        "progress": models.progress,
        "trust_unverified": models.trust_unverified,
    }
    pose = depth = None
    problems = []
    if "pose" in kinds:
        try:
            pose = pose_estimator(request.maps.pose_model, models.models_root, **common)
        except ModelUnavailable as err:
            problems.append(f"the pose map needs the pose model: {err}")
    if kinds & {"depth", "normal"}:
        try:
            depth_fm = DepthFmParams(steps=request.maps.depth_steps, ensemble=request.maps.depth_ensemble)
            depth = depth_estimator(request.maps.depth_model, models.models_root, depth_fm=depth_fm, **common)
        except ModelUnavailable as err:
            problems.append(f"the {'/'.join(sorted(kinds & {'depth', 'normal'}))} map needs the depth model: {err}")
    if problems:
        raise ModelUnavailable("\n".join([*problems, "Or supply those maps yourself, or choose other units."]))
    return pose, depth
