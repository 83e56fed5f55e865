"""The request's restore options (issue 6): the new fields (sort, rank_by, classes, per-kind top_k, skin model,
the nested pass's ControlNet unit), their mapping onto the engine's settings, the checks that run before any
model, and the result line naming fallbacks. Pure: no WebUI, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.request import parse_request
from lib_garment.restore.detect import PartDetection
from lib_garment.restore.options import check_options, describe_result, settings_from_request, skin_model_file
from lib_garment.restore.pipeline import restore_image


def restore(**fields) -> object:
    return parse_request({"restore": {"enabled": True, **fields}}).restore


def test_sort_rank_classes_and_top_k_reach_the_engine() -> None:
    options = restore(sort="center_out", rank_by="confidence", classes=[" face ", "head"], top_k=2)
    settings = settings_from_request(options)
    assert (settings.filter.sort, settings.filter.rank_by) == ("center-out", "confidence")
    assert settings.filter.classes == ("face", "head")
    assert settings.filter.top_k == 2
    assert settings_from_request(restore(sort="left_to_right")).filter.sort == "left-right"
    assert settings_from_request(restore()).filter.sort == "none"


def test_top_k_keeps_that_many_of_each_kind() -> None:
    """The schema's promise: top_k counts faces and hands apart (two faces and one hand with top_k=1 → one each)."""
    image = np.full((200, 300, 3), 90, np.uint8)
    big_face = PartDetection((10, 10, 90, 90), 0.9, "face")
    small_face = PartDetection((200, 10, 230, 40), 0.9, "face")
    hand = PartDetection((120, 120, 150, 150), 0.9, "hand")
    settings = settings_from_request(restore(top_k=1))
    result = restore_image(image, lambda _: [small_face, hand, big_face], lambda *a: None, settings)
    assert [item.detection for item in result.plan.items] == [hand, big_face]
    described = parse_request({}).schema()["definitions"]["RestoreOptions"]["properties"]["top_k"]["description"]
    assert "faces and hands counted apart" in described


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sort": "random"}, "restore.sort"),
        ({"rank_by": "size"}, "restore.rank_by"),
        ({"classes": ["face", " "]}, "classes must be non-empty class names"),
        ({"skin_model": "fcn"}, "skin_model fcn needs skin_model_path"),
        ({"skin_model_path": "skin.safetensors"}, "skin_model_path is used with skin_model fcn only"),
        ({"controlnet": {"kind": "mask_canny"}}, "restore.controlnet.kind"),
        ({"controlnet": {"kind": "depth", "weight": 3}}, "restore.controlnet.weight"),
        ({"controlnet": {"kind": "depth", "guidance_start": 0.8, "guidance_end": 0.2}}, "guidance_start must not"),
        ({"controlnet": {"kind": "depth", "strength": 1}}, "restore.controlnet.strength: unknown field"),
    ],
)
def test_bad_new_options_are_refused_by_name(fields: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_request({"restore": fields})


def test_check_options_refuses_what_the_models_would_trip_on(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="finds hands only"):
        check_options(restore(face_detector="mediapipe_hands"))
    with pytest.raises(BadInput, match="no such file"):
        check_options(restore(skin_model="fcn", skin_model_path=str(tmp_path / "missing" / "skin.safetensors")))
    weights = tmp_path / "skin.safetensors"
    weights.write_bytes(b"x")
    check_options(restore(skin_model="fcn", skin_model_path=str(weights)))  # a file: checked when loaded
    check_options(restore(hand_detector="mediapipe_hand"))  # the alias


def test_a_bare_skin_model_name_is_looked_up_in_the_models_folder(tmp_path: Path) -> None:
    folder = tmp_path / "garment_studio" / "skin"
    with pytest.raises(ModelUnavailable, match=f"not in {folder}"):
        skin_model_file("fcn-skin.safetensors", tmp_path)
    folder.mkdir(parents=True)
    (folder / "fcn-skin.safetensors").write_bytes(b"x")
    assert skin_model_file("fcn-skin.safetensors", tmp_path) == folder / "fcn-skin.safetensors"


def test_the_result_line_names_a_matte_fallback() -> None:
    image = np.full((120, 120, 3), (60, 110, 170), np.uint8)
    image[30:90, 30:90] = (224, 172, 150)  # a skin-coloured square
    face = PartDetection((25, 25, 95, 95), 0.9, "face")
    options = restore(matte="model", faces=True, hands=False, crop_size=64)
    result = restore_image(image, lambda _: [face], lambda crop, *a: crop, settings_from_request(options))
    assert result.restored == 1
    line = describe_result(result, ["restore matte: ViTMatte is not available (offline); classic used"])
    assert line.startswith("1 face restored")
    assert "no matting model given: classic matte" in line  # the engine's own note, not lost
    assert "ViTMatte is not available" in line
