"""The fake sd-webui-controlnet (v1.1.455, and the ≤1.1.447 "legacy" unit) (host-contract §5, §11.4)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from PIL import Image

from tests.host_double import examples

CN_IMPORT = "extensions.sd-webui-controlnet.scripts.external_code"


@pytest.fixture
def cn_webui(webui):
    webui.install_controlnet()
    webui.set_options(control_net_unit_count=2)
    return webui


def _external_code(host):
    host.load_scripts()
    return importlib.import_module(CN_IMPORT)


def _unit_body(host, **unit):
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = 255
    return {"enabled": True, "module": "none", "model": "canny", "image": host.b64(image), **unit}


def _txt2img(client, units, **body):
    payload = {"prompt": "p", "seed": 1, "width": 32, "height": 32, **body}
    if units is not None:
        payload["alwayson_scripts"] = {"ControlNet": {"args": units}}
    return client.post("/sdapi/v1/txt2img", json=payload)


def test_importable_by_dotted_path_and_listed_as_active(cn_webui):
    """§5 "Importing it": ADetailer's way: find the extension in extensions.active(), import
    extensions.<dir>.scripts.external_code (namespace packages from the WebUI root)."""
    external_code = _external_code(cn_webui)
    active = [e.name for e in cn_webui.module("extensions").active() if e.enabled]
    assert "sd-webui-controlnet" in active
    assert external_code.get_api_version() == 3
    assert external_code.ControlNetUnit.__module__ == "internal_controlnet.args"


def test_unit_defaults(cn_webui):
    """§5: the pydantic unit defaults to enabled=False, module "none", model "None", weight 1,
    "Crop and Resize", "Balanced", guidance 0..1, processor_res/thresholds -1."""
    unit = _external_code(cn_webui).ControlNetUnit()
    assert (unit.enabled, unit.module, unit.model, unit.weight) == (False, "none", "None", 1.0)
    assert unit.resize_mode.value == "Crop and Resize"
    assert unit.control_mode.value == "Balanced"
    assert (unit.guidance_start, unit.guidance_end) == (0.0, 1.0)
    assert (unit.processor_res, unit.threshold_a, unit.threshold_b) == (-1, -1, -1)
    assert unit.inpaint_crop_input_image is True
    assert unit.save_detected_map is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"module": "None"}, "not found in supported modules"),
        ({"module": "no_such_module"}, "not found in supported modules"),
        ({"weight": 2.5}, "less than or equal to 2"),
        ({"resize_mode": 0}, "resize_mode must be a string"),
        ({"resize_mode": "Stretch"}, "is not a valid ResizeMode"),
        ({"guidance_start": 0.8, "guidance_end": 0.2}, "guidance_start"),
        ({"control_mode": 0}, "control_mode"),
    ],
)
def test_unit_validation_rejects(cn_webui, fields, message):
    """§5: module must be a known name or label ("None" with a capital N is not), weight in [0, 2], resize
    modes only as strings or members (ints are rejected), guidance_start <= guidance_end."""
    unit_cls = _external_code(cn_webui).ControlNetUnit
    with pytest.raises(ValueError, match=message):
        unit_cls(**fields)


def test_unit_accepts_labels_aliases_and_ignores_unknown_keys(cn_webui):
    """§5: a preprocessor label works like its name, old resize-mode aliases map to the new names, unknown
    keys are dropped (extra="ignore"), from_dict maps the legacy keys."""
    ec = _external_code(cn_webui)
    unit = ec.ControlNetUnit(module="depth_midas", resize_mode="Inner Fit (Scale to Fit)", brand_new_key=1)
    assert unit.module == "depth_midas"
    assert unit.resize_mode is ec.ResizeMode.INNER_FIT
    assert not hasattr(unit, "brand_new_key")
    legacy = ec.ControlNetUnit.from_dict({"guidance": 0.5, "lowvram": True, "input_image": "x", "mask_image": "m"})
    assert (legacy.guidance_end, legacy.low_vram, legacy.image, legacy.mask) == (0.5, True, "x", "m")


def test_enabled_unit_out_of_range_params_fall_back_to_preprocessor_defaults(cn_webui):
    """§5: for an enabled unit, processor_res/threshold values out of range become the preprocessor defaults."""
    unit = _external_code(cn_webui).ControlNetUnit(enabled=True, module="canny", threshold_a=1000)
    assert (unit.processor_res, unit.threshold_a, unit.threshold_b) == (512, 100, 200)


def test_models_modules_and_find_cn_script(cn_webui):
    """§5: get_models gives titles with hashes (no "None"); get_modules names or UI labels; find_cn_script
    finds the always-on "ControlNet"; get_max_models_num reads control_net_unit_count."""
    ec = _external_code(cn_webui)
    cn_webui.create_ui()
    assert ec.get_models() == cn_webui.controlnet_model_titles()
    assert all(t.endswith("]") and " [" in t for t in ec.get_models())
    assert {"none", "canny", "depth", "normal_bae", "mlsd"} <= set(ec.get_modules())
    assert "depth_midas" in ec.get_modules(alias_names=True)
    script = ec.find_cn_script(cn_webui.txt2img_runner)
    assert script is cn_webui.controlnet_script()
    assert script.args_to - script.args_from == 2
    assert ec.get_max_models_num() == 2


def test_update_pads_with_disabled_units_and_keeps_the_sequence_type(cn_webui):
    """§5: update_cn_script_in_processing replaces ControlNet's slice, pads to control_net_unit_count with
    disabled units, keeps tuple (or list) and lets get_all_units_in_processing read them back."""
    cn_webui.write_extension("rec", {"scripts/rec.py": examples.recorder()})
    ec = _external_code(cn_webui)
    cn_webui.create_ui()
    runner = cn_webui.txt2img_runner
    cn = ec.find_cn_script(runner)
    for seq in (tuple, list):
        p = cn_webui.processing.StableDiffusionProcessingTxt2Img(prompt="x")
        p.scripts = runner
        p.script_args = seq(cn_webui.ui_script_args())
        ec.update_cn_script_in_processing(p, [ec.ControlNetUnit(enabled=True, module="canny", model="canny")])
        assert type(p.script_args) is seq
        units = list(p.script_args[cn.args_from : cn.args_to])
        assert [u.enabled for u in units] == [True, False]
        assert [u.module for u in ec.get_all_units_in_processing(p)] == ["canny", "none"]


def test_dict_units_are_converted(cn_webui):
    """§5: get_all_units_in_processing converts dict arguments through ControlNetUnit.from_dict."""
    ec = _external_code(cn_webui)
    cn_webui.create_ui()
    p = cn_webui.processing.StableDiffusionProcessingTxt2Img(prompt="x")
    p.scripts = cn_webui.txt2img_runner
    args = list(cn_webui.ui_script_args())
    cn = ec.find_cn_script(p.scripts)
    args[cn.args_from] = {"enabled": True, "module": "canny", "weight": 0.5}
    p.script_args = args
    units = ec.get_all_units_in_processing(p)
    assert isinstance(units[0], ec.ControlNetUnit)
    assert (units[0].enabled, units[0].weight) == (True, 0.5)


def test_overfilling_shifts_later_alwayson_scripts_for_good(cn_webui):
    """§5/§11.4: more units than control_net_unit_count grow ControlNet's slice and permanently move
    args_from/args_to of every *later* always-on script on the shared runner; earlier scripts stay."""
    cn_webui.write_extension("aa-before", {"scripts/before.py": examples.recorder("Before")})
    cn_webui.write_extension("zz-after", {"scripts/after.py": examples.recorder("After")})
    ec = _external_code(cn_webui)
    cn_webui.create_ui()
    runner = cn_webui.txt2img_runner
    before, after, cn = cn_webui.find_script("before"), cn_webui.find_script("after"), ec.find_cn_script(runner)
    assert [s.title() for s in runner.alwayson_scripts] == ["Before", "ControlNet", "After"]
    slots_before, slots_after = (before.args_from, before.args_to), (after.args_from, after.args_to)

    p = cn_webui.processing.StableDiffusionProcessingTxt2Img(prompt="x")
    p.scripts = runner
    p.script_args = cn_webui.ui_script_args()
    old_len = len(p.script_args)
    units = [ec.ControlNetUnit(enabled=True, module="none", model="canny") for _ in range(3)]
    ec.update_cn_script_in_processing(p, units)

    assert cn.args_to - cn.args_from == 3
    assert (before.args_from, before.args_to) == slots_before
    assert (after.args_from, after.args_to) == (slots_after[0] + 1, slots_after[1] + 1)
    assert len(p.script_args) == old_len + 1
    assert p.script_args[after.args_from : after.args_to] == (False, {"default": True})
    # The shift stays on the runner: the next run starts from the moved slots.
    assert cn_webui.find_script("after").args_from == slots_after[0] + 1


def test_rest_unit_is_applied_and_its_map_appended(cn_webui):
    """§5 "REST": units go under alwayson_scripts["controlnet"]; a unit with module "none" and a model name
    resolved like the extension does is applied, recorded in "ControlNet 0" infotext, changes the image, and
    its control map is appended to the images."""
    client = cn_webui.client()
    plain = client.post("/sdapi/v1/txt2img", json={"prompt": "p", "seed": 1, "width": 32, "height": 32}).json()
    body = _txt2img(client, [_unit_body(cn_webui)]).json()
    assert len(body["images"]) == 2
    assert body["images"][0] != plain["images"][0]
    infotext = json.loads(body["info"])["infotexts"][0]
    assert "ControlNet 0: " in infotext
    assert "Module: none" in infotext
    applied = cn_webui.controlnet_script().applied_units
    assert [u.model for u in applied] == [t for t in cn_webui.controlnet_model_titles() if "canny" in t]
    assert applied[0].control_map.shape == (32, 32, 3)
    control_map = np.asarray(cn_webui.decode(body["images"][1]))
    assert (control_map[:, :16] == 255).all()
    assert (control_map[:, 16:] == 0).all()


def test_no_detectmap_option_keeps_maps_out(cn_webui):
    """§5 settings: control_net_no_detectmap stops the maps being appended to the outputs."""
    cn_webui.set_options(control_net_no_detectmap=True)
    body = _txt2img(cn_webui.client(), [_unit_body(cn_webui)]).json()
    assert len(body["images"]) == 1


@pytest.mark.parametrize(
    "bad",
    [{"resize_mode": 1}, {"module": "None"}, {"model": "no-such-model"}],
)
def test_rejected_units_are_reported_and_the_request_still_succeeds(cn_webui, bad):
    """§5/§3.3: an int resize mode, Forge's "None" module or an unknown model fail inside ControlNet's
    process(); the host reports it, the request is still HTTP 200 and no map is appended."""
    response = _txt2img(cn_webui.client(), [_unit_body(cn_webui, **bad)])
    assert response.status_code == 200
    assert len(response.json()["images"]) == 1
    assert any("Error running process" in m and "controlnet.py" in m for m in cn_webui.error_messages)
    assert cn_webui.controlnet_script().applied_units == []


def test_only_masked_img2img_crops_the_control_map(cn_webui):
    """§5 "Precomputed control map": in "Only masked" inpaint the full-size map is cropped with the WebUI's
    mask crop region (unless inpaint_crop_input_image=False)."""
    client = cn_webui.client()
    full = np.zeros((128, 128, 3), np.uint8)
    full[:, :64] = 255  # white left half, black right half
    mask = np.zeros((128, 128), np.uint8)
    mask[40:80, 80:120] = 255  # inside the black half
    body = {
        "init_images": [cn_webui.b64(np.full((128, 128, 3), 80, np.uint8))],
        "mask": cn_webui.b64(mask),
        "inpaint_full_res": True,
        "mask_blur": 0,
        "width": 32,
        "height": 32,
    }
    for crop, expected_white in ((True, False), (False, True)):
        unit = _unit_body(cn_webui, image=cn_webui.b64(full), inpaint_crop_input_image=crop)
        payload = {**body, "alwayson_scripts": {"controlnet": {"args": [unit]}}}
        assert client.post("/sdapi/v1/img2img", json=payload).status_code == 200
        applied = cn_webui.controlnet_script("img2img").applied_units[0]
        assert applied.cropped_to_mask is crop
        assert applied.control_map.shape == (32, 32, 3)
        assert bool((applied.control_map == 255).any()) is expected_white


def test_img2img_without_unit_image_uses_the_init_image(cn_webui):
    """§5: with no unit image ControlNet takes p.init_images[0] (and the A1111 mask)."""
    init = np.full((32, 32, 3), 77, np.uint8)
    payload = {
        "init_images": [cn_webui.b64(init)],
        "width": 32,
        "height": 32,
        "alwayson_scripts": {"controlnet": {"args": [{"enabled": True, "module": "none", "model": "openpose"}]}},
    }
    assert cn_webui.client().post("/sdapi/v1/img2img", json=payload).status_code == 200
    applied = cn_webui.controlnet_script("img2img").applied_units[0]
    assert (applied.control_map == 77).all()
    assert "openpose" in applied.model


def test_controlnet_routes(cn_webui):
    """§5 "REST": /controlnet/version, model_list, module_list (with module_detail), settings, detect."""
    client = cn_webui.client()
    assert client.get("/controlnet/version").json() == {"version": 3}
    assert client.get("/controlnet/model_list").json()["model_list"] == cn_webui.controlnet_model_titles()
    modules = client.get("/controlnet/module_list").json()
    assert "none" in modules["module_list"]
    assert "canny" in modules["module_detail"]
    assert client.get("/controlnet/settings").json() == {"control_net_unit_count": 2}
    image = cn_webui.b64(np.zeros((8, 8, 3), np.uint8))
    detect = client.post("/controlnet/detect", json={"controlnet_module": "invert", "controlnet_input_images": [image]})
    assert detect.status_code == 200
    assert np.asarray(cn_webui.decode(detect.json()["images"][0])).min() == 255
    assert client.post("/controlnet/detect", json={"controlnet_module": "nope"}).status_code == 422


def test_unit_count_sets_the_number_of_slots(webui):
    """§5 settings: ControlNet's ui() returns control_net_unit_count controls (default 3)."""
    webui.install_controlnet()
    webui.create_ui()
    script = webui.controlnet_script()
    assert script.args_to - script.args_from == 3
    assert webui.shared.opts.control_net_unit_count == 3  # registered by its on_ui_settings


def test_legacy_unit_flavour(webui):
    """§5/§11.4: sd-webui-controlnet <= 1.1.447 had a dataclass unit with enabled=True and API version 2;
    int resize modes work there."""
    webui.install_controlnet("legacy")
    ec = _external_code(webui)
    assert ec.get_api_version() == 2
    unit = ec.ControlNetUnit()
    assert unit.enabled is True
    assert unit.module == "none"
    body = _txt2img(webui.client(), [_unit_body(webui, resize_mode=0)]).json()
    assert len(body["images"]) == 2
    assert webui.controlnet_script().applied_units[0].resize_mode == "Just Resize"


def test_map_is_fitted_with_the_unit_resize_mode(cn_webui):
    """§5: the control map is resized to the generation size with the unit's resize mode."""
    wide = np.zeros((16, 64, 3), np.uint8)
    wide[:, :8] = 255
    client = cn_webui.client()
    _txt2img(client, [_unit_body(cn_webui, image=cn_webui.b64(wide), resize_mode="Just Resize")])
    stretched = cn_webui.controlnet_script().applied_units[0].control_map
    _txt2img(client, [_unit_body(cn_webui, image=cn_webui.b64(wide), resize_mode="Crop and Resize")])
    cropped = cn_webui.controlnet_script().applied_units[0].control_map
    assert stretched[:, :2].min() >= 250  # the white strip survives stretching
    assert cropped[:, :2].max() == 0  # and is cut away by the centre crop
    assert Image.fromarray(cropped).size == (32, 32)
