"""The Garment Studio tab in a real browser (Debian chromium + playwright) against a real gradio server."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest

gr = pytest.importorskip("gradio")
from playwright.sync_api import sync_playwright  # noqa: E402 - after the gradio check

from lib_garment.host.ui.error_tab import build_error_tab  # noqa: E402
from lib_garment.host.ui.status_tab import build_status_tab, status_markdown  # noqa: E402

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
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve() -> Iterator:
    launched = []

    def _serve(block: object) -> str:
        port = free_port()
        block.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        launched.append(block)
        return f"http://127.0.0.1:{port}/"

    yield _serve
    for block in launched:
        block.close()


@pytest.fixture
def page() -> Iterator:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser.new_page()
        browser.close()


def test_status_panel_renders_and_refreshes(serve, page) -> None:
    calls = []

    def status() -> str:
        calls.append(1)
        return status_markdown() + f"\n\nrefresh number {len(calls)}"

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(serve(build_status_tab(status)))
    panel = page.locator("#garment_studio_status").last
    panel.wait_for(state="visible", timeout=30_000)
    assert "Model runtimes" in panel.inner_text()
    assert "refresh number 1" in panel.inner_text()
    page.locator("#garment_studio_refresh").last.click()
    page.wait_for_function("document.body.innerText.includes('refresh number 2')", timeout=30_000)
    assert errors == []


def test_error_tab_says_why(serve, page) -> None:
    page.goto(serve(build_error_tab(ImportError("No module named 'cv2'"))))
    message = page.locator("#garment_studio_error").last
    message.wait_for(state="visible", timeout=30_000)
    assert "No module named 'cv2'" in message.inner_text()
    assert "doctor" in message.inner_text()
