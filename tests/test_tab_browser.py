"""The Garment Studio tab in a real browser (Debian chromium + playwright) against a real gradio server: the host
double's UI with the extension installed, so Preview and Generate run the engine and the double's processing.

One server and one page for the module; the test walks the workflow a user does: photo, mask, units, Preview,
a painted stroke, Generate. The editor is gradio 3's sketch tool or gradio 4's ImageEditor (whichever gradio
runs), and the values the browser sends go through the same handlers as in the WebUI.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")
from playwright.sync_api import Locator, Page, sync_playwright  # noqa: E402 - after the gradio check

from tests.host_double.host import WebUIDouble  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GRADIO_4 = int(gr.__version__.split(".")[0]) >= 4
TIMEOUT = 60_000
# Offline: gradio's page asks Google for its fonts; nothing of ours
OFFLINE_NOISE = re.compile(r"ERR_NAME_NOT_RESOLVED|fonts\.googleapis\.com|ERR_INTERNET_DISCONNECTED")
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (160, 192, 3), dtype=np.uint8)
    mask = np.zeros((160, 192), np.uint8)
    mask[40:120, 60:140] = 255  # 80 x 80 = 6400 pixels
    Image.fromarray(photo).save(folder / "photo.png")
    Image.fromarray(mask).save(folder / "mask.png")
    return {"photo": folder / "photo.png", "mask": folder / "mask.png"}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The double's whole UI (its img2img runner with ControlNet, then the extension's tab) on a real server."""
    saved = {k: v for k, v in sys.modules.items() if k == "lib_garment" or k.startswith("lib_garment.")}
    for key in saved:  # the WebUI imports the installed copy
        del sys.modules[key]
    host = WebUIDouble(tmp_path_factory.mktemp("webui"), flavour="forge" if GRADIO_4 else "a1111").start()
    demo = None
    try:
        host.install_controlnet(models=("control_v11p_sd15_canny",))
        host.install_extension(ROOT, "garment-studio")
        host.load_scripts()
        demo = host.create_ui()
        port = free_port()
        demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if demo is not None:
            demo.close()
        host.close()
        for key in [k for k in sys.modules if k == "lib_garment" or k.startswith("lib_garment.")]:
            del sys.modules[key]
        sys.modules.update(saved)


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[tuple[Page, list[str]]]:
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url, timeout=TIMEOUT)
        page.add_script_tag(path=str(ROOT / "javascript" / "garment_studio.js"))  # a <script>, as the WebUI adds it
        page.locator("#tabs .tab-nav button", has_text="Garment Studio").first.click(timeout=TIMEOUT)
        page.locator("#garment_studio_preview").first.wait_for(state="visible", timeout=TIMEOUT)
        yield page, errors
        browser.close()


def visible(page: Page, selector: str) -> Locator:
    """gradio 3 repeats an elem_id on nested elements; the outermost is the component."""
    return page.locator(selector).first


def open_accordion(page: Page, title: str) -> None:
    page.get_by_text(title, exact=True).first.click()


def tick(page: Page, group: str, label: str, checked: bool) -> None:
    box = page.locator(f"#{group} label").filter(has_text=re.compile(rf"^\s*{label}\s*$")).locator("input").first
    box.set_checked(checked)


def paint_stroke(page: Page) -> None:
    """One brush stroke near the top of the editor's canvas, above the uploaded mask (gradio 4 opens the brush's
    colour and size panel over the middle of the canvas)."""
    editor = visible(page, "#garment_studio_photo")
    editor.scroll_into_view_if_needed()  # mouse coordinates are the viewport's
    if GRADIO_4:
        editor.locator("button[aria-label='Draw button']").first.click()
    canvases = editor.locator("canvas")
    boxes = [canvases.nth(i).bounding_box() for i in range(canvases.count())]
    box = max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])
    x, y = box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] * 0.15, y, steps=8)
    page.mouse.up()


def thumbnails(page: Page, elem_id: str) -> int:
    return page.locator(f"#{elem_id} .thumbnail-item").count()


def test_bad_input_is_a_message_in_the_tab(page) -> None:
    """Runs first, on the fresh page: Preview with no photo says what to do, and nothing runs."""
    page, errors = page
    visible(page, "#garment_studio_preview").click()
    error = page.locator("#garment_studio_message .garment-studio-error").first
    error.wait_for(timeout=TIMEOUT)
    assert "upload a photo first" in error.inner_text()
    assert [e for e in errors if not OFFLINE_NOISE.search(e)] == []


def test_preview_then_generate_in_the_browser(page, files) -> None:
    page, errors = page
    visible(page, "#garment_studio_photo input[type=file]").set_input_files(str(files["photo"]))
    open_accordion(page, "Uploaded mask and more photos")
    visible(page, "#garment_studio_mask_upload input[type=file]").set_input_files(str(files["mask"]))
    tick(page, "garment_studio_units", "normal", False)  # the depth model is not on this machine
    tick(page, "garment_studio_units", "canny", True)
    open_accordion(page, "Segmentation and ControlNet")
    page.locator("#garment_studio_matte label").filter(has_text=re.compile(r"^\s*none\s*$")).first.click()
    visible(page, "#garment_studio_prompt textarea").fill("a linen shirt on a beach")

    visible(page, "#garment_studio_preview").click()
    summary = visible(page, "#garment_studio_summary")
    summary.get_by_text("6400 kept pixels").wait_for(timeout=TIMEOUT)
    assert "mask from your mask" in summary.inner_text()
    assert "units: mask_canny 1, canny 1" in summary.inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('#garment_studio_maps .thumbnail-item img').length >= 6", timeout=TIMEOUT
    )  # overlay, mask, alpha, inpaint mask, mask_canny map, canny map

    paint_stroke(page)  # added to the uploaded mask
    visible(page, "#garment_studio_generate").click()
    kept = visible(page, "#garment_studio_kept")
    kept.get_by_text("identical to the photo").wait_for(timeout=TIMEOUT)
    count = int(re.search(r"photo: (\d+) kept pixels, identical to the photo", kept.inner_text()).group(1))
    assert count > 6400  # the painted stroke counts too
    assert thumbnails(page, "garment_studio_results_gallery") == 1
    assert thumbnails(page, "garment_studio_kept_overlays") == 1
    assert visible(page, "#garment_studio_files").get_by_text(re.compile(r"\.png")).count() >= 1
    message = visible(page, "#garment_studio_message").inner_text()
    assert "Time taken" in message  # the WebUI's wrapper ran; no error line
    assert not page.locator("#garment_studio_message .garment-studio-error").count()
    assert [e for e in errors if not OFFLINE_NOISE.search(e)] == []


def test_pasting_an_infotext_restores_the_txt2img_section(page) -> None:
    """The WebUI's paste button (the double wires it as the WebUI does) fills the always-on section: the settings
    JSON and the task and phrase widgets take the pasted request (a gr.State would not take it)."""
    page, errors = page
    page.locator("#tabs .tab-nav button", has_text="txt2img").first.click()
    recorded = json.dumps({"segment": {"phrases": "red dress"}, "task": "model"}, separators=(",", ":"))
    infotext = f"a model\nSteps: 2, Sampler: Euler a, Seed: 5, Garment Studio: {json.dumps(recorded)}"
    visible(page, "#txt2img_prompt textarea").fill(infotext)
    visible(page, "#tab_txt2img #paste").click()
    section = "#script_txt2img_garment_studio"
    page.wait_for_function(
        f"() => (document.querySelector('{section}_phrases textarea') || {{}}).value === 'red dress'", timeout=TIMEOUT
    )
    settings = page.locator(f"{section}_settings textarea").first.input_value()
    assert json.loads(settings) == {"segment": {"phrases": "red dress"}, "task": "model"}
    assert page.locator(f"{section}_task input[value='model']").first.is_checked()
    assert [e for e in errors if not OFFLINE_NOISE.search(e)] == []
