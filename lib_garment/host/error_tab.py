"""The tab shown when Garment Studio failed to load: it says why instead of vanishing.

Depends on nothing else in lib_garment, so it still works when the rest could not be imported.
"""

from __future__ import annotations

import html
from functools import partial

import gradio as gr
from modules import script_callbacks

TAB_TITLE = "Garment Studio"
TAB_ID = "garment_studio"


def build_error_tab(error: BaseException) -> gr.Blocks:
    detail = html.escape(f"{type(error).__name__}: {error}")
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
    script_callbacks.on_ui_tabs(partial(_tabs, error))
