"""``modules.scripts``: the ``Script`` base class, script loading and the ``ScriptRunner`` (host-contract §1, §3).

Faithful points the tests pin:

* every ``Script`` subclass found in a loaded file is registered, imported ones included;
* the extension's directory is on ``sys.path`` only while its file is imported (A1111); Forge keeps every
  script directory on ``sys.path`` for good;
* slot 0 of the script arguments is the "Script" dropdown index; always-on scripts' controls come first, then
  the selectable scripts'; a script whose ``ui()`` returns ``None`` gets no slots and no ``name``;
* hooks run for always-on scripts whose class overrides them, each in its own try/except that reports
  through ``errors.report`` and continues.
"""

# Like the WebUI: str paths, one catch-all per script and hook (errors are reported, never raised),
# and module-level runners/basedir that load_scripts rebinds.
# ruff: noqa: BLE001, PERF203, PLW0603, PTH112, PTH113, PTH118, PTH119, PTH122

from __future__ import annotations

import inspect
import os
import re
import sys
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modules import _double_boot, errors, extensions, paths, script_callbacks, script_loading, shared

AlwaysVisible = object()


class PostprocessImageArgs:
    def __init__(self, image: Any) -> None:
        self.image = image


class PostProcessMaskOverlayArgs:
    def __init__(self, index: int, mask_for_overlay: Any, overlay_image: Any) -> None:
        self.index = index
        self.mask_for_overlay = mask_for_overlay
        self.overlay_image = overlay_image


class PostprocessBatchListArgs:
    def __init__(self, images: list) -> None:
        self.images = images


class PostSampleArgs:
    def __init__(self, samples: Any) -> None:
        self.samples = samples


class MaskBlendArgs:
    def __init__(
        self,
        current_latent: Any,
        nmask: Any,
        init_latent: Any,
        mask: Any,
        blended_latent: Any,
        denoiser: Any = None,
        sigma: Any = None,
    ) -> None:
        self.current_latent = current_latent
        self.nmask = nmask
        self.init_latent = init_latent
        self.mask = mask
        self.blended_latent = blended_latent
        self.denoiser = denoiser
        self.is_final_blend = denoiser is None
        self.sigma = sigma


@dataclass
class OnComponent:
    component: Any


class Script:
    name: str | None = None
    section: str | None = None
    filename: str | None = None
    args_from: int | None = None
    args_to: int | None = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    tabname: str | None = None
    group: Any = None
    create_group = True
    infotext_fields: list | None = None
    paste_field_names: list | None = None
    api_info: Any = None
    on_before_component_elem_id: list | None = None
    on_after_component_elem_id: list | None = None
    setup_for_ui_only = False
    controls: Any = None

    def title(self) -> str:
        raise NotImplementedError()

    def ui(self, is_img2img: bool) -> Any:
        pass

    def show(self, is_img2img: bool) -> Any:
        return True

    def run(self, p: Any, *args: Any) -> Any:
        pass

    def setup(self, p: Any, *args: Any) -> None:
        pass

    def before_process(self, p: Any, *args: Any) -> None:
        pass

    def process(self, p: Any, *args: Any) -> None:
        pass

    def before_process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def after_extra_networks_activate(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def process_before_every_sampling(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def postprocess_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def postprocess_batch_list(self, p: Any, pp: PostprocessBatchListArgs, *args: Any, **kwargs: Any) -> None:
        pass

    def on_mask_blend(self, p: Any, mba: MaskBlendArgs, *args: Any) -> None:
        pass

    def post_sample(self, p: Any, ps: PostSampleArgs, *args: Any) -> None:
        pass

    def postprocess_image(self, p: Any, pp: PostprocessImageArgs, *args: Any) -> None:
        pass

    def postprocess_maskoverlay(self, p: Any, ppmo: PostProcessMaskOverlayArgs, *args: Any) -> None:
        pass

    def postprocess_image_after_composite(self, p: Any, pp: PostprocessImageArgs, *args: Any) -> None:
        pass

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        pass

    def before_hr(self, p: Any, *args: Any) -> None:
        pass

    def before_component(self, component: Any, **kwargs: Any) -> None:
        pass

    def after_component(self, component: Any, **kwargs: Any) -> None:
        pass

    def on_before_component(self, callback: Callable, *, elem_id: str) -> None:
        if self.on_before_component_elem_id is None:
            self.on_before_component_elem_id = []
        self.on_before_component_elem_id.append((elem_id, callback))

    def on_after_component(self, callback: Callable, *, elem_id: str) -> None:
        if self.on_after_component_elem_id is None:
            self.on_after_component_elem_id = []
        self.on_after_component_elem_id.append((elem_id, callback))

    def describe(self) -> str:
        return ""

    def elem_id(self, item_id: str) -> str:
        """``script_[txt2img_|img2img_]<sanitised title>_<item_id>``; the tab prefix only when the script is
        shown the same way on both tabs."""
        need_tabname = self.show(True) == self.show(False)
        tabkind = "img2img" if self.is_img2img else "txt2img"
        tabname = f"{tabkind}_" if need_tabname else ""
        title = re.sub(r"[^a-z_0-9]", "", re.sub(r"\s", "_", self.title().lower()))
        return f"script_{tabname}{title}_{item_id}"


class ScriptBuiltinUI(Script):
    setup_for_ui_only = True

    def elem_id(self, item_id: str) -> str:
        need_tabname = self.show(True) == self.show(False)
        tabname = ("img2img" if self.is_img2img else "txt2img") + "_" if need_tabname else ""
        return f"{tabname}{item_id}"

    def show(self, is_img2img: bool) -> Any:
        return AlwaysVisible


current_basedir = paths.script_path


def basedir() -> str:
    """The extension dir while its script file is being imported, the WebUI root at any other time."""
    return current_basedir


ScriptFile = namedtuple("ScriptFile", ["basedir", "filename", "path"])
ScriptClassData = namedtuple("ScriptClassData", ["script_class", "path", "basedir", "module"])

scripts_data: list[ScriptClassData] = []
postprocessing_scripts_data: list[ScriptClassData] = []


def list_scripts(scriptdirname: str, extension: str, *, include_extensions: bool = True) -> list[ScriptFile]:
    """WebUI root scripts first, then each active extension's (built-ins first), each sorted by file name.

    The ``metadata.ini`` Before/After/Requires sort of the real WebUI is not modelled.
    """
    res = []
    root_dir = os.path.join(paths.script_path, scriptdirname)
    if os.path.isdir(root_dir):
        for filename in sorted(os.listdir(root_dir)):
            path = os.path.join(root_dir, filename)
            if os.path.isfile(path) and os.path.splitext(filename)[1].lower() == extension:
                res.append(ScriptFile(paths.script_path, filename, path))
    if include_extensions:
        for ext in extensions.active():
            res += ext.list_files(scriptdirname, extension)
    return res


def _register_scripts_from_module(module: Any, scriptfile: ScriptFile) -> None:
    # Every Script subclass in the module's namespace counts, imported ones (even Script itself) included.
    scripts_data.extend(
        ScriptClassData(value, scriptfile.path, scriptfile.basedir, module)
        for value in module.__dict__.values()
        if inspect.isclass(value) and issubclass(value, Script)
    )


def load_scripts() -> None:
    global current_basedir
    scripts_data.clear()
    postprocessing_scripts_data.clear()
    script_callbacks.clear_callbacks()

    scripts_list = list_scripts("scripts", ".py")

    if _double_boot.is_forge():
        # Forge puts every script dir on sys.path before loading and never takes them off (host-contract §1).
        for s in scripts_list:
            if s.basedir not in sys.path:
                sys.path = [s.basedir, *sys.path]

    syspath = sys.path
    for scriptfile in scripts_list:
        try:
            if scriptfile.basedir != paths.script_path:
                sys.path = [scriptfile.basedir, *sys.path]
            current_basedir = scriptfile.basedir
            module = script_loading.load_module(scriptfile.path)
            _register_scripts_from_module(module, scriptfile)
        except Exception:
            errors.report(f"Error loading script: {scriptfile.filename}", exc_info=True)
        finally:
            sys.path = syspath
            current_basedir = paths.script_path

    global scripts_txt2img, scripts_img2img
    scripts_txt2img = ScriptRunner()
    scripts_img2img = ScriptRunner()


def wrap_call(
    func: Callable, filename: str | None, funcname: str, *args: Any, default: Any = None, **kwargs: Any
) -> Any:
    try:
        return func(*args, **kwargs)
    except Exception:
        errors.report(f"Error calling: {filename}/{funcname}", exc_info=True)
    return default


_HOOKS_ON_ALL_SCRIPTS = ("before_component", "after_component")


class ScriptRunner:
    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.selectable_scripts: list[Script] = []
        self.alwayson_scripts: list[Script] = []
        self.titles: list[str] = []
        self.title_map: dict[str, Script] = {}
        self.infotext_fields: list = []
        self.paste_field_names: list = []
        self.inputs: list = [None]
        # Shared by shallow copies, like the real runner's cache (see ordered_scripts).
        self.callback_map: dict[str, tuple[int, list[Script]]] = {}
        self.on_before_component_elem_id: dict[str, list] = {}
        self.on_after_component_elem_id: dict[str, list] = {}

    # ----- construction -------------------------------------------------------------------------------
    def initialize_scripts(self, is_img2img: bool) -> None:
        self.scripts.clear()
        self.alwayson_scripts.clear()
        self.selectable_scripts.clear()

        for script_data in scripts_data:
            try:
                script = script_data.script_class()
            except Exception:
                errors.report(f"Error # failed to initialize Script {script_data.module}: ", exc_info=True)
                continue

            script.filename = script_data.path
            script.is_txt2img = not is_img2img
            script.is_img2img = is_img2img
            script.tabname = "img2img" if is_img2img else "txt2img"

            visibility = script.show(script.is_img2img)
            if visibility == AlwaysVisible:
                self.scripts.append(script)
                self.alwayson_scripts.append(script)
                script.alwayson = True
            elif visibility:
                self.scripts.append(script)
                self.selectable_scripts.append(script)

        self.callback_map.clear()
        self.apply_on_before_component_callbacks()

    def apply_on_before_component_callbacks(self) -> None:
        for script in self.scripts:
            on_before = script.on_before_component_elem_id or []
            on_after = script.on_after_component_elem_id or []
            for elem_id, callback in on_before:
                self.on_before_component_elem_id.setdefault(elem_id, []).append((callback, script))
            for elem_id, callback in on_after:
                self.on_after_component_elem_id.setdefault(elem_id, []).append((callback, script))
            on_before.clear()
            on_after.clear()

    def create_script_ui(self, script: Script) -> None:
        script.args_from = len(self.inputs)
        script.args_to = len(self.inputs)
        try:
            self.create_script_ui_inner(script)
        except Exception:
            errors.report(f"Error creating UI for {script.name}: ", exc_info=True)

    def create_script_ui_inner(self, script: Script) -> None:
        from modules.api import models as api_models

        controls = wrap_call(script.ui, script.filename, "ui", script.is_img2img)
        script.controls = controls
        if controls is None:
            return

        # Only scripts with controls get a name, so only they are listed and addressable over REST.
        script.name = wrap_call(script.title, script.filename, "title", default=script.filename).lower()

        api_args = []
        for control in controls:
            control.custom_script_source = os.path.basename(script.filename)
            arg_info = api_models.ScriptArg(label=getattr(control, "label", None) or "")
            for field in ("value", "minimum", "maximum", "step"):
                v = getattr(control, field, None)
                if v is not None:
                    setattr(arg_info, field, v)
            choices = getattr(control, "choices", None)
            if choices is not None:
                arg_info.choices = [x[0] if isinstance(x, tuple) else x for x in choices]
            api_args.append(arg_info)

        script.api_info = api_models.ScriptInfo(
            name=script.name, is_img2img=script.is_img2img, is_alwayson=script.alwayson, args=api_args
        )
        if script.infotext_fields is not None:
            self.infotext_fields += script.infotext_fields
        if script.paste_field_names is not None:
            self.paste_field_names += script.paste_field_names

        self.inputs += list(controls)
        script.args_to = len(self.inputs)

    def setup_ui_for_section(self, section: str | None, scriptlist: list[Script] | None = None) -> None:
        import gradio as gr

        if scriptlist is None:
            scriptlist = self.alwayson_scripts
        for script in scriptlist:
            if script.alwayson and script.section != section:
                continue
            if script.create_group:
                with gr.Group(visible=script.alwayson) as group:
                    self.create_script_ui(script)
                script.group = group
            else:
                self.create_script_ui(script)

    def prepare_ui(self) -> None:
        self.inputs = [None]

    def setup_ui(self) -> list:
        """Build every script's controls; call inside a ``gr.Blocks``. Returns the flat ``inputs`` list."""
        import gradio as gr

        all_titles = [wrap_call(s.title, s.filename, "title") or s.filename for s in self.scripts]
        self.title_map = {title.lower(): script for title, script in zip(all_titles, self.scripts, strict=False)}
        self.titles = [
            wrap_call(s.title, s.filename, "title") or f"{s.filename} [error]" for s in self.selectable_scripts
        ]

        self.setup_ui_for_section(None)

        dropdown = gr.Dropdown(
            label="Script", elem_id="script_list", choices=["None", *self.titles], value="None", type="index"
        )
        self.inputs[0] = dropdown

        self.setup_ui_for_section(None, self.selectable_scripts)

        def select_script(script_index: int | None) -> list:
            index = script_index or 0
            selected = self.selectable_scripts[index - 1] if index > 0 else None
            return [gr.update(visible=selected == s) for s in self.selectable_scripts]

        if self.selectable_scripts:
            dropdown.change(fn=select_script, inputs=[dropdown], outputs=[s.group for s in self.selectable_scripts])

        self.apply_on_before_component_callbacks()
        return self.inputs

    # ----- hooks --------------------------------------------------------------------------------------
    def list_scripts_for_method(self, method_name: str) -> list[Script]:
        return self.scripts if method_name in _HOOKS_ON_ALL_SCRIPTS else self.alwayson_scripts

    def ordered_scripts(self, method_name: str) -> list[Script]:
        """Scripts whose *class* overrides the hook, in load order.

        Cached per hook and keyed by the list length, like the WebUI: a shallow ``copy(runner)`` shares the
        cache, and a filtered ``alwayson_scripts`` of the same length reuses the stale entry.
        """
        script_list = self.list_scripts_for_method(method_name)
        length, cached = self.callback_map.get(method_name, (-1, None))
        if cached is None or length != len(script_list):
            base = getattr(Script, method_name, None)
            cached = [s for s in script_list if getattr(s.__class__, method_name, None) is not base]
            self.callback_map[method_name] = (len(script_list), cached)
        return cached

    def _run_hook(self, method_name: str, p: Any, call: Callable[[Script, tuple], Any]) -> None:
        for script in self.ordered_scripts(method_name):
            try:
                call(script, p.script_args[script.args_from : script.args_to])
            except Exception:
                errors.report(f"Error running {method_name}: {script.filename}", exc_info=True)

    def setup_scrips(self, p: Any, *, is_ui: bool = True) -> None:  # sic: the WebUI's spelling
        for script in self.ordered_scripts("setup"):
            if not is_ui and script.setup_for_ui_only:
                continue
            try:
                script.setup(p, *p.script_args[script.args_from : script.args_to])
            except Exception:
                errors.report(f"Error running setup: {script.filename}", exc_info=True)

    def before_process(self, p: Any) -> None:
        self._run_hook("before_process", p, lambda s, a: s.before_process(p, *a))

    def process(self, p: Any) -> None:
        self._run_hook("process", p, lambda s, a: s.process(p, *a))

    def process_before_every_sampling(self, p: Any, **kwargs: Any) -> None:
        self._run_hook(
            "process_before_every_sampling", p, lambda s, a: s.process_before_every_sampling(p, *a, **kwargs)
        )

    def before_process_batch(self, p: Any, **kwargs: Any) -> None:
        self._run_hook("before_process_batch", p, lambda s, a: s.before_process_batch(p, *a, **kwargs))

    def after_extra_networks_activate(self, p: Any, **kwargs: Any) -> None:
        self._run_hook(
            "after_extra_networks_activate", p, lambda s, a: s.after_extra_networks_activate(p, *a, **kwargs)
        )

    def process_batch(self, p: Any, **kwargs: Any) -> None:
        self._run_hook("process_batch", p, lambda s, a: s.process_batch(p, *a, **kwargs))

    def postprocess(self, p: Any, processed: Any) -> None:
        self._run_hook("postprocess", p, lambda s, a: s.postprocess(p, processed, *a))

    def postprocess_batch(self, p: Any, images: Any, **kwargs: Any) -> None:
        self._run_hook("postprocess_batch", p, lambda s, a: s.postprocess_batch(p, *a, images=images, **kwargs))

    def postprocess_batch_list(self, p: Any, pp: PostprocessBatchListArgs, **kwargs: Any) -> None:
        self._run_hook("postprocess_batch_list", p, lambda s, a: s.postprocess_batch_list(p, pp, *a, **kwargs))

    def post_sample(self, p: Any, ps: PostSampleArgs) -> None:
        self._run_hook("post_sample", p, lambda s, a: s.post_sample(p, ps, *a))

    def on_mask_blend(self, p: Any, mba: MaskBlendArgs) -> None:
        self._run_hook("on_mask_blend", p, lambda s, a: s.on_mask_blend(p, mba, *a))

    def postprocess_image(self, p: Any, pp: PostprocessImageArgs) -> None:
        self._run_hook("postprocess_image", p, lambda s, a: s.postprocess_image(p, pp, *a))

    def postprocess_maskoverlay(self, p: Any, ppmo: PostProcessMaskOverlayArgs) -> None:
        self._run_hook("postprocess_maskoverlay", p, lambda s, a: s.postprocess_maskoverlay(p, ppmo, *a))

    def postprocess_image_after_composite(self, p: Any, pp: PostprocessImageArgs) -> None:
        self._run_hook(
            "postprocess_image_after_composite", p, lambda s, a: s.postprocess_image_after_composite(p, pp, *a)
        )

    def before_hr(self, p: Any) -> None:
        self._run_hook("before_hr", p, lambda s, a: s.before_hr(p, *a))

    def before_component(self, component: Any, **kwargs: Any) -> None:
        for callback, script in self.on_before_component_elem_id.get(kwargs.get("elem_id"), []):
            try:
                callback(OnComponent(component=component))
            except Exception:
                errors.report(f"Error running on_before_component: {script.filename}", exc_info=True)
        for script in self.ordered_scripts("before_component"):
            try:
                script.before_component(component, **kwargs)
            except Exception:
                errors.report(f"Error running before_component: {script.filename}", exc_info=True)

    def after_component(self, component: Any, **kwargs: Any) -> None:
        for callback, script in self.on_after_component_elem_id.get(getattr(component, "elem_id", None), []):
            try:
                callback(OnComponent(component=component))
            except Exception:
                errors.report(f"Error running on_after_component: {script.filename}", exc_info=True)
        for script in self.ordered_scripts("after_component"):
            try:
                script.after_component(component, **kwargs)
            except Exception:
                errors.report(f"Error running after_component: {script.filename}", exc_info=True)

    # ----- selectable scripts -------------------------------------------------------------------------
    def run(self, p: Any, *args: Any) -> Any:
        """Run the dropdown-selected script (``args[0]`` is its 1-based index); ``None`` when none is."""
        script_index = args[0]
        if script_index == 0 or script_index is None:
            return None
        script = self.selectable_scripts[script_index - 1]
        if script is None:
            return None
        processed = script.run(p, *args[script.args_from : script.args_to])
        shared.total_tqdm.clear()
        return processed

    def script(self, title: str) -> Script | None:
        return self.title_map.get(title.lower())


scripts_txt2img: ScriptRunner = ScriptRunner()
scripts_img2img: ScriptRunner = ScriptRunner()
scripts_current: ScriptRunner | None = None
