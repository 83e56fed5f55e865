"""Registration with the WebUI's callbacks: the tab, the settings section, and cleanup on Reload UI."""

from __future__ import annotations

from modules import paths, script_callbacks

from lib_garment.host.passes.catalogue_runs import RUNS
from lib_garment.host.rest.routes import register_routes
from lib_garment.host.ui.error_tab import TAB_ID, TAB_TITLE
from lib_garment.host.ui.status_tab import build_status_tab, status_markdown
from lib_garment.host.webui.messages import warn
from lib_garment.host.webui.settings import current_settings, register_settings
from lib_garment.runtime import close_all


def _webui_status() -> str:
    return status_markdown(models_dir=str(current_settings().models_root()), webui_dir=paths.script_path)


def _tabs() -> list[tuple[object, str, str]]:
    """The workflow tab; if it cannot be built, the environment panel alone, so the tab still says what is wrong."""
    try:
        from lib_garment.host.ui.tab_layout import build_tab

        return [(build_tab(_webui_status), TAB_TITLE, TAB_ID)]
    except Exception as err:  # noqa: BLE001 - a tab that says why beats a vanished tab
        warn(f"the Garment Studio tab could not be built: {type(err).__name__}: {err}")
        return [(build_status_tab(_webui_status), TAB_TITLE, TAB_ID)]


def _on_script_unloaded() -> None:
    # Catalogue runs first: their threads would otherwise go on with the code the reload replaces. Each stops
    # after its running job and can be resumed.
    try:
        RUNS.stop_all()
    except Exception as err:  # noqa: BLE001 - the reload must go on
        warn(f"could not stop the catalogue runs: {type(err).__name__}: {err}")
    # Reload UI re-imports the scripts but not lib_garment: without this the model worker (and its GPU
    # memory) would outlive the UI that started it. The next job starts a fresh one.
    try:
        close_all()
    except Exception as err:  # noqa: BLE001 - the reload must go on
        warn(f"could not stop the model worker: {type(err).__name__}: {err}")


def register() -> None:
    script_callbacks.on_ui_settings(register_settings)
    script_callbacks.on_ui_tabs(_tabs)
    script_callbacks.on_script_unloaded(_on_script_unloaded)
    script_callbacks.on_app_started(register_routes)  # REST: /garment-studio/v1/... (host/rest/routes.py)
