"""The Garment Studio tab. For now it shows the environment report: versions, runtimes, models, device."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from lib_garment.environment import collect
from lib_garment.environment_view import render_markdown


def status_markdown(models_dir: str | None = None, webui_dir: str | None = None) -> str:
    """The report as Markdown; a failure to collect it becomes the message shown, never an exception."""
    try:
        return render_markdown(collect(models_dir=models_dir, webui_dir=webui_dir))
    except Exception as err:  # noqa: BLE001 - the panel must render whatever went wrong
        return f"### Garment Studio could not inspect this environment\n\n`{type(err).__name__}: {err}`"


def build_tab(status: Callable[[], str]) -> gr.Blocks:
    with gr.Blocks(analytics_enabled=False) as block:
        gr.Markdown(
            "## Garment Studio\nProduct photos for marketplaces: keep the garment exactly, change the background "
            "or the model. This panel shows what this WebUI can run.",
            elem_id="garment_studio_intro",
        )
        panel = gr.Markdown(status(), elem_id="garment_studio_status")
        refresh = gr.Button("Refresh status", elem_id="garment_studio_refresh")
        refresh.click(fn=status, inputs=[], outputs=[panel])
    return block
