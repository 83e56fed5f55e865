"""The models a restore job makes (issue 6): YOLO detectors honour a confidence below ultralytics' 0.25, the FCN
skin model when chosen, ViTMatte for ``matte: model`` (built through the segmentation's loader, or a visible
note when it cannot be had), and the nested pass's ControlNet map made from the crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import ModelUnavailable
from lib_garment.maps.edges import canny_map
from lib_garment.models.settings import ModelSettings
from lib_garment.request import parse_request
from lib_garment.restore.control import crop_control
from lib_garment.restore.detect import PartDetection
from lib_garment.restore.detectors.yolo import YoloDetector
from lib_garment.restore.models import build_restore_models, make_detectors
from lib_garment.restore.options import settings_from_request
from lib_garment.restore.pipeline import restore_image
from lib_garment.restore.skin_model import FcnSkinModel


def request(**restore):
    return parse_request({"restore": {"enabled": True, "hands": False, **restore}})


def offline(root: Path, **fields) -> ModelSettings:
    return ModelSettings(models_root=root, device="cpu", offline=True, **fields)


def test_a_confidence_below_ultralytics_default_is_honoured(tiny_yolo_face, tmp_path: Path) -> None:
    env = offline(tmp_path, trust_unverified=True)  # the tiny file is nobody's registry file
    image = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    detectors, notes = make_detectors(request(face_detector=str(tiny_yolo_face.path), confidence=0.0).restore, env)
    assert notes == []
    (low,) = detectors
    assert isinstance(low, YoloDetector)
    assert low.params.conf == 0.0
    assert len(low(image)) >= 1  # random weights score low: only a cut below 0.25 lets their boxes through
    (usual,) = make_detectors(request(face_detector=str(tiny_yolo_face.path), confidence=0.6).restore, env)[0]
    assert usual.params.conf == 0.25  # above the default, ultralytics keeps its own cut (the filter is finer)
    assert usual(image) == []
    (between,) = make_detectors(request(face_detector=str(tiny_yolo_face.path), confidence=0.1).restore, env)[0]
    assert between.params.conf == 0.1


def test_the_fcn_skin_model_is_made_when_chosen(tmp_path: Path) -> None:
    env = offline(tmp_path)
    assert build_restore_models(request(face_detector="haar").restore, env).skin_model is None  # colour rules
    with pytest.raises(ModelUnavailable, match="garment_studio/skin"):
        build_restore_models(
            request(face_detector="haar", skin_model="fcn", skin_model_path="fcn.safetensors").restore, env
        )
    folder = tmp_path / "garment_studio" / "skin"
    folder.mkdir(parents=True)
    (folder / "fcn.safetensors").write_bytes(b"not loaded until the first crop")
    options = request(face_detector="haar", skin_model="fcn", skin_model_path="fcn.safetensors").restore
    models = build_restore_models(options, env)
    assert isinstance(models.skin_model, FcnSkinModel)
    assert models.skin_model.model_path == folder / "fcn.safetensors"


def test_vitmatte_that_cannot_be_had_is_a_visible_fallback(tmp_path: Path) -> None:
    models = build_restore_models(request(face_detector="haar", matte="model").restore, offline(tmp_path))
    assert models.matte_model is None
    assert models.matte == "classic"
    (note,) = models.notes
    assert note.startswith("restore matte: ")
    assert "vitmatte-small-composition-1k" in note
    assert "classic matte is used instead" in note


def test_matte_model_builds_vitmatte_and_the_skin_matte_uses_it(tiny_model_root, tiny_vitmatte, tmp_path) -> None:
    from tests.test_segment_models_support import tiny_registry

    root = tiny_model_root / "registry-restore"
    specs = tiny_registry(root, vitmatte=tiny_vitmatte)
    options = request(face_detector="haar", matte="model", crop_size=64).restore
    models = build_restore_models(options, offline(root), specs=specs)
    assert (models.matte, models.notes) == ("model", [])
    assert type(models.matte_model).__name__ == "VitMatte"
    image = np.full((120, 120, 3), (60, 110, 170), np.uint8)
    image[30:90, 30:90] = (224, 172, 150)
    face = PartDetection((25, 25, 95, 95), 0.9, "face")
    result = restore_image(
        image, lambda _: [face], lambda crop, *a: crop, settings_from_request(options), matte_model=models.matte_model
    )
    assert result.restored == 1
    assert result.records[0].note == ""  # no fallback note: ViTMatte made the matte
    assert models.matte_model.stats.calls == 1


def test_the_crop_unit_map_is_made_from_the_crop(tmp_path: Path) -> None:
    req = request(face_detector="haar", controlnet={"kind": "canny", "weight": 0.7, "guidance_start": 0.1})
    control = crop_control(req, offline(tmp_path))
    assert control is not None
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[16:48, 16:48] = 200
    unit = control.unit_for(crop, "control_v11p_sd15_canny [d14c016b]")
    expected = canny_map(crop)
    assert unit.image.shape == (64, 64, 3)
    assert np.array_equal(unit.image[..., 0], expected if expected.ndim == 2 else expected[..., 0])
    assert (unit.kind, unit.weight, unit.guidance_start, unit.model) == (
        "canny",
        0.7,
        0.1,
        "control_v11p_sd15_canny [d14c016b]",
    )
    assert crop_control(request(face_detector="haar"), offline(tmp_path)) is None
    with pytest.raises(ModelUnavailable, match="depth"):  # the depth model is not on disk, offline
        crop_control(request(controlnet={"kind": "depth"}), offline(tmp_path))
