"""``modules.script_callbacks``: registration and invocation of extension callbacks (host-contract §4).

Every invoker catches a failing callback, reports it through ``errors.report`` and goes on with the next
one, like the WebUI. ``clear_callbacks`` runs at the start of every ``scripts.load_scripts()``.
"""

# Every callback runs in its own catch-all: failures are reported and the next callback runs.
# ruff: noqa: BLE001, PERF203, PTH119

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

from modules import errors


@dataclasses.dataclass
class ScriptCallback:
    script: str
    callback: Callable
    name: str | None = None


class ImageSaveParams:
    def __init__(self, image: Any, p: Any, filename: str, pnginfo: dict) -> None:
        self.image = image
        self.p = p
        self.filename = filename
        self.pnginfo = pnginfo


class UiTrainTabParams:
    def __init__(self, txt2img_preview_params: Any) -> None:
        self.txt2img_preview_params = txt2img_preview_params


_CATEGORIES = (
    "app_started",
    "model_loaded",
    "ui_tabs",
    "ui_train_tabs",
    "ui_settings",
    "before_image_saved",
    "image_saved",
    "extra_noise",
    "cfg_denoiser",
    "cfg_denoised",
    "cfg_after_cfg",
    "before_component",
    "after_component",
    "image_grid",
    "infotext_pasted",
    "script_unloaded",
    "before_ui",
    "on_reload",
    "list_optimizers",
    "list_unets",
    "before_token_counter",
)

callback_map: dict[str, list[ScriptCallback]] = {f"callbacks_{name}": [] for name in _CATEGORIES}


def _caller_filename(depth: int) -> str:
    # The real add_callback names the registering file; the double does the same from the call stack.
    frame = sys._getframe(depth)
    return frame.f_code.co_filename


def add_callback(
    callbacks: list, fun: Callable, *, name: str | None = None, category: str = "unknown", filename: str | None = None
) -> None:
    filename = filename or _caller_filename(2)
    unique = f"{os.path.basename(filename)}/{name or getattr(fun, '__name__', 'callback')}"
    callbacks.append(ScriptCallback(filename, fun, unique))


def clear_callbacks() -> None:
    for callbacks in callback_map.values():
        callbacks.clear()


def ordered_callbacks(category: str) -> list[ScriptCallback]:
    # User re-ordering in settings is not modelled: callbacks run in registration order.
    return list(callback_map[f"callbacks_{category}"])


def _run(category: str, *args: Any, reverse: bool = False, **kwargs: Any) -> list[Any]:
    results = []
    callbacks = ordered_callbacks(category)
    for c in reversed(callbacks) if reverse else callbacks:
        try:
            results.append(c.callback(*args, **kwargs))
        except Exception:
            errors.report(f"Error executing callback {category}_callback for {c.script}", exc_info=True)
    return results


def app_started_callback(demo: Any, app: Any) -> None:
    _run("app_started", demo, app)


def app_reload_callback() -> None:
    _run("on_reload")


def model_loaded_callback(sd_model: Any) -> None:
    _run("model_loaded", sd_model)


def ui_tabs_callback() -> list:
    res: list = []
    for value in _run("ui_tabs"):
        res += value or []
    return res


def ui_train_tabs_callback(params: UiTrainTabParams) -> None:
    _run("ui_train_tabs", params)


def ui_settings_callback() -> None:
    _run("ui_settings")


def before_image_saved_callback(params: ImageSaveParams) -> None:
    _run("before_image_saved", params)


def image_saved_callback(params: ImageSaveParams) -> None:
    _run("image_saved", params)


def before_component_callback(component: Any, **kwargs: Any) -> None:
    _run("before_component", component, **kwargs)


def after_component_callback(component: Any, **kwargs: Any) -> None:
    _run("after_component", component, **kwargs)


def image_grid_callback(params: Any) -> None:
    _run("image_grid", params)


def infotext_pasted_callback(infotext: str, params: dict[str, Any]) -> None:
    _run("infotext_pasted", infotext, params)


def script_unloaded_callback() -> None:
    # The WebUI unloads in reverse registration order.
    _run("script_unloaded", reverse=True)


def before_ui_callback() -> None:
    # The WebUI also walks this list in reverse.
    _run("before_ui", reverse=True)


def list_optimizers_callback() -> list:
    res: list = []
    for c in ordered_callbacks("list_optimizers"):
        try:
            c.callback(res)
        except Exception:
            errors.report(f"Error executing callback list_optimizers for {c.script}", exc_info=True)
    return res


def list_unets_callback() -> list:
    res: list = []
    for c in ordered_callbacks("list_unets"):
        try:
            c.callback(res)
        except Exception:
            errors.report(f"Error executing callback list_unets for {c.script}", exc_info=True)
    return res


def remove_current_script_callbacks() -> None:
    filename = _caller_filename(2)
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.script != filename]


def remove_callbacks_for_function(callback_func: Callable) -> None:
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.callback != callback_func]


def _register(category: str, callback: Callable, name: str | None) -> None:
    # Frames: 0 _caller_filename, 1 _register, 2 on_<category>, 3 the registering extension file.
    filename = _caller_filename(3)
    add_callback(callback_map[f"callbacks_{category}"], callback, name=name, category=category, filename=filename)


def on_app_started(callback: Callable, *, name: str | None = None) -> None:
    """``callback(demo, app)``; ``demo`` is ``None`` under ``--nowebui``."""
    _register("app_started", callback, name)


def on_before_reload(callback: Callable, *, name: str | None = None) -> None:
    _register("on_reload", callback, name)


def on_model_loaded(callback: Callable, *, name: str | None = None) -> None:
    _register("model_loaded", callback, name)


def on_ui_tabs(callback: Callable, *, name: str | None = None) -> None:
    """``callback()`` returns ``None`` or a list of ``(blocks, title, elem_id)``."""
    _register("ui_tabs", callback, name)


def on_ui_train_tabs(callback: Callable, *, name: str | None = None) -> None:
    _register("ui_train_tabs", callback, name)


def on_ui_settings(callback: Callable, *, name: str | None = None) -> None:
    _register("ui_settings", callback, name)


def on_before_image_saved(callback: Callable, *, name: str | None = None) -> None:
    _register("before_image_saved", callback, name)


def on_image_saved(callback: Callable, *, name: str | None = None) -> None:
    _register("image_saved", callback, name)


def on_extra_noise(callback: Callable, *, name: str | None = None) -> None:
    _register("extra_noise", callback, name)


def on_cfg_denoiser(callback: Callable, *, name: str | None = None) -> None:
    _register("cfg_denoiser", callback, name)


def on_cfg_denoised(callback: Callable, *, name: str | None = None) -> None:
    _register("cfg_denoised", callback, name)


def on_cfg_after_cfg(callback: Callable, *, name: str | None = None) -> None:
    _register("cfg_after_cfg", callback, name)


def on_before_component(callback: Callable, *, name: str | None = None) -> None:
    _register("before_component", callback, name)


def on_after_component(callback: Callable, *, name: str | None = None) -> None:
    _register("after_component", callback, name)


def on_image_grid(callback: Callable, *, name: str | None = None) -> None:
    _register("image_grid", callback, name)


def on_infotext_pasted(callback: Callable, *, name: str | None = None) -> None:
    _register("infotext_pasted", callback, name)


def on_script_unloaded(callback: Callable, *, name: str | None = None) -> None:
    _register("script_unloaded", callback, name)


def on_before_ui(callback: Callable, *, name: str | None = None) -> None:
    _register("before_ui", callback, name)


def on_list_optimizers(callback: Callable, *, name: str | None = None) -> None:
    _register("list_optimizers", callback, name)


def on_list_unets(callback: Callable, *, name: str | None = None) -> None:
    _register("list_unets", callback, name)


def on_before_token_counter(callback: Callable, *, name: str | None = None) -> None:
    _register("before_token_counter", callback, name)
