"""The double's REST API and start-up callbacks (host-contract §3.2 "REST path", §4, §1 "Command-line flags")."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from fastapi.exceptions import HTTPException
from PIL import Image

from tests.host_double import examples

PROBE = """
import gradio as gr
from modules import scripts


class Probe(scripts.Script):
    def __init__(self):
        self.seen = []

    def title(self):
        return "Probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return [gr.Checkbox(value=False, label="Probe enabled"), gr.State({"default": True})]

    def process(self, p, *args):
        self.seen.append({
            "args": args,
            "type": type(p.script_args).__name__,
            "is_api": p.is_api,
            "no_samples": p.do_not_save_samples,
            "no_grid": p.do_not_save_grid,
            "image_mask": getattr(p, "image_mask", None),
            "init_images": getattr(p, "init_images", None),
        })
"""

ROUTES = """
from fastapi import FastAPI
from modules import script_callbacks

SEEN = []


def started(demo, app: FastAPI):
    SEEN.append(demo)

    @app.get("/probe/v1/ping")
    def ping():
        return {"demo_is_none": demo is None}


def tabs():
    import gradio as gr

    with gr.Blocks(analytics_enabled=False) as ui:
        gr.Markdown("probe tab")
    return [(ui, "Probe Tab", "probe_tab")]


script_callbacks.on_app_started(started)
script_callbacks.on_ui_tabs(tabs)
"""


@pytest.fixture
def probe_client(webui):
    webui.write_extension("a-probe", {"scripts/probe.py": PROBE})
    webui.write_extension("b-select", {"scripts/picker.py": examples.SELECTABLE})
    return webui.client()


def _probe_seen(webui, tab="txt2img"):
    return webui.find_script("probe", tab).seen[-1]


def _txt2img(client, **body):
    body = {"prompt": "p", "width": 16, "height": 16, **body}
    return client.post("/sdapi/v1/txt2img", json=body)


def test_alwayson_args_are_laid_over_the_defaults_positionally(webui, probe_client):
    """§3.2: alwayson_scripts[name]["args"] fill the script's slots from the start; the key matches the
    lowercased title; dict arguments arrive as dicts."""
    response = _txt2img(probe_client, alwayson_scripts={"PROBE": {"args": [True, {"a": 1}]}})
    assert response.status_code == 200
    seen = _probe_seen(webui)
    assert seen["args"] == (True, {"a": 1})
    assert seen["is_api"] is True
    assert seen["no_samples"] is True
    assert seen["no_grid"] is True


def test_missing_args_keep_the_ui_defaults_and_extra_args_are_dropped(webui, probe_client):
    """§3.2: a request without args (or a short list) keeps the ui() defaults; args beyond the slot count are
    silently dropped."""
    assert _txt2img(probe_client, alwayson_scripts={"probe": {}}).status_code == 200
    assert _probe_seen(webui)["args"] == (False, {"default": True})
    assert _txt2img(probe_client, alwayson_scripts={"probe": {"args": [True]}}).status_code == 200
    assert _probe_seen(webui)["args"] == (True, {"default": True})
    assert _txt2img(probe_client, alwayson_scripts={"probe": {"args": [True, {}, "extra", 4]}}).status_code == 200
    assert _probe_seen(webui)["args"] == (True, {})


def test_default_state_objects_are_shared_between_requests(webui, probe_client):
    """§5b: defaults are built once and copied shallowly, so a default gr.State dict is the same object in
    every request that does not override it."""
    _txt2img(probe_client)
    first = _probe_seen(webui)["args"][1]
    _txt2img(probe_client)
    assert _probe_seen(webui)["args"][1] is first


def test_alwayson_only_runs_get_a_tuple_selectable_runs_a_list(webui, probe_client):
    """§3.2: p.script_args is a tuple for alwayson-only runs and a list when script_name selects a script,
    whose script_args fill its slots and set slot 0 to its index + 1."""
    _txt2img(probe_client)
    assert _probe_seen(webui)["type"] == "tuple"
    response = _txt2img(probe_client, script_name="picker", script_args=[7, "hat"])
    assert response.status_code == 200
    assert _probe_seen(webui)["type"] == "list"
    assert webui.find_script("picker").received == (7, "hat", "list")


@pytest.mark.parametrize(
    ("alwayson", "detail"),
    [
        ({"nope": {"args": []}}, "Script 'nope' not found"),
        ({"picker": {"args": [1]}}, "Cannot have a selectable script in the always on scripts params"),
    ],
)
def test_unknown_or_selectable_alwayson_names_give_422(probe_client, alwayson, detail):
    """§3.2: an unknown script name, or a selectable script named in alwayson_scripts, is HTTP 422."""
    response = _txt2img(probe_client, alwayson_scripts=alwayson)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_unknown_selectable_script_name_gives_422(probe_client):
    """§3.2: script_name is looked up among the selectable scripts only."""
    assert _txt2img(probe_client, script_name="probe").status_code == 422


def test_scripts_without_ui_are_not_listed_and_get_no_args(webui):
    """harness README / §3.2: a script whose ui() returns nothing gets no name (not in /sdapi/v1/scripts) and no
    slots, so args sent for it are dropped."""
    webui.write_extension("silent", {"scripts/silent.py": examples.NO_UI})
    webui.write_extension("probe", {"scripts/probe.py": PROBE})
    client = webui.client()
    listed = client.get("/sdapi/v1/scripts").json()
    assert listed == {"txt2img": ["probe"], "img2img": ["probe"]}
    assert _txt2img(client, alwayson_scripts={"silent": {"args": [1, 2]}}).status_code == 200
    assert webui.find_script("silent").process_args == ()


def test_script_info_lists_args_with_defaults(probe_client):
    """§3.1: api_info (label, value per control) is served at /sdapi/v1/script-info."""
    info = probe_client.get("/sdapi/v1/script-info").json()
    probe = next(i for i in info if i["name"] == "probe" and not i["is_img2img"])
    assert probe["is_alwayson"] is True
    assert [(a["label"], a["value"]) for a in probe["args"]] == [("Probe enabled", False), ("", {"default": True})]
    picker = next(i for i in info if i["name"] == "picker" and i["is_img2img"])
    assert picker["args"][0]["minimum"] == 0
    assert picker["args"][0]["maximum"] == 10


def test_response_images_are_bare_base64_and_info_is_json(probe_client):
    """§4 "Images in /sdapi": base64 PNG without a data-URL prefix; info is the JSON of Processed.js()."""
    body = _txt2img(probe_client, seed=3, batch_size=2).json()
    assert len(body["images"]) == 2  # no grid through the API
    image = Image.open(io.BytesIO(base64.b64decode(body["images"][0])))
    assert image.size == (16, 16)
    info = json.loads(body["info"])
    assert info["all_seeds"] == [3, 4]
    assert len(info["infotexts"]) == 2
    assert body["parameters"]["prompt"] == "p"
    assert image.info["parameters"] == info["infotexts"][0]


def test_img2img_request_decodes_images_and_mask(webui, probe_client):
    """§4: init_images may be data URLs or bare base64; the mask becomes p.image_mask; 404 without init images."""
    init = webui.b64(np.full((16, 16, 3), 90, np.uint8), data_url=True)
    mask = webui.b64(np.full((16, 16), 255, np.uint8))
    response = probe_client.post(
        "/sdapi/v1/img2img", json={"init_images": [init], "mask": mask, "width": 16, "height": 16, "mask_blur": 0}
    )
    assert response.status_code == 200
    seen = _probe_seen(webui, "img2img")
    assert seen["image_mask"].size == (16, 16)
    assert np.asarray(seen["init_images"][0]).mean() == 90
    assert probe_client.post("/sdapi/v1/img2img", json={"prompt": "x"}).status_code == 404


def test_codecs(webui):
    """§4: decode_base64_to_image takes bare base64 and data URLs; encode_pil_to_base64 returns bytes."""
    api = webui.module("api.api")
    image = Image.new("RGB", (3, 2), (1, 2, 3))
    encoded = api.encode_pil_to_base64(image)
    assert isinstance(encoded, bytes)
    assert api.decode_base64_to_image(encoded.decode()).getpixel((0, 0)) == (1, 2, 3)
    assert api.decode_base64_to_image("data:image/png;base64," + encoded.decode()).size == (3, 2)
    with pytest.raises(HTTPException) as excinfo:
        api.decode_base64_to_image("not an image")
    assert (excinfo.value.status_code, excinfo.value.detail) == (500, "Invalid encoded image")


def test_ui_mode_app_started_gets_the_demo_and_extension_tabs_render(webui):
    """§4: on_app_started(demo, app) gets the gr.Blocks in UI mode; on_ui_tabs tabs are part of the UI."""
    webui.write_extension("routes", {"scripts/routes.py": ROUTES})
    client = webui.client()
    assert client.get("/probe/v1/ping").json() == {"demo_is_none": False}
    assert "Probe Tab" in webui.shared.tab_names
    assert webui.demo is not None


def test_nowebui_app_started_gets_none(webui):
    """§1 --nowebui: app_started(None, app); the API still builds the script UIs so args_from/args_to exist."""
    webui.write_extension("routes", {"scripts/routes.py": ROUTES})
    webui.write_extension("probe", {"scripts/probe.py": PROBE})
    client = webui.client(nowebui=True)
    assert client.get("/probe/v1/ping").json() == {"demo_is_none": True}
    assert webui.shared.cmd_opts.nowebui is True
    assert webui.find_script("probe").args_from == 1


def test_api_auth_protects_sdapi_but_not_extension_routes(make_webui):
    """§4 "Auth and locking": --api-auth guards /sdapi routes only; routes added on the app by extensions are
    open."""
    host = make_webui("a1111", cmd_args=["--api-auth", "user:secret"])
    host.write_extension("routes", {"scripts/routes.py": ROUTES})
    client = host.client()
    assert client.get("/sdapi/v1/scripts").status_code == 401
    assert client.get("/sdapi/v1/scripts", auth=("user", "secret")).status_code == 200
    assert client.get("/probe/v1/ping").status_code == 200


def test_a_hook_error_does_not_fail_the_request(webui):
    """§3.3/§11.7: hook exceptions are swallowed by the host, so REST callers still get HTTP 200."""
    webui.write_extension("bad", {"scripts/bad.py": examples.recorder("Bad", fail_in=("process",))})
    response = _txt2img(webui.client(), alwayson_scripts={"bad": {"args": [True]}})
    assert response.status_code == 200
    assert any(m.startswith("Error running process:") for m in webui.error_messages)


def test_unknown_sampler_is_400(probe_client):
    """§4 request model: the sampler is validated (old "name + scheduler" spellings are split)."""
    assert _txt2img(probe_client, sampler_name="DPM++ 2M Karras").status_code == 200
    assert _txt2img(probe_client, sampler_name="nonsense").status_code == 400


def test_callbacks_can_be_run_alone(webui):
    """§4: ui_tabs / app_started callbacks can be driven without the full start-up (API-only style)."""
    webui.write_extension("routes", {"scripts/routes.py": ROUTES})
    tabs = webui.run_ui_tabs()
    assert [(label, elem_id) for _blocks, label, elem_id in tabs] == [("Probe Tab", "probe_tab")]
    app = webui.run_app_started()
    from fastapi.testclient import TestClient

    assert TestClient(app).get("/probe/v1/ping").json() == {"demo_is_none": True}
