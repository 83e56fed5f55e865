"""``modules.ui.create_ui``: the parts of the WebUI's UI build that extensions observe.

Order as in the WebUI: paste registry reset → settings callbacks (``on_ui_settings``) → txt2img runner
(``initialize_scripts``, prompt/paste/generate components, script UIs, the tab's paste fields: prompt, negative
prompt and every script's ``infotext_fields``) → img2img runner (fields for "img2img" and "inpaint") →
``on_ui_tabs`` tabs rendered into the demo → every paste binding connected inside the demo (§3.7).
The prompt, image and generate components fire ``before/after_component`` callbacks (script-level
``on_after_component(elem_id=…)`` included); components created by extensions do not.
"""

from __future__ import annotations

import html
from typing import Any

from modules import infotext_utils, script_callbacks, scripts, shared


def _component(factory: Any, runner: Any, **kwargs: Any) -> Any:
    script_callbacks.before_component_callback(None, **kwargs)
    runner.before_component(None, **kwargs)
    component = factory(**kwargs)
    runner.after_component(component, **kwargs)
    script_callbacks.after_component_callback(component, **kwargs)
    return component


def _build_tab(gr: Any, tabname: str, runner: Any, is_img2img: bool) -> Any:
    # The WebUI builds its UI once per (re)load with fresh runners; the double reuses its runners, so the paste
    # targets of a previous build are dropped here.
    runner.infotext_fields = []
    runner.paste_field_names = []
    runner.initialize_scripts(is_img2img=is_img2img)
    scripts.scripts_current = runner
    with gr.Blocks(analytics_enabled=False) as interface:
        prompt = _component(gr.Textbox, runner, label="Prompt", elem_id=f"{tabname}_prompt")
        negative = _component(gr.Textbox, runner, label="Negative prompt", elem_id=f"{tabname}_neg_prompt")
        # Reads the infotext typed into the prompt. The WebUI gives both tabs' buttons the same id, "paste"
        # (modules/ui_toprow.py): a page finds one through its tab, "#tab_txt2img #paste".
        paste = gr.Button(value="↙️", elem_id="paste")
        init_img = None
        if is_img2img:
            init_img = _component(gr.Image, runner, label="Image for img2img", elem_id="img2img_image", type="pil")
        _component(gr.Button, runner, value="Generate", elem_id=f"{tabname}_generate")
        runner.prepare_ui()
        runner.setup_ui()
    scripts.scripts_current = None
    fields = [
        infotext_utils.PasteField(prompt, "Prompt", api="prompt"),
        infotext_utils.PasteField(negative, "Negative prompt", api="negative_prompt"),
        *runner.infotext_fields,
    ]
    for name in ("img2img", "inpaint") if is_img2img else ("txt2img",):
        infotext_utils.add_paste_fields(name, init_img, list(fields))
    infotext_utils.register_paste_params_button(
        infotext_utils.ParamBinding(paste_button=paste, tabname=tabname, source_text_component=prompt)
    )
    return interface


def create_ui() -> Any:
    import gradio as gr

    infotext_utils.reset()
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
    with demo:
        infotext_utils.connect_paste_params_buttons()
    demo.host_double_interfaces = interfaces
    shared.demo = demo
    return demo


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    content = "<br>\n".join(html.escape(x) for x in text.split("\n"))
    return f"<p class='{classname}'>{content}</p>" if classname else f"<p>{content}</p>"
