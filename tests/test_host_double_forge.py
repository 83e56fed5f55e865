"""The Forge flavour of the double and its built-in ``lib_controlnet`` (host-contract §1, §2, §5, §5b)."""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np
import pytest


@pytest.fixture
def forge_cn(forge_webui):
    forge_webui.install_controlnet()
    return forge_webui


def _canny_title(host):
    return next(t for t in host.controlnet_model_titles() if "canny" in t)


def _unit(host, **fields):
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 8:24] = 255
    return {"enabled": True, "module": "None", "model": _canny_title(host), "image": host.b64(image), **fields}


def _txt2img(client, units):
    payload = {"prompt": "p", "seed": 2, "width": 32, "height": 32, "alwayson_scripts": {"controlnet": {"args": units}}}
    return client.post("/sdapi/v1/txt2img", json=payload)


def test_lib_controlnet_importable_anywhere_after_load(forge_cn):
    """§1/§5: Forge keeps every extension dir on sys.path, so ``from lib_controlnet import external_code,
    global_state`` works from any extension once scripts are loaded."""
    forge_cn.load_scripts()
    from lib_controlnet import external_code, global_state

    assert external_code.get_api_version() == 2
    assert str(forge_cn.extension_dir("sd_forge_controlnet", builtin=True)) in sys.path
    assert global_state.get_all_controlnet_names()[0] == "None"


def test_forge_unit_defaults_and_missing_helpers(forge_cn):
    """§5: Forge's unit is a dataclass with enabled=True and module "None"; the A1111 helpers are absent."""
    forge_cn.load_scripts()
    external_code = importlib.import_module("lib_controlnet.external_code")
    unit = external_code.ControlNetUnit()
    assert (unit.enabled, unit.module, unit.model) == (True, "None", "None")
    for missing in (
        "update_cn_script_in_processing",
        "get_all_units_in_processing",
        "find_cn_script",
        "get_models",
        "get_modules",
    ):
        assert not hasattr(external_code, missing), missing
    for present in (
        "resize_mode_from_value",
        "control_mode_from_value",
        "pixel_perfect_resolution",
        "to_base64_nparray",
        "get_max_models_num",
        "ResizeMode",
        "ControlMode",
    ):
        assert hasattr(external_code, present), present


def test_forge_from_dict_drops_unknown_keys_and_decodes_images(forge_cn):
    """§5: from_dict keeps known fields only and turns base64 ``image``/``mask_image`` into arrays."""
    forge_cn.load_scripts()
    external_code = importlib.import_module("lib_controlnet.external_code")
    image = np.full((4, 6, 3), 9, np.uint8)
    unit = external_code.ControlNetUnit.from_dict(
        {"image": forge_cn.b64(image), "mask_image": forge_cn.b64(image), "input_image": "old key", "weight": 0.3}
    )
    assert isinstance(unit.image, np.ndarray)
    assert unit.image.shape == (4, 6, 3)
    assert isinstance(unit.mask_image, np.ndarray)
    assert not hasattr(unit, "input_image")
    assert unit.weight == 0.3


def test_forge_names(forge_cn):
    """§5b: model names carry their hash and "None" comes first; preprocessors use Forge's spellings."""
    forge_cn.load_scripts()
    global_state = importlib.import_module("lib_controlnet.global_state")
    assert global_state.get_all_controlnet_names() == ["None", *forge_cn.controlnet_model_titles()]
    names = global_state.get_all_preprocessor_names()
    assert names[0] == "None"
    assert {"canny", "normalbae", "depth_midas", "invert (from white bg & black line)"} <= set(names)
    assert "none" not in names
    assert "normal_bae" not in names


def test_exact_forge_spellings_are_applied(forge_cn):
    """§5b: module "None", the listed model name and a base64 image are applied; the map comes back as an
    extra image after the result."""
    client = forge_cn.client()
    plain = client.post("/sdapi/v1/txt2img", json={"prompt": "p", "seed": 2, "width": 32, "height": 32}).json()
    body = _txt2img(client, [_unit(forge_cn)]).json()
    assert len(body["images"]) == 2
    assert body["images"][0] != plain["images"][0]
    assert "ControlNet 0" in json.loads(body["info"])["infotexts"][0]
    applied = forge_cn.controlnet_script().applied_units
    assert [(u.module, u.model) for u in applied] == [("None", _canny_title(forge_cn))]
    assert forge_cn.reported_errors == []


@pytest.mark.parametrize(
    "fields",
    [
        {"module": "none"},
        {"model": "control_v11p_sd15_canny"},
        {"model": "control_v11p_sd15_canny.safetensors"},
    ],
)
def test_a1111_spellings_are_not_applied_but_the_request_succeeds(forge_cn, fields):
    """§5b: A1111 spellings are not applied and the request still returns HTTP 200; the error only shows in the
    log (errors.report) and the infotext still says "ControlNet 0"."""
    response = _txt2img(forge_cn.client(), [_unit(forge_cn, **fields)])
    assert response.status_code == 200
    assert len(response.json()["images"]) == 1
    assert "ControlNet 0" in json.loads(response.json()["info"])["infotexts"][0]
    assert forge_cn.controlnet_script().applied_units == []
    assert any(m.startswith("Error running process:") and m.endswith("controlnet.py") for m in forge_cn.error_messages)


def test_dict_image_form_is_not_applied(forge_cn):
    """§5b: the A1111 dict form {"image", "mask"} fails Forge's comparison with an int (TypeError)."""
    unit = _unit(forge_cn)
    unit["image"] = {"image": unit["image"], "mask": None}
    response = _txt2img(forge_cn.client(), [unit])
    assert response.status_code == 200
    assert isinstance(forge_cn.reported_errors[-1].exception, TypeError)
    assert forge_cn.controlnet_script().applied_units == []


def test_forge_routes(forge_cn):
    """§5b: no /controlnet/version; model_list includes "None"; module_list has no module_detail."""
    client = forge_cn.client()
    assert client.get("/controlnet/version").status_code == 404
    assert client.get("/controlnet/model_list").json()["model_list"][0] == "None"
    assert "module_detail" not in client.get("/controlnet/module_list").json()


def test_forge_ignores_no_detectmap_and_uses_extra_images(forge_cn):
    """§5b: Forge's maps travel in p.extra_result_images / Processed.extra_images, not processed.images, and
    control_net_no_detectmap is never read."""
    forge_cn.set_options(control_net_no_detectmap=True)
    assert len(_txt2img(forge_cn.client(), [_unit(forge_cn)]).json()["images"]) == 2
    processed = forge_cn.txt2img(
        prompt="p", width=32, height=32, values={"ControlNet": [_unit(forge_cn)]}, do_not_save_samples=True
    )
    assert len(processed.images) == 1
    assert len(processed.extra_images) == 1


def test_modules_forge_marks_the_flavour(make_webui):
    """§0/§2: only the Forge flavour has ``modules_forge`` (a common Forge probe); versions differ."""
    host = make_webui("forge")
    assert importlib.import_module("modules_forge.forge_version").version.endswith("v1.10.1")
    assert host.processing.program_version().startswith("f2.0.1")
    host.close()
    a1111 = make_webui("a1111", name="other")
    with pytest.raises(ImportError):
        importlib.import_module("modules_forge")
    assert a1111.processing.program_version() == "v1.10.1"
