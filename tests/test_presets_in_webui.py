"""Marketplace presets and plain backgrounds at every entry point, in the host double (issue 11): REST lists the
presets and /generate frames, encodes and reports (a plain background without any generation), an unknown
preset or a forbidden shadow is refused before any model runs, the always-on img2img section frames its output
and writes one compliance line, the tab shows a pass/fail table, and every entry point gives the engine's own
report for the same image."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.presets_support import write_preset

ROOT = Path(__file__).resolve().parents[1]
API = "/garment-studio/v1"
CN_MODELS = ("control_v11p_sd15_canny",)
WEIGHT_FREE = [{"kind": "mask_canny"}, {"kind": "canny", "weight": 0.5}]
FROM_MASK = {"mask_source": "mask", "matte": "none"}  # alpha = the supplied mask exactly; no model runs
FAST = {"steps": 2, "width": 64, "height": 64, "sampler": "Euler a"}
HARD = {"control": WEIGHT_FREE, "segment": FROM_MASK, "generation": FAST, "seed": 3}
# A PNG shop: the product filling half the canvas (the test photo's product already does: no scaling), white.
PNG_SHOP_CANVAS = {"fill": 0.5, "format": "png", "background": "#FFFFFF"}
SQUARE_SHOP_CANVAS = {"width": 120, "height": 120, "fill": 0.5, "format": "png", "background": "#FFFFFF"}
RULES = [
    {"id": "white", "kind": "background_colour", "value": "#FFFFFF"},
    {"id": "png-only", "kind": "formats", "value": ["png"]},
    {"id": "zoom", "kind": "min_longest_side", "value": 1000, "severity": "recommended"},
]
SCENE_RULES = RULES[1:]  # a generated scene is no plain white background: no background rule here


def engine(name: str) -> Any:
    """A module of the installed extension's engine (the copy the WebUI imported)."""
    return sys.modules.get(name) or importlib.import_module(name)


@pytest.fixture
def host(any_webui, fresh_engine_modules, tmp_path):
    """Both flavours, with a models folder holding the user's presets (the Settings page's models folder)."""
    models = tmp_path / "models"
    folder = models / "garment_studio" / "presets"
    write_preset(folder, "png-shop", canvas=PNG_SHOP_CANVAS, rules=RULES)
    write_preset(folder, "square-shop", canvas=SQUARE_SHOP_CANVAS, rules=SCENE_RULES)
    write_preset(folder, "strict-shop", canvas={"background": "#FFFFFF"}, rules=[{**RULES[0]}, NO_SHADOW])
    webui = any_webui.with_garment_studio(CN_MODELS)
    webui.set_options(garment_studio_models_dir=str(models))
    webui.models = models
    return webui


NO_SHADOW = {"id": "no-shadow", "kind": "shadow", "value": "forbidden"}


def photo_and_mask(width: int = 96, height: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A textured photo and the product mask (white = keep) of a 40x40 rectangle on it."""
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    keep = np.zeros((height, width), np.uint8)
    keep[20:60, 30:70] = 255
    return photo, keep


def amazon_photo() -> tuple[np.ndarray, np.ndarray]:
    """320x320, its textured product 272x272 (85 % of the side: amazon-main's fill, so it is not scaled)."""
    rng = np.random.default_rng(3)
    photo = np.full((320, 320, 3), (30, 160, 60), np.uint8)
    photo[24:296, 24:296] = rng.integers(0, 256, (272, 272, 3), dtype=np.uint8)
    keep = np.zeros((320, 320), np.uint8)
    keep[24:296, 24:296] = 255
    return photo, keep


def body(host, photo, mask, request) -> dict:
    return {"request": request, "image": host.b64(photo), "mask": host.b64(mask)}


def post(client, route: str, payload: dict, status: int = 200) -> dict:
    response = client.post(f"{API}/{route}", json=payload)
    assert response.status_code == status, response.text
    return response.json()


def record_generations(host, monkeypatch) -> list[Any]:
    """Every WebUI generation (processing.process_images) from now on."""
    calls: list[Any] = []
    real = host.processing.process_images

    def recording(p):
        calls.append(p)
        return real(p)

    monkeypatch.setattr(host.processing, "process_images", recording)
    return calls


def as_json(value: Any) -> Any:
    """``value`` as JSON reads it back (what a REST client compares against)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# -- REST ------------------------------------------------------------------------------------------------------


def test_rest_lists_the_presets_with_their_rules_and_sources(host) -> None:
    answer = host.client().get(f"{API}/presets").json()
    by_name = {preset["name"]: preset for preset in answer["presets"]}
    shipped = sorted(path.stem for path in (ROOT / "lib_garment" / "presets" / "data").glob("*.toml"))
    assert set(shipped) <= set(by_name)
    assert {"png-shop", "square-shop", "strict-shop"} <= set(by_name)
    amazon = by_name["amazon-main"]
    assert amazon["origin"] == "shipped"
    assert {"name", "title", "marketplace", "description", "canvas", "rules", "sources", "missing"} <= set(amazon)
    source_ids = {source["id"] for source in amazon["sources"]}
    assert all({"id", "title", "url", "read"} <= set(source) for source in amazon["sources"])
    for rule in amazon["rules"]:
        assert {"id", "kind", "value", "severity", "source", "note"} <= set(rule)
        assert rule["source"] in source_ids
    assert by_name["png-shop"]["origin"] == "user"
    assert answer["user_dir"] == str(host.models / "garment_studio" / "presets")


def test_rest_plain_white_with_amazon_main_passes_its_check_without_any_generation(host, monkeypatch) -> None:
    generations = record_generations(host, monkeypatch)
    photo, keep = amazon_photo()
    request = {"preset": "amazon-main", "segment": FROM_MASK, "output": {"background": "white"}}
    answer = post(host.client(), "generate", body(host, photo, keep, request))
    assert generations == []  # no diffusion
    assert host.controlnet_script("img2img").history == []
    info = answer["info"]
    assert info["generated"] is False
    # PNG, not the canvas's JPEG: the pure-white rule is required and amazon-main's formats rule accepts PNG
    assert info["formats"] == ["png"]
    data = base64.b64decode(answer["images"][0])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"  # the file as it was checked
    (report,) = info["compliance"]
    assert report["preset"] == "amazon-main"
    assert report["verdict"] != "fail"
    statuses = {rule["id"]: rule["status"] for rule in report["rules"]}
    assert statuses["background-pure-white"] == statuses["fill-85"] == statuses["formats"] == "pass"
    (framing,) = info["framing"]
    assert framing["scale"] == 1.0  # not scaled: moved by whole pixels
    assert framing["fill"] == pytest.approx(0.85)
    assert any(note.startswith("no diffusion: the product on plain #FFFFFF") for note in info["notes"])
    assert np.array_equal(np.asarray(host.decode(answer["alpha"]))[..., 0], keep)  # the photo's own matte
    assert f"amazon-main {report['verdict']} (" in info["infotexts"][0]  # the compliance line, as the WebUI quotes it
    assert "Garment Studio compliance: " in info["infotexts"][0]


def test_rest_plain_background_keeps_the_product_exactly_where_not_scaled(host, monkeypatch) -> None:
    generations = record_generations(host, monkeypatch)
    photo, keep = photo_and_mask()
    request = {"preset": "png-shop", "segment": FROM_MASK, "output": {"background": "white"}}
    answer = post(host.client(), "generate", {**body(host, photo, keep, request), "save_images": True})
    assert generations == []
    (framing,) = answer["info"]["framing"]
    assert framing["scale"] == 1.0
    x0, y0, x1, y1 = framing["product_box"]
    out = np.asarray(host.decode(answer["images"][0]))
    assert out.shape == photo.shape  # the canvas is the photo's size (no canvas size in the preset)
    assert np.array_equal(out[y0:y1, x0:x1], photo[20:60, 30:70])  # the photographed pixels, bit for bit
    outside = np.ones(out.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.all(out[outside] == 255)  # exactly white
    assert answer["info"]["compliance"][0]["verdict"] == "warn"  # only the recommended zoom rule fails
    (path,) = answer["info"]["files"]
    assert Path(path).suffix == ".png"
    assert Path(path).read_bytes() == base64.b64decode(answer["images"][0])  # the checked file, byte for byte
    sidecar = json.loads(Path(path).with_suffix(".json").read_text(encoding="utf8"))
    assert sidecar["compliance"] == answer["info"]["compliance"][0]


def test_rest_and_the_engine_give_the_same_report_for_the_same_image(host) -> None:
    photo, keep = amazon_photo()
    request = {"preset": "amazon-main", "segment": FROM_MASK, "output": {"background": "white", "shadow": "contact"}}
    answer = post(host.client(), "generate", body(host, photo, keep, request))
    deliver = engine("lib_garment.presets.deliver")
    parse = engine("lib_garment.request").parse_request
    direct = deliver.deliver(photo, None, keep.astype(np.float32) / 255.0, parse(request), models_dir=host.models)
    assert base64.b64decode(answer["images"][0]) == direct.encoded.data
    assert answer["info"]["compliance"] == [as_json(direct.compliance_json())]


def test_an_unknown_preset_is_refused_before_any_model_runs(host, monkeypatch) -> None:
    generations = record_generations(host, monkeypatch)
    photo, keep = photo_and_mask()
    for request in ({**HARD, "preset": "no-such-shop"}, {"preset": "no-such-shop", "output": {"background": "white"}}):
        (problem,) = post(host.client(), "generate", body(host, photo, keep, request), 422)["detail"]
        assert problem["loc"] == ["body", "request", "preset"]
        assert "no preset 'no-such-shop'; valid names: " in problem["msg"]
        assert "amazon-main" in problem["msg"]
        assert "png-shop" in problem["msg"]
    assert generations == []
    assert host.shared.state.begun_jobs == []  # not even the queue


def test_a_shadow_the_preset_forbids_is_refused(host, monkeypatch) -> None:
    generations = record_generations(host, monkeypatch)
    photo, keep = photo_and_mask()
    request = {**HARD, "preset": "strict-shop", "output": {"shadow": "drop"}}
    (problem,) = post(host.client(), "generate", body(host, photo, keep, request), 422)["detail"]
    assert problem["loc"] == ["body", "request", "output", "shadow"]
    assert "preset strict-shop forbids shadows (rule no-shadow)" in problem["msg"]
    assert generations == []
    assert host.shared.state.begun_jobs == []


def test_rest_generate_with_a_preset_frames_the_generated_scene(host) -> None:
    photo, keep = photo_and_mask()
    request = {**HARD, "preset": "square-shop"}
    answer = post(host.client(), "generate", body(host, photo, keep, request))
    info = answer["info"]
    assert info["generated"] is True
    assert info["formats"] == ["png"]
    out = np.asarray(host.decode(answer["images"][0]))
    assert out.shape == (120, 120, 3)  # the preset's canvas
    (framing,) = info["framing"]
    assert framing["scale"] == 1.5
    assert "Lanczos" in framing["described"]  # scaled: said, not hidden
    assert info["compliance"][0]["preset"] == "square-shop"
    assert info["kept"][0]["exact"] is True  # the composite before framing kept every pixel
    assert np.asarray(host.decode(answer["alpha"])).shape[:2] == keep.shape  # the photo's matte
    assert 'Garment Studio compliance: "square-shop warn (1/2); failed: zoom"' in info["infotexts"][0]


# -- the always-on section and the img2img script ----------------------------------------------------------------


def img2img_body(host, photo, painted, settings) -> dict:
    return {
        "init_images": [host.b64(photo)],
        "mask": host.b64(painted),
        "inpainting_mask_invert": 1,
        "prompt": "a shirt",
        "steps": 2,
        "width": 64,
        "height": 64,
        "seed": 3,
        "denoising_strength": 1.0,
        "alwayson_scripts": {"garment studio": {"args": [True, settings]}},
    }


def test_always_on_img2img_frames_the_output_and_writes_the_compliance_line(host) -> None:
    photo, painted = photo_and_mask()
    settings = {"control": WEIGHT_FREE, "segment": {"matte": "none"}, "preset": "square-shop"}
    response = host.client().post("/sdapi/v1/img2img", json=img2img_body(host, photo, painted, settings))
    assert response.status_code == 200, response.text
    answer = response.json()
    out = np.asarray(host.decode(answer["images"][0]))
    assert out.shape == (120, 120, 3)  # framed on the preset's canvas
    infotext = json.loads(answer["info"])["infotexts"][0]
    params = engine("modules.infotext_utils").parse_generation_parameters(infotext)
    assert params["Garment Studio compliance"] == "square-shop warn (1/2); failed: zoom"
    assert "identical to the photo" in params["Garment Studio kept"]


def test_the_img2img_script_puts_the_product_on_the_plain_colour_after_the_generation(host) -> None:
    photo, painted = photo_and_mask()
    body = img2img_body(host, photo, painted, {})
    body["alwayson_scripts"] = {}
    settings = {"segment": {"matte": "none"}, "output": {"background": "#203040"}}
    response = host.client().post(
        "/sdapi/v1/img2img", json={**body, "script_name": "garment studio", "script_args": [settings]}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    out = np.asarray(host.decode(answer["images"][0]))
    keep = painted == 255
    assert out.shape == photo.shape  # no preset: the photo's size
    assert np.array_equal(out[keep], photo[keep])
    assert np.all(out[~keep] == (0x20, 0x30, 0x40))  # the generated scene replaced by exactly that colour
    info = json.loads(answer["info"])
    params = engine("modules.infotext_utils").parse_generation_parameters(info["infotexts"][0])
    assert params["Garment Studio background"] == (
        "plain #203040, no shadow (replaces the generated scene; the tab and /generate skip the generation)"
    )
    assert "Garment Studio compliance" not in params
    assert host.controlnet_script("img2img").history[-1] == []  # no units for a scene that is thrown away


def test_txt2img_refuses_a_preset(host) -> None:
    response = host.client().post(
        "/sdapi/v1/txt2img",
        json={
            "prompt": "x",
            "steps": 2,
            "width": 64,
            "height": 64,
            "alwayson_scripts": {"garment studio": {"args": [True, {"preset": "png-shop", "control": []}]}},
        },
    )
    message = json.loads(response.json()["info"])["extra_generation_params"]["Garment Studio error"]
    assert "txt2img keeps no product" in message


# -- the tab ---------------------------------------------------------------------------------------------------


def tab_inputs(tab: Any, photo: np.ndarray, painted: np.ndarray, **values: Any) -> Any:
    import gradio

    if int(gradio.__version__.split(".")[0]) >= 4:
        layer = np.zeros((*photo.shape[:2], 4), np.uint8)
        layer[painted] = (34, 197, 94, 255)
        editor = {
            "background": Image.fromarray(photo).convert("RGBA"),
            "layers": [Image.fromarray(layer, "RGBA")],
            "composite": None,
        }
    else:
        gray = (painted * 255).astype(np.uint8)
        editor = {"image": Image.fromarray(photo), "mask": Image.fromarray(np.stack([gray] * 3, axis=2), "RGB")}
    fields = {
        "photo": editor,
        "units": ["mask_canny", "canny"],
        "matte": "none",
        "prompt": "a shirt",
        "sampler": "Euler a",
        "steps": 2,
        **values,
    }
    return tab.TabInputs(**fields)


@pytest.fixture
def tab(host):
    host.create_ui()
    host.tab = importlib.import_module("lib_garment.host.ui.tab_handlers")
    return host


def test_the_tab_offers_the_presets_backgrounds_and_shadows(tab) -> None:
    layout = importlib.import_module("lib_garment.host.ui.tab_layout")
    choices = layout.preset_choices()
    assert choices[0] == "none"
    assert {"amazon-main", "png-shop"} <= set(choices)
    inputs = importlib.import_module("lib_garment.host.ui.tab_inputs")
    assert {"preset", "background", "background_colour", "shadow"} <= set(inputs.INPUT_NAMES)
    request = tab.tab.build_request(
        tab_inputs(
            tab.tab, *amazon_photo_painted(), preset="png-shop", background="custom", background_colour="#ABCDEF"
        )
    )
    assert (request.preset, request.output.background, request.output.shadow) == ("png-shop", "#ABCDEF", None)
    result = tab.tab.run_generate(tab_inputs(tab.tab, *amazon_photo_painted(), background="custom"))
    assert result.errors == ['background: custom needs a colour "#RRGGBB" in the colour box (e.g. #F5F5F5)']


def amazon_photo_painted() -> tuple[np.ndarray, np.ndarray]:
    photo, keep = amazon_photo()
    return photo, keep == 255


def test_the_tabs_generate_with_a_preset_shows_the_table_and_saves_the_checked_file(tab, monkeypatch) -> None:
    generations = record_generations(tab, monkeypatch)
    photo, painted = amazon_photo_painted()
    result = tab.tab.run_generate(tab_inputs(tab.tab, photo, painted, preset="amazon-main", background="white"))
    assert result.errors == []
    assert generations == []  # a plain background: no diffusion
    deliver = engine("lib_garment.presets.deliver")
    parse = engine("lib_garment.request").parse_request
    request = parse({"preset": "amazon-main", "output": {"background": "white"}})
    direct = deliver.deliver(photo, None, painted.astype(np.float32), request, models_dir=tab.models)
    assert result.reports == [deliver.report_markdown(direct.report)]  # the engine's report, word for word
    text = result.report_text()
    assert "| rule | severity | result | measured | source |" in text
    assert "| background-pure-white | required | pass |" in text
    assert "- **longest-side-zoom** fails (recommended min_longest_side rule" in text  # the failing rule in words
    (path,) = result.files
    assert Path(path).suffix == ".png"
    assert Path(path).read_bytes() == direct.encoded.data
    (image, caption) = result.results[0]
    assert caption == "photo"
    assert np.array_equal(np.asarray(image), direct.image)
    assert direct.compliance_line() in result.infotexts[0]
    assert "Garment Studio compliance: " in result.infotexts[0]


def test_the_tabs_generate_frames_a_generated_result(tab) -> None:
    photo, keep = photo_and_mask()
    result = tab.tab.run_generate(tab_inputs(tab.tab, photo, keep == 255, preset="square-shop", seed=3))
    assert result.errors == []
    (image, _), (overlay, _) = result.results[0], result.overlays[0]
    assert np.asarray(image).shape == (120, 120, 3)  # framed on the preset's canvas
    assert np.asarray(overlay).shape == (120, 120, 3)
    assert result.kept[0] == (
        "photo: 1600 kept pixels, identical to the photo; framed on square-shop's canvas, scaled ×1.50, Lanczos"
    )
    assert result.infotexts[0].count("Garment Studio compliance: ") == 1
    assert result.reports[0].startswith("**square-shop: warn** (1 of 2 rules pass)")
    assert len(tab.controlnet_script("img2img").history) == 1  # generated once, then framed
