"""``modules.ui.create_ui``: the parts of the WebUI's UI build that extensions observe.

Order as in the WebUI: settings callbacks (``on_ui_settings``) → txt2img runner (``initialize_scripts``,
prompt/generate components, script UIs) → img2img runner → ``on_ui_tabs`` tabs rendered into the demo.
The prompt, image and generate components fire ``before/after_component`` callbacks (script-level
``on_after_component(elem_id=…)`` included); components created by extensions do not.
"""

from __future__ import annotations

import html
from typing import Any

from modules import script_callbacks, scripts, shared


def _component(factory: Any, runner: Any, **kwargs: Any) -> Any:
    script_callbacks.before_component_callback(None, **kwargs)
    runner.before_component(None, **kwargs)
    component = factory(**kwargs)
    runner.after_component(component, **kwargs)
    script_callbacks.after_component_callback(component, **kwargs)
    return component


def _build_tab(gr: Any, tabname: str, runner: Any, is_img2img: bool) -> Any:
    runner.initialize_scripts(is_img2img=is_img2img)
    scripts.scripts_current = runner
    with gr.Blocks(analytics_enabled=False) as interface:
        _component(gr.Textbox, runner, label="Prompt", elem_id=f"{tabname}_prompt")
        _component(gr.Textbox, runner, label="Negative prompt", elem_id=f"{tabname}_neg_prompt")
        if is_img2img:
            _component(gr.Image, runner, label="Image for img2img", elem_id="img2img_image", type="pil")
        _component(gr.Button, runner, value="Generate", elem_id=f"{tabname}_generate")
        runner.prepare_ui()
        runner.setup_ui()
    scripts.scripts_current = None
    return interface


def create_ui() -> Any:
    import gradio as gr

    script_callbacks.ui_settings_callback()
    interfaces = [
        (_build_tab(gr, "txt2img", scripts.scripts_txt2img, is_img2img=False), "txt2img", "txt2img"),
        (_build_tab(gr, "img2img", scripts.scripts_img2img, is_img2img=True), "img2img", "img2img"),
    ]
    interfaces += script_callbacks.ui_tabs_callback()
    shared.tab_names = [label for _interface, label, _elem_id in interfaces]
    with gr.Blocks(analytics_enabled=False, title="Stable Diffusion (host double)") as demo, gr.Tabs(elem_id="tabs"):
        for interface, label, elem_id in interfaces:
            with gr.Tab(label, id=elem_id, elem_id=f"tab_{elem_id}"):
                interface.render()
    demo.host_double_interfaces = interfaces
    shared.demo = demo
    return demo


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    content = "<br>\n".join(html.escape(x) for x in text.split("\n"))
    return f"<p class='{classname}'>{content}</p>" if classname else f"<p>{content}</p>"
