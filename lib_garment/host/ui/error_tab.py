"""The tab shown when Garment Studio failed to load: it says why instead of vanishing.

Depends on nothing else in lib_garment, so it still works when the rest could not be imported.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

TAB_TITLE = "Garment Studio"
TAB_ID = "garment_studio"


def build_error_tab(error: BaseException) -> gr.Blocks:
    # Shown inside a Markdown code span, which escapes HTML itself; only a backtick could break out of it.
    detail = f"{type(error).__name__}: {error}".replace("`", "'")
    with gr.Blocks(analytics_enabled=False) as block:
        gr.Markdown(
            "## Garment Studio could not start\n\n"
            f"`{detail}`\n\nRestart the WebUI so that the extension's install.py can add missing packages, "
            "or run `python -m lib_garment doctor` in the extension folder with the WebUI's Python for details.",
            elem_id="garment_studio_error",
        )
    return block


def _tabs(error: BaseException) -> list[tuple[object, str, str]]:
    return [(build_error_tab(error), TAB_TITLE, TAB_ID)]


def register_error_tab(error: BaseException) -> None:
    from modules import script_callbacks  # deferred: the builder above is also used outside the WebUI

    script_callbacks.on_ui_tabs(partial(_tabs, error))
