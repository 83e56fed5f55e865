"""Hand and face restoration after generation (Kong & Wu 2024 §4.4): the engine, free of the WebUI.

:mod:`.detect` (detections and the rules choosing them) and :mod:`.detectors` (ADetailer's YOLOv8 files,
mediapipe, OpenCV's Haar cascade) find heads and hands; :mod:`.crop` gives each its 512 x 512 region and the
exact way back; :mod:`.skin` (and optionally :mod:`.skin_model`, an FCN-ResNet101) makes the skin matte inside
the detection; :mod:`.blend` Poisson-blends the regenerated skin back and measures the seam; :mod:`.prompts`
picks each detection's prompt from ADetailer-style ``[SEP]`` lists; :mod:`.pipeline` chains them around the
``regenerate`` step the host fills with its img2img pass.
"""

from __future__ import annotations

from lib_garment.restore.blend import alpha_paste, poisson_blend, seam_metric
from lib_garment.restore.crop import CropParams, CropRegion, crop_region
from lib_garment.restore.detect import FilterParams, PartDetection, PartDetector, filter_detections
from lib_garment.restore.pipeline import (
    DetectionRecord,
    PlannedDetection,
    RestorePlan,
    RestoreResult,
    RestoreSettings,
    execute_plan,
    plan_detections,
    plan_restore,
    restore_image,
    settings_from_dict,
    settings_from_options,
)
from lib_garment.restore.prompts import prompt_for
from lib_garment.restore.skin import SkinParams, skin_mask, skin_matte

__all__ = [
    "CropParams",
    "CropRegion",
    "DetectionRecord",
    "FilterParams",
    "PartDetection",
    "PartDetector",
    "PlannedDetection",
    "RestorePlan",
    "RestoreResult",
    "RestoreSettings",
    "SkinParams",
    "alpha_paste",
    "crop_region",
    "execute_plan",
    "filter_detections",
    "plan_detections",
    "plan_restore",
    "poisson_blend",
    "prompt_for",
    "restore_image",
    "seam_metric",
    "settings_from_dict",
    "settings_from_options",
    "skin_mask",
    "skin_matte",
]
