"""The environment panel of the Garment Studio tab: the report (versions, runtimes, models, device), Refresh, and a
button that gives back every resource Garment Studio's models hold. The tab (:mod:`lib_garment.host.ui.tab_layout`)
shows it in its "Environment and models" accordion; :func:`build_status_tab` shows it alone."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from lib_garment.environment import collect
from lib_garment.environment_view import render_markdown
from lib_garment.runtime import close_all, unload_all


def status_markdown(models_dir: str | None = None, webui_dir: str | None = None) -> str:
    """The report as Markdown; a failure to collect it becomes the message shown, never an exception."""
    try:
        return render_markdown(collect(models_dir=models_dir, webui_dir=webui_dir))
    except Exception as err:  # noqa: BLE001 - the panel must render whatever went wrong
        return f"### Garment Studio could not inspect this environment\n\n`{type(err).__name__}: {err}`"


def unload_and_report() -> str:
    """Drop every resident model and stop the model worker; a sentence saying what happened."""
    try:
        dropped = unload_all()
        close_all()  # the worker process too: its CUDA context alone holds a few hundred MB
    except Exception as err:  # noqa: BLE001 - shown in the panel, never raised into gradio
        return f"Could not unload Garment Studio's models: `{type(err).__name__}: {err}`"
    noun = "model" if dropped == 1 else "models"
    return f"Unloaded {dropped} Garment Studio {noun}; the model worker is stopped (it restarts when needed)."


def status_panel(status: Callable[[], str], unload: Callable[[], str] = unload_and_report) -> gr.Markdown:
    """The report, Refresh and Unload, created in the current gradio context (the tab's accordion)."""
    panel = gr.Markdown(status(), elem_id="garment_studio_status")
    with gr.Row():
        refresh = gr.Button("Refresh status", elem_id="garment_studio_refresh")
        unload_button = gr.Button("Unload Garment Studio models", elem_id="garment_studio_unload")
    notice = gr.Markdown("", elem_id="garment_studio_unload_result")
    refresh.click(fn=status, inputs=[], outputs=[panel])

    def unload_and_refresh() -> tuple[str, str]:
        return unload(), status()

    unload_button.click(fn=unload_and_refresh, inputs=[], outputs=[notice, panel])
    return panel


def build_status_tab(status: Callable[[], str], unload: Callable[[], str] = unload_and_report) -> gr.Blocks:
    """The panel alone as a tab (the fallback when the workflow tab cannot be built)."""
    with gr.Blocks(analytics_enabled=False) as block:
        gr.Markdown(
            "## Garment Studio\nProduct photos for marketplaces: keep the garment exactly, change the background "
            "or the model. This panel shows what this WebUI can run.",
            elem_id="garment_studio_intro",
        )
        status_panel(status, unload)
    return block
