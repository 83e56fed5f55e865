"""``modules.infotext_utils``: quoting and parsing of the "Key: value, …" infotext, and paste-back: the paste
fields per tab, "paste"/"Send to" bindings and the function a paste button runs (host-contract §3.7)."""

from __future__ import annotations

import json
import re
from typing import Any

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def quote(text: Any) -> Any:
    """Values holding ``,``, ``:`` or a newline are JSON-quoted; anything else is left as it is."""
    if "," not in str(text) and "\n" not in str(text) and ":" not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict[str, Any]:
    """Prompt, "Negative prompt" and the last line's ``Key: value`` pairs (values stay strings)."""
    res: dict[str, Any] = {}
    lines = x.strip().split("\n")
    last = lines[-1] if lines else ""
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for raw_line in lines[:-1]:
        line = raw_line.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[16:].strip()
        (negative if in_negative else prompt).append(line)
    res["Prompt"] = "\n".join(prompt)
    res["Negative prompt"] = "\n".join(negative)
    for key, value in _PARAM.findall(last):
        res[key] = unquote(value)
    for key in skip_fields or []:
        res.pop(key, None)
    return res


# ----- paste-back (host-contract §3.7) ------------------------------------------------------------------
# gr.update() is a plain dict on gradio 3 and 4, so the WebUI's "is this already an update?" test passes every
# dict a paste target's function returns through unchanged.
type_of_gr_update = dict


class PasteField(tuple):
    """``(component, target)`` where target is an infotext key or ``fn(params) -> value | gr.update``."""

    def __new__(cls, component: Any, target: Any, *, api: str | None = None) -> PasteField:
        return super().__new__(cls, (component, target))

    def __init__(self, component: Any, target: Any, *, api: str | None = None) -> None:
        super().__init__()
        self.api = api
        self.component = component
        self.label = target if isinstance(target, str) else None
        self.function = target if callable(target) else None


class ParamBinding:
    """A "paste" or "Send to" button: where it sends (``tabname``) and what it reads."""

    def __init__(
        self,
        paste_button: Any,
        tabname: str,
        source_text_component: Any = None,
        source_image_component: Any = None,
        source_tabname: str | None = None,
        override_settings_component: Any = None,
        paste_field_names: list[str] | None = None,
    ) -> None:
        self.paste_button = paste_button
        self.tabname = tabname
        self.source_text_component = source_text_component
        self.source_image_component = source_image_component
        self.source_tabname = source_tabname
        self.override_settings_component = override_settings_component
        self.paste_field_names = paste_field_names or []


paste_fields: dict[str, dict[str, Any]] = {}
registered_param_bindings: list[ParamBinding] = []


def reset() -> None:
    paste_fields.clear()
    registered_param_bindings.clear()


def add_paste_fields(tabname: str, init_img: Any, fields: list | None, override_settings_component: Any = None) -> None:
    fields = [f if isinstance(f, PasteField) else PasteField(*f) for f in fields or []]
    paste_fields[tabname] = {"init_img": init_img, "fields": fields, "override_settings": override_settings_component}


def register_paste_params_button(binding: ParamBinding) -> None:
    registered_param_bindings.append(binding)


def paste_values(fields: list, params: dict[str, Any]) -> list[Any]:
    """What the paste button's function returns for ``params``, one value per field, by the WebUI's rule: a
    target's None leaves the component alone (``gr.update()``), a dict (an update, or any dict) goes out as it
    is, anything else is converted to the type of the component's current value and sent as
    ``gr.update(value=…)`` (given up silently, as ``gr.update()``, when that conversion fails)."""
    import gradio as gr

    res = []
    for output, key in fields:
        v = key(params) if callable(key) else params.get(key)
        if v is None:
            res.append(gr.update())
        elif isinstance(v, type_of_gr_update):
            res.append(v)
        else:
            try:
                valtype = type(output.value)
                if valtype is bool and v == "False":
                    val = False
                elif valtype is int:
                    val = float(v)
                else:
                    val = valtype(v)
                res.append(gr.update(value=val))
            except Exception:  # noqa: BLE001 - the WebUI swallows it the same way
                res.append(gr.update())
    return res


def connect_paste(button: Any, fields: list, input_comp: Any, override_settings_component: Any, tabname: str) -> None:
    """The paste button's click: parse the text, run ``infotext_pasted`` callbacks, fill the fields. The
    function and its outputs also stay on the button (``host_double_paste``) so tests can press it."""
    from modules import script_callbacks

    def paste_func(prompt: str) -> list[Any]:
        params = parse_generation_parameters(prompt)
        script_callbacks.infotext_pasted_callback(prompt, params)
        return paste_values(fields, params)

    outputs = [field[0] for field in fields]
    button.click(fn=paste_func, inputs=[input_comp], outputs=outputs, show_progress=False)
    button.host_double_paste = (paste_func, outputs)


def connect_paste_params_buttons() -> None:
    """Wire every registered binding's text paste (the image half and the tab switch are not modelled)."""
    for binding in registered_param_bindings:
        fields = paste_fields[binding.tabname]["fields"]
        if binding.source_text_component is not None and fields:
            override = binding.override_settings_component or paste_fields[binding.tabname]["override_settings"]
            connect_paste(binding.paste_button, fields, binding.source_text_component, override, binding.tabname)
