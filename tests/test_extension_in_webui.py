"""The extension as the WebUI loads it, in the host double (AUTOMATIC1111 1.10.1 and Forge flavours).

host-contract.md §1 (loading), §3.1–3.2 (always-on slots, REST placement), §4 (tabs); the same checks ran
against the real WebUI and Forge (see the issue notes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
TXT2IMG = {"prompt": "a shirt", "steps": 2, "width": 64, "height": 64, "seed": 1}


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    any_webui.install_extension(ROOT, EXT_NAME)
    any_webui.load_scripts()
    return any_webui


def post_txt2img(client, args: list) -> dict:
    response = client.post(
        "/sdapi/v1/txt2img", json={**TXT2IMG, "alwayson_scripts": {"garment studio": {"args": args}}}
    )
    assert response.status_code == 200, response.text
    return response.json()


def infotext(body: dict) -> str:
    return json.loads(body["info"])["infotexts"][0]


MODEL_TASK = {"task": "model", "control": []}  # txt2img without units: nothing to generate from, only recorded
RECORDED = 'Garment Studio: "{\\"control\\":[],\\"task\\":\\"model\\"}"'  # the request, quoted JSON


def test_always_on_section_in_both_tabs_with_its_slots(host) -> None:
    # img2img: the enable flag and the settings; txt2img also the reference photo and its keep mask (slots
    # 3 and 4 default to None, so REST callers sending [enabled, settings] are unaffected)
    for tab, slots in (("txt2img", 4), ("img2img", 2)):
        host.create_ui()
        script = host.find_script("Garment Studio", tab)
        assert script is not None, f"not registered on {tab}"
        assert script in host.runner(tab).alwayson_scripts
        assert script.args_to - script.args_from == slots
    assert Path(script.filename).name == "garment_studio.py"


def test_rest_lists_the_script_for_txt2img_and_img2img(host) -> None:
    scripts = host.client().get("/sdapi/v1/scripts").json()
    assert "garment studio" in scripts["txt2img"]
    assert "garment studio" in scripts["img2img"]


def test_disabled_call_succeeds_and_leaves_no_trace(host) -> None:
    body = post_txt2img(host.client(), [False, {}])
    assert len(body["images"]) == 1
    assert "Garment Studio" not in infotext(body)
    assert host.error_messages == []


def test_enabled_call_validates_settings_and_records_them(host) -> None:
    body = post_txt2img(host.client(), [True, MODEL_TASK])
    assert RECORDED in infotext(body)


def test_a_lone_settings_dict_counts_as_enabled(host) -> None:
    body = post_txt2img(host.client(), [MODEL_TASK])
    assert RECORDED in infotext(body)


def test_bad_settings_are_named_in_the_infotext_not_swallowed_as_a_traceback(host, capsys) -> None:
    body = post_txt2img(host.client(), [True, {"taks": "model"}])
    text = infotext(body)
    assert "Garment Studio error" in text
    assert "taks: unknown field" in text
    assert host.error_messages == []  # handled by us, not an exception the host had to swallow
    assert "[Garment Studio] invalid Garment Studio request: taks" in capsys.readouterr().err


def test_extra_rest_arguments_are_truncated_to_the_slots(host) -> None:
    body = post_txt2img(host.client(), [True, MODEL_TASK, None, None, "ignored", 42])
    assert RECORDED in infotext(body)
    assert "Garment Studio error" not in infotext(body)


@pytest.mark.parametrize("flag", ["true", 1, None])
def test_an_enable_flag_that_is_not_a_boolean_is_an_error(host, flag, capsys) -> None:
    body = post_txt2img(host.client(), [flag, MODEL_TASK])
    assert body["images"] == []  # stopped, not silently switched off
    message = json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]
    assert f"the first argument (enable) must be true or false, got {type(flag).__name__} {flag!r}" in message
    assert "must be true or false" in capsys.readouterr().err  # and in the console


def test_the_third_txt2img_argument_must_be_an_image(host) -> None:
    body = post_txt2img(host.client(), [True, {"task": "model", "control": [{"kind": "canny"}]}, "not base64!"])
    assert "reference_image: not valid base64" in infotext(body)


def test_ui_generate_path_passes_the_same_arguments(host) -> None:
    processed = host.txt2img(values={"Garment Studio": [True, MODEL_TASK]}, **TXT2IMG)
    assert RECORDED in processed.infotexts[0]


def test_ui_defaults_leave_generation_untouched(host) -> None:
    processed = host.txt2img(**TXT2IMG)
    assert "Garment Studio" not in processed.infotexts[0]


def test_the_tab_is_registered(host) -> None:
    tabs = host.run_ui_tabs()
    ours = [t for t in tabs if t[1] == "Garment Studio"]
    assert len(ours) == 1
    blocks, _, elem_id = ours[0]
    assert elem_id == "garment_studio"
    assert type(blocks).__name__ == "Blocks"


def test_a_broken_dependency_shows_an_error_tab_instead_of_vanishing(any_webui, fresh_engine_modules, capsys):
    ext = any_webui.install_extension(ROOT, EXT_NAME)
    (ext / "lib_garment" / "request.py").write_text("raise ImportError(\"No module named 'cv2'\")\n")
    any_webui.load_scripts()
    assert any_webui.error_messages == []  # nothing raised at load time
    assert any_webui.find_script("Garment Studio") is None
    tabs = [t for t in any_webui.run_ui_tabs() if t[1] == "Garment Studio"]
    assert len(tabs) == 1
    assert "No module named 'cv2'" in capsys.readouterr().err
