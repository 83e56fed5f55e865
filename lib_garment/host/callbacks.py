"""Registration with the WebUI's callbacks: the tab, the settings section, and cleanup on Reload UI."""

from __future__ import annotations

from modules import paths, script_callbacks

from lib_garment.host.error_tab import TAB_ID, TAB_TITLE
from lib_garment.host.messages import warn
from lib_garment.host.settings import current_settings, register_settings
from lib_garment.host.status_tab import build_tab, status_markdown
from lib_garment.runtime import close_all


def _webui_status() -> str:
    return status_markdown(models_dir=str(current_settings().models_root()), webui_dir=paths.script_path)


def _on_script_unloaded() -> None:
    # Reload UI re-imports the scripts but not lib_garment: without this the model worker (and its GPU
    # memory) would outlive the UI that started it. The next job starts a fresh one.
    try:
        close_all()
    except Exception as err:  # noqa: BLE001 - the reload must go on
        warn(f"could not stop the model worker: {type(err).__name__}: {err}")


def register() -> None:
    script_callbacks.on_ui_settings(register_settings)
    script_callbacks.on_ui_tabs(lambda: [(build_tab(_webui_status), TAB_TITLE, TAB_ID)])
    script_callbacks.on_script_unloaded(_on_script_unloaded)
