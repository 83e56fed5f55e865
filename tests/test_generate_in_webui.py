"""The always-on script generating in the host double: img2img keeps the product exactly, units are merged
with the caller's, the slot count is respected, Forge's flavour, txt2img reference units, and failures stop
the generation with a message (design.md; issue "generation tasks"; host-contract §3.3, §5, §5b)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
CN_MODELS = ("control_v11p_sd15_canny", "control_v11p_sd15_openpose", "control_v11f1p_sd15_depth")
WEIGHT_FREE = [{"kind": "mask_canny"}, {"kind": "canny", "weight": 0.5}]
HARD = {"control": WEIGHT_FREE, "segment": {"matte": "none"}}  # alpha = the painted mask exactly


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    return any_webui.with_garment_studio(CN_MODELS)


@pytest.fixture
def one_host(webui, fresh_engine_modules):
    """One flavour, for what does not differ between them (ControlNet's flavour is not involved)."""
    return webui.with_garment_studio(CN_MODELS)


def photo_and_mask(width: int = 96, height: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A textured photo with a product rectangle, and the inpaint mask a user paints on the product."""
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    product = np.zeros((height, width), np.uint8)
    product[20:60, 30:70] = 255
    return photo, product


def img2img_body(host, photo, painted, settings, **extra) -> dict:
    # The user paints the product and picks "Inpaint not masked": everything else is regenerated.
    return {
        "init_images": [host.b64(photo)],
        "mask": host.b64(painted),
        "inpainting_mask_invert": 1,
        "prompt": "a shirt on a beach",
        "steps": 2,
        "width": 64,
        "height": 64,
        "seed": 3,
        "denoising_strength": 1.0,
        "alwayson_scripts": {"garment studio": {"args": [True, settings]}, **extra},
    }


def post(host, path: str, body: dict) -> dict:
    response = host.client().post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_img2img_keeps_every_alpha_one_pixel_of_the_photo(host) -> None:
    photo, painted = photo_and_mask()
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, HARD))
    out = np.asarray(host.decode(body["images"][0]))
    assert out.shape == photo.shape  # composited at the photo's resolution, not the 64x64 generation
    keep = painted == 255
    assert np.array_equal(out[keep], photo[keep])
    # the rest was regenerated (the double paints its own colours), so the test can fail
    assert np.mean(np.any(out[~keep] != photo[~keep], axis=-1)) > 0.9
    info = json.loads(body["info"])
    assert "1600 kept pixels, identical to the photo" in info["infotexts"][0]


def test_kept_pixels_are_exact_when_generating_at_the_photos_own_size(host) -> None:
    """At equal sizes the WebUI's overlay already restores most unmasked pixels, but not those within its mask
    blur, and the double's decode changes every pixel (as the VAE does): the same request without Garment Studio
    leaves kept pixels changed, so this test fails without the composite."""
    photo, painted = photo_and_mask()
    keep = painted == 255
    same_size = {"width": 96, "height": 80}
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, HARD) | same_size)
    out = np.asarray(host.decode(body["images"][0]))
    assert out.shape == photo.shape
    assert np.array_equal(out[keep], photo[keep])
    plain = img2img_body(host, photo, painted, HARD) | same_size
    plain["alwayson_scripts"] = {}
    without = np.asarray(host.decode(post(host, "/sdapi/v1/img2img", plain)["images"][0]))
    assert without.shape == photo.shape
    assert np.any(without[keep] != photo[keep], axis=-1).sum() > 100  # the blurred band inside the product


def test_units_reach_controlnet_with_full_size_maps_and_module_none(host) -> None:
    photo, painted = photo_and_mask()
    post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, {"control": WEIGHT_FREE}))
    applied = host.controlnet_script("img2img").history[-1]
    assert [u.model.split(" [")[0] for u in applied] == ["control_v11p_sd15_canny"] * 2
    assert [u.weight for u in applied] == [1.0, 0.5]
    assert all(u.module.lower() == "none" for u in applied)
    assert applied[0].source_shape[:2] == photo.shape[:2]  # the full-size map, ControlNet fits it


def test_a_callers_own_unit_survives_next_to_ours(host) -> None:
    photo, painted = photo_and_mask()
    depth_title = next(t for t in host.controlnet_model_titles() if "depth" in t)
    module = "None" if host.is_forge else "none"
    own = {"enabled": True, "module": module, "model": depth_title, "image": host.b64(photo), "weight": 0.3}
    extra = {"controlnet": {"args": [own]}}
    post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, {"control": WEIGHT_FREE}, **extra))
    applied = host.controlnet_script("img2img").history[-1]
    assert len(applied) == 3
    assert applied[0].model == depth_title  # theirs, kept in its slot
    assert applied[0].weight == 0.3
    assert sorted(u.weight for u in applied[1:]) == [0.5, 1.0]


def test_too_many_units_for_the_slots_is_refused_not_overfilled(host) -> None:
    photo, painted = photo_and_mask()
    units = [{"kind": "mask_canny"}, {"kind": "canny"}, {"kind": "lines"}, {"kind": "canny", "weight": 0.2}]
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, {"control": units}))
    assert body["images"] == []  # stopped before generating
    info = json.loads(body["info"])
    assert "3 unit slots" in info["extra_generation_params"]["Garment Studio error"]
    garment = host.find_script("Garment Studio", "img2img")
    assert garment.args_to - garment.args_from == 2  # nobody's slots moved


def test_missing_controlnet_model_names_what_to_install(any_webui, fresh_engine_modules) -> None:
    any_webui.install_controlnet(models=("control_v11f1p_sd15_depth",))
    any_webui.install_extension(ROOT, EXT_NAME)
    any_webui.load_scripts()
    photo, painted = photo_and_mask()
    body = post(any_webui, "/sdapi/v1/img2img", img2img_body(any_webui, photo, painted, {"control": WEIGHT_FREE}))
    message = json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]
    assert "put control_v11p_sd15_canny in the WebUI's models/ControlNet folder" in message
    assert body["images"] == []


def test_without_controlnet_the_run_needs_permission(webui, fresh_engine_modules) -> None:
    webui.install_extension(ROOT, EXT_NAME)
    webui.load_scripts()
    photo, painted = photo_and_mask()
    refused = post(webui, "/sdapi/v1/img2img", img2img_body(webui, photo, painted, HARD))
    assert (
        "install sd-webui-controlnet" in json.loads(refused["info"])["extra_generation_params"]["Garment Studio error"]
    )
    allowed = post(
        webui, "/sdapi/v1/img2img", img2img_body(webui, photo, painted, {**HARD, "allow_without_controlnet": True})
    )
    out = np.asarray(webui.decode(allowed["images"][0]))
    assert np.array_equal(out[painted == 255], photo[painted == 255])


def test_bad_settings_stop_the_generation_with_the_field_named(host) -> None:
    photo, painted = photo_and_mask()
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, {"taks": "model"}))
    assert body["images"] == []
    assert "taks: unknown field" in json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]
    assert host.error_messages == []


def test_next_generation_after_a_refused_one_runs_normally(host) -> None:
    photo, painted = photo_and_mask()
    post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, {"taks": "model"}))
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, HARD))
    out = np.asarray(host.decode(body["images"][0]))
    assert out.shape == photo.shape  # Garment Studio's composite, at the photo's size
    keep = painted == 255
    assert np.array_equal(out[keep], photo[keep])
    info = json.loads(body["info"])
    assert "Garment Studio error" not in info["extra_generation_params"]
    assert "1600 kept pixels, identical to the photo" in info["infotexts"][0]


def test_without_a_mask_or_phrase_the_message_says_what_to_give(host) -> None:
    photo, _ = photo_and_mask()
    body = {**img2img_body(host, photo, photo[..., 0], {"control": WEIGHT_FREE})}
    del body["mask"]
    body = post(host, "/sdapi/v1/img2img", body)
    message = json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]
    assert "segment.phrases" in message
    assert "give a mask" in message


def test_infotext_records_the_request_and_pastes_back(host) -> None:
    photo, painted = photo_and_mask()
    settings = {"control": WEIGHT_FREE, "prompt": "linen shirt, beach"}
    body = post(host, "/sdapi/v1/img2img", img2img_body(host, photo, painted, settings))
    text = json.loads(body["info"])["infotexts"][0]
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(text)
    restored = json.loads(params["Garment Studio"])
    assert restored["prompt"] == "linen shirt, beach"
    assert restored["control"][1] == {**restored["control"][1], "kind": "canny", "weight": 0.5}


def test_batch_of_two_composites_each_output(host) -> None:
    photo, painted = photo_and_mask()
    body = post(host, "/sdapi/v1/img2img", {**img2img_body(host, photo, painted, HARD), "batch_size": 2})
    outputs = [np.asarray(host.decode(b)) for b in body["images"][:2]]
    keep = painted == 255
    for out in outputs:
        assert np.array_equal(out[keep], photo[keep])
    assert not np.array_equal(outputs[0], outputs[1])  # two seeds, two backgrounds


def test_txt2img_units_come_from_the_reference_photo(host) -> None:
    photo, painted = photo_and_mask()
    settings = {"control": [{"kind": "canny"}], "reference_image": host.b64(photo)}
    response = host.client().post(
        "/sdapi/v1/txt2img",
        json={
            "prompt": "a model",
            "steps": 2,
            "width": 64,
            "height": 64,
            "alwayson_scripts": {"garment studio": {"args": [True, settings]}},
        },
    )
    assert response.status_code == 200
    applied = host.controlnet_script("txt2img").history[-1]
    assert len(applied) == 1
    assert applied[0].source_shape[:2] == photo.shape[:2]
    assert "reference_image" not in json.loads(response.json()["info"])["infotexts"][0]


def test_txt2img_without_a_reference_says_so(host) -> None:
    response = host.client().post(
        "/sdapi/v1/txt2img",
        json={
            "prompt": "x",
            "steps": 2,
            "width": 64,
            "height": 64,
            "alwayson_scripts": {"garment studio": {"args": [True, {"task": "model"}]}},
        },
    )
    assert "reference_image" in json.loads(response.json()["info"])["extra_generation_params"]["Garment Studio error"]


# -- the img2img Script dropdown entry -------------------------------------------------------------------------


def script_body(host, photo, painted, settings, **extra) -> dict:
    body = img2img_body(host, photo, painted, {}, **extra)
    body["alwayson_scripts"] = extra
    return {**body, "script_name": "garment studio", "script_args": [settings]}


def test_the_dropdown_script_is_listed_for_img2img_only(host) -> None:
    scripts = host.client().get("/sdapi/v1/scripts").json()
    assert "garment studio" in scripts["img2img"]  # the always-on section and the dropdown entry
    host.create_ui()
    selectable = [s.title() for s in host.runner("img2img").selectable_scripts]
    assert "Garment Studio" in selectable
    assert "Garment Studio" not in [s.title() for s in host.runner("txt2img").selectable_scripts]


def test_the_dropdown_script_runs_the_task_and_saved_outputs_are_composited(host) -> None:
    photo, painted = photo_and_mask()
    body = post(host, "/sdapi/v1/img2img", script_body(host, photo, painted, HARD))
    out = np.asarray(host.decode(body["images"][0]))
    keep = painted == 255
    assert np.array_equal(out[keep], photo[keep])
    assert "identical to the photo" in json.loads(body["info"])["infotexts"][0]
    assert len(host.controlnet_script("img2img").history[-1]) == 2


def test_the_dropdown_script_and_the_always_on_section_do_not_both_run(host) -> None:
    photo, painted = photo_and_mask()
    extra = {"garment studio": {"args": [True, HARD]}}
    body = post(host, "/sdapi/v1/img2img", script_body(host, photo, painted, HARD, **extra))
    assert len(host.controlnet_script("img2img").history[-1]) == 2  # units injected once, not four
    assert "Garment Studio error" not in json.loads(body["info"])["infotexts"][0]


def test_the_dropdown_script_refuses_bad_settings_without_generating(host) -> None:
    photo, painted = photo_and_mask()
    body = post(host, "/sdapi/v1/img2img", script_body(host, photo, painted, {"control": "canny"}))
    assert body["images"] == []
    assert "control" in json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]


def test_the_ui_batch_path_runs_the_dropdown_script_per_image(host) -> None:
    from PIL import Image

    photo, painted = photo_and_mask()
    host.create_ui()
    args = list(host.ui_script_args("img2img", selected="Garment Studio"))
    dropdown = next(s for s in host.runner("img2img").selectable_scripts if s.title() == "Garment Studio")
    args[dropdown.args_from] = HARD  # the same title as the always-on section: set the dropdown's slot itself
    processed = host.img2img(
        script_args=tuple(args),
        init_images=[Image.fromarray(photo)],
        mask=Image.fromarray(painted),
        inpainting_mask_invert=1,
        steps=2,
        width=64,
        height=64,
    )
    out = np.asarray(processed.images[0])
    assert np.array_equal(out[painted == 255], photo[painted == 255])


def test_older_controlnet_with_dataclass_units_takes_the_units_too(webui, fresh_engine_modules) -> None:
    """sd-webui-controlnet ≤ 1.1.447: dataclass units whose default is enabled=True (host-contract §5)."""
    webui.install_controlnet("legacy", models=CN_MODELS)
    webui.install_extension(ROOT, EXT_NAME)
    webui.load_scripts()
    photo, painted = photo_and_mask()
    body = post(webui, "/sdapi/v1/img2img", img2img_body(webui, photo, painted, HARD))
    applied = webui.controlnet_script("img2img").history[-1]
    assert [u.weight for u in applied] == [1.0, 0.5]
    out = np.asarray(webui.decode(body["images"][0]))
    assert np.array_equal(out[painted == 255], photo[painted == 255])


# -- the user's img2img settings, "Only masked", batches, interrupts ------------------------------------------


def kept_exactly(out: np.ndarray, photo: np.ndarray, keep: np.ndarray) -> bool:
    return out.shape == photo.shape and np.array_equal(out[keep], photo[keep])


def test_only_masked_keeps_the_users_choice_and_the_product_exactly(host) -> None:
    """The request leaves the inpaint area open: the caller's "Only masked" (and padding) stand, and the product
    stays exact through the crop, the paste-back and the composite."""
    photo, painted = photo_and_mask()
    body = {**img2img_body(host, photo, painted, HARD), "inpaint_full_res": True, "inpaint_full_res_padding": 8}
    answer = post(host, "/sdapi/v1/img2img", body)
    out = np.asarray(host.decode(answer["images"][0]))
    assert kept_exactly(out, photo, painted == 255)
    params = json.loads(answer["info"])["extra_generation_params"]
    assert params["Inpaint area"] == "Only masked"
    assert params["Masked area padding"] == 8

    whole = {**HARD, "generation": {"only_masked": False}}  # set explicitly: the request's value wins
    answer = post(host, "/sdapi/v1/img2img", {**img2img_body(host, photo, painted, whole), "inpaint_full_res": True})
    assert "Inpaint area" not in json.loads(answer["info"])["extra_generation_params"]


def test_only_masked_through_the_dropdown_script(one_host) -> None:
    photo, painted = photo_and_mask()
    settings = {**HARD, "generation": {"only_masked": True, "inpaint_padding": 4}}
    answer = post(one_host, "/sdapi/v1/img2img", script_body(one_host, photo, painted, settings))
    assert kept_exactly(np.asarray(one_host.decode(answer["images"][0])), photo, painted == 255)
    assert json.loads(answer["info"])["extra_generation_params"]["Inpaint area"] == "Only masked"


def test_several_iterations_are_each_composited(one_host) -> None:
    photo, painted = photo_and_mask()
    answer = post(one_host, "/sdapi/v1/img2img", {**img2img_body(one_host, photo, painted, HARD), "n_iter": 3})
    outputs = [np.asarray(one_host.decode(b)) for b in answer["images"][:3]]
    assert all(kept_exactly(out, photo, painted == 255) for out in outputs)
    infotexts = json.loads(answer["info"])["infotexts"]
    assert len(infotexts) == 3
    assert all("1600 kept pixels, identical to the photo" in text for text in infotexts)
    assert len({out.tobytes() for out in outputs}) == 3  # three seeds


def test_interrupted_generation_composites_what_it_made(one_host, monkeypatch) -> None:
    """Interrupt after the first of three iterations: the WebUI stops, and the one image made keeps the product."""
    state = one_host.shared.state
    real = state.nextjob

    def nextjob_then_interrupt() -> None:
        real()
        state.interrupt()

    monkeypatch.setattr(state, "nextjob", nextjob_then_interrupt)
    photo, painted = photo_and_mask()
    answer = post(one_host, "/sdapi/v1/img2img", {**img2img_body(one_host, photo, painted, HARD), "n_iter": 3})
    infotexts = json.loads(answer["info"])["infotexts"]
    assert len(infotexts) == 1
    assert kept_exactly(np.asarray(one_host.decode(answer["images"][0])), photo, painted == 255)
    assert "identical to the photo" in infotexts[0]


def test_several_different_init_images_are_refused(one_host) -> None:
    photo, painted = photo_and_mask()
    other = np.ascontiguousarray(photo[::-1])
    body = {**img2img_body(one_host, photo, painted, HARD), "init_images": [one_host.b64(photo), one_host.b64(other)]}
    answer = post(one_host, "/sdapi/v1/img2img", {**body, "batch_size": 2})
    assert answer["images"] == []
    message = json.loads(answer["info"])["extra_generation_params"]["Garment Studio error"]
    assert "one photo per generation and img2img got 2 different init images" in message


def test_an_rgba_mask_is_read_by_its_alpha_as_the_webui_reads_it(one_host) -> None:
    """A cut-out mask (white everywhere, the product opaque): the WebUI inpaints by the alpha, and so do we."""
    photo, painted = photo_and_mask()
    rgba = np.full((*painted.shape, 4), 255, np.uint8)
    rgba[..., 3] = painted
    answer = post(one_host, "/sdapi/v1/img2img", img2img_body(one_host, photo, rgba, HARD))
    out = np.asarray(one_host.decode(answer["images"][0]))
    assert kept_exactly(out, photo, painted == 255)
    assert "1600 kept pixels" in json.loads(answer["info"])["infotexts"][0]


@pytest.mark.parametrize("entry", ["dropdown", "always-on"])
def test_the_batch_tab_restores_the_users_settings_for_each_photo(host, entry) -> None:
    """The Batch tab reuses one processing object: the second photo (another size) must be read with the user's
    mask mode and find its ControlNet slots free, not inherit the first photo's plan."""
    from PIL import Image

    first, first_mask = photo_and_mask(96, 80)
    second, second_mask = photo_and_mask(72, 64)
    host.create_ui()
    selected = "Garment Studio" if entry == "dropdown" else None
    args = list(host.ui_script_args("img2img", selected=selected))
    if entry == "dropdown":
        dropdown = next(s for s in host.runner("img2img").selectable_scripts if s.title() == "Garment Studio")
        args[dropdown.args_from] = HARD
    else:
        section = host.find_script("Garment Studio", "img2img")
        args[section.args_from : section.args_from + 2] = [True, json.dumps(HARD)]
    results = host.module("img2img").img2img_batch(
        tuple(args),
        [Image.fromarray(first), Image.fromarray(second)],
        masks=[Image.fromarray(first_mask), Image.fromarray(second_mask)],
        inpainting_mask_invert=1,
        inpaint_full_res=False,
        steps=2,
        width=64,
        height=64,
    )
    assert len(results) == 2
    for processed, photo, painted in zip(results, (first, second), (first_mask, second_mask), strict=True):
        assert kept_exactly(np.asarray(processed.images[0]), photo, painted == 255)
        assert "identical to the photo" in processed.infotexts[0]
    history = host.controlnet_script("img2img").history
    assert [len(units) for units in history[-2:]] == [2, 2]  # the first photo's units did not stay behind


def test_the_batch_tab_does_not_carry_one_photos_lines_into_the_next_photos_file(host) -> None:
    """One processing object for the whole batch: the first photo is refused (its mask keeps nothing), the
    second is made, and its infotext must say so alone, not repeat the first one's error."""
    from PIL import Image

    first, _ = photo_and_mask(96, 80)
    second, second_mask = photo_and_mask(72, 64)
    host.create_ui()
    args = list(host.ui_script_args("img2img", selected="Garment Studio"))
    dropdown = next(s for s in host.runner("img2img").selectable_scripts if s.title() == "Garment Studio")
    args[dropdown.args_from] = HARD
    results = host.module("img2img").img2img_batch(
        tuple(args),
        [Image.fromarray(first), Image.fromarray(second)],
        masks=[Image.fromarray(np.zeros(first.shape[:2], np.uint8)), Image.fromarray(second_mask)],
        inpainting_mask_invert=1,
        inpaint_full_res=False,
        steps=2,
        width=64,
        height=64,
    )
    refused, made = results
    assert refused.images == []  # refused ("the mask keeps nothing"), and the batch went on
    assert "identical to the photo" in made.infotexts[0]
    assert "Garment Studio error" not in made.infotexts[0]


def test_a_callers_unit_that_controlnet_cannot_read_stays_in_its_slot(webui, fresh_engine_modules) -> None:
    """Forge's spelling "None" on sd-webui-controlnet: the caller's dict stays untouched and keeps its slot;
    ours take the others; no internal error of ours (ControlNet reports the caller's unit itself)."""
    from PIL import Image

    webui.install_controlnet(models=CN_MODELS)
    webui.install_extension(ROOT, EXT_NAME)
    webui.load_scripts()
    photo, painted = photo_and_mask()
    theirs = {"enabled": True, "module": "None", "model": "control_v11f1p_sd15_depth", "weight": 0.3}
    webui.create_ui()
    cn = webui.controlnet_script("img2img")
    args = list(webui.ui_script_args("img2img", {"Garment Studio": [True, json.dumps(HARD)]}))
    args[cn.args_from] = theirs
    seen = []
    real = cn.process

    def recording(p, *units):
        seen.append(list(units))
        return real(p, *units)

    cn.process = recording
    processed = webui.img2img(
        script_args=tuple(args),
        init_images=[Image.fromarray(photo)],
        mask=Image.fromarray(painted),
        inpainting_mask_invert=1,
        steps=2,
        width=64,
        height=64,
    )
    assert seen[-1][0] is theirs  # untouched, in its slot
    assert [unit.weight for unit in seen[-1][1:]] == [1.0, 0.5]
    assert "Garment Studio error" not in processed.infotexts[0]
    assert kept_exactly(np.asarray(processed.images[0]), photo, painted == 255)
    assert any("ControlNet unit 0 as sent could not be read" in comment for comment in processed.comments.split("\n"))


# -- paste-back and txt2img's reference photo -----------------------------------------------------------------


@pytest.mark.parametrize("tab", ["txt2img", "img2img"])
def test_pasting_the_infotext_restores_the_section(one_host, tab) -> None:
    """Through the WebUI's paste path (the paste button's function and gradio's rule for its outputs): the
    enable flag, the settings JSON, the task and the phrase widgets all take the pasted request."""
    settings = {"task": "model", "segment": {"phrases": "red dress", "matte": "none"}, "control": [{"kind": "canny"}]}
    recorded = json.dumps({**settings, "seed": 5}, separators=(",", ":"))
    from modules import infotext_utils

    text = f"a model\nSteps: 2, Sampler: Euler a, Seed: 5, Garment Studio: {infotext_utils.quote(recorded)}"
    changed = one_host.paste(tab, text)
    section = one_host.find_script("Garment Studio", tab)
    enabled, settings_box = one_host.runner(tab).inputs[section.args_from : section.args_from + 2]
    widgets = {target.__name__: component for component, target in section.infotext_fields if callable(target)}
    assert changed[enabled] is True
    assert json.loads(changed[settings_box]) == {**settings, "seed": 5}  # the settings slot itself
    assert changed[widgets["task_from_infotext"]] == "model"
    assert changed[widgets["phrases_from_infotext"]] == "red dress"

    other = one_host.paste(tab, "a model\nSteps: 2, Sampler: Euler a, Seed: 5")
    assert other[enabled] is False  # an infotext without the key switches the section off
    assert settings_box not in other  # and leaves the settings alone


def test_txt2img_reference_photo_from_the_section_with_a_keep_mask(host) -> None:
    """The UI's upload slots: the reference photo and its keep mask make the default outline unit without
    any segmentation phrase (no model runs for the mask)."""
    from PIL import Image

    photo, painted = photo_and_mask()
    settings = json.dumps({"control": [{"kind": "mask_canny"}]})
    processed = host.txt2img(
        values={"Garment Studio": [True, settings, Image.fromarray(photo), Image.fromarray(painted)]},
        prompt="a shirt",
        steps=2,
        width=64,
        height=64,
    )
    assert "Garment Studio error" not in processed.infotexts[0]
    (unit,) = host.controlnet_script("txt2img").history[-1]
    outline = unit.control_map[..., 0] > 0
    assert outline.any()
    assert unit.source_shape[:2] == photo.shape[:2]


def test_txt2img_reference_mask_as_a_request_field(one_host) -> None:
    photo, painted = photo_and_mask()
    settings = {"control": [{"kind": "mask_canny"}], "reference_image": one_host.b64(photo)}
    args = [True, {**settings, "reference_mask": one_host.b64(painted[:40])}]
    answer = post(
        one_host,
        "/sdapi/v1/txt2img",
        {"prompt": "x", "steps": 2, "width": 64, "height": 64, "alwayson_scripts": {"garment studio": {"args": args}}},
    )
    message = json.loads(answer["info"])["extra_generation_params"]["Garment Studio error"]
    assert "the reference mask is 96x40 but the reference photo is 96x80" in message
    args = [True, {**settings, "reference_mask": one_host.b64(painted)}]
    post(
        one_host,
        "/sdapi/v1/txt2img",
        {"prompt": "x", "steps": 2, "width": 64, "height": 64, "alwayson_scripts": {"garment studio": {"args": args}}},
    )
    assert len(one_host.controlnet_script("txt2img").history[-1]) == 1


def test_txt2img_without_controlnet_but_allowed_makes_no_maps(webui, fresh_engine_modules) -> None:
    """The task's default units need the depth model, which is not here: had the maps been made, the job
    would fail for it. Without ControlNet nothing would take them, so none are made."""
    webui.install_extension(ROOT, EXT_NAME)
    webui.load_scripts()
    photo, _ = photo_and_mask()
    settings = {"allow_without_controlnet": True, "reference_image": webui.b64(photo)}
    processed = webui.txt2img(
        values={"Garment Studio": [True, json.dumps(settings)]}, prompt="x", steps=2, width=64, height=64
    )
    assert "Garment Studio error" not in processed.infotexts[0]
    assert len(processed.images) == 1
    assert "no control maps made" in processed.comments


def test_the_model_description_joins_the_webuis_prompt(one_host) -> None:
    settings = {"task": "model", "control": [], "model": {"gender": "woman", "scene": "in a park"}}
    processed = one_host.txt2img(
        values={"Garment Studio": [True, json.dumps(settings)]}, prompt="linen dress", steps=2, width=64, height=64
    )
    assert processed.infotexts[0].startswith("linen dress, fashion model, woman, in a park\n")


def test_a_lossy_samples_format_is_said_next_to_the_check(one_host) -> None:
    one_host.set_options(samples_format="jpg")
    photo, painted = photo_and_mask()
    answer = post(one_host, "/sdapi/v1/img2img", img2img_body(one_host, photo, painted, HARD))
    kept = json.loads(answer["info"])["extra_generation_params"]["Garment Studio kept"]
    assert kept.startswith("1600 kept pixels, identical to the photo (before the WebUI's jpg encoding")
