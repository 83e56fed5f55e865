"""Registration with the WebUI's callbacks: the tab (and, later, settings and REST routes)."""

from __future__ import annotations

from modules import paths, script_callbacks

from lib_garment.host.error_tab import TAB_ID, TAB_TITLE
from lib_garment.host.status_tab import build_tab, status_markdown


def _webui_status() -> str:
    return status_markdown(models_dir=paths.models_path, webui_dir=paths.script_path)


def register() -> None:
    script_callbacks.on_ui_tabs(lambda: [(build_tab(_webui_status), TAB_TITLE, TAB_ID)])
