"""The double's support modules and its isolation (host-contract §1 "Settings"/flags, §4, §10)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PACKAGE_EXT = {
    "scripts/pkg_user.py": "import dbl_probe_pkg\nfrom modules import scripts\n",
    "dbl_probe_pkg/__init__.py": "LOADED = True\n",
}


def test_close_removes_fake_and_extension_modules_and_restores_sys_path(make_webui):
    """Isolation: after close() neither ``modules`` nor extension packages stay importable, sys.path is back."""
    path_before = list(sys.path)
    host = make_webui("forge")
    host.write_extension("pkg", PACKAGE_EXT)
    host.install_controlnet()
    host.load_scripts()
    assert "dbl_probe_pkg" in sys.modules
    assert "lib_controlnet" in sys.modules
    host.close()
    leftovers = [
        m
        for m in sys.modules
        if m.split(".")[0] in ("modules", "modules_forge", "dbl_probe_pkg", "lib_controlnet", "extensions")
    ]
    assert leftovers == []
    assert sys.path == path_before


def test_paths_point_into_the_root(webui):
    """§1 "Models": models_path is <data dir>/models; extensions_dir and script_path are the root's."""
    paths = webui.module("paths")
    assert Path(paths.models_path) == webui.root / "models"
    assert Path(paths.extensions_dir) == webui.root / "extensions"
    assert Path(paths.script_path) == webui.root
    assert Path(paths.data_path) == webui.root


def test_opts_attribute_access_add_option_and_optioninfo_chain(webui):
    """§1 "Settings": add_option registers a default; attribute access reads data then defaults; the
    OptionInfo helpers chain; unknown names raise AttributeError; opts.data.get is the safe read."""
    shared = webui.shared
    info = shared.OptionInfo(5, "Five", section=("garment", "Garment")).info("a hint").needs_reload_ui().needs_restart()
    assert isinstance(info, shared.OptionInfo)
    assert "a hint" in info.comment_after
    assert "Reload UI" in info.comment_after
    assert shared.opts.data.get("my_option", "fallback") == "fallback"
    shared.opts.add_option("my_option", info)
    assert shared.opts.my_option == 5
    shared.opts.my_option = 6
    assert shared.opts.data["my_option"] == 6
    assert shared.opts.set("my_option", 7) is True
    assert shared.opts.get_default("my_option") == 5
    with pytest.raises(AttributeError):
        _ = shared.opts.not_an_option


def test_settings_callback_registers_options_before_script_uis(webui):
    """§1/§4: on_ui_settings callbacks run when the UI is built, before the scripts' ui()."""
    source = """
import gradio as gr
from modules import script_callbacks, scripts, shared


def settings():
    shared.opts.add_option("probe_count", shared.OptionInfo(2, "Count").needs_reload_ui())


script_callbacks.on_ui_settings(settings)


class Counted(scripts.Script):
    def title(self):
        return "Counted"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return [gr.Checkbox(value=False) for _ in range(shared.opts.probe_count)]
"""
    webui.write_extension("counted", {"scripts/counted.py": source})
    webui.create_ui()
    script = webui.find_script("counted")
    assert script.args_to - script.args_from == 2


def test_cmd_opts_flags_and_device_for(make_webui):
    """§1 flags: --use-cpu is a lowercased list and devices.get_device_for(task) honours it."""
    host = make_webui("a1111", cmd_args=["--use-cpu", "ADetailer", "--lowvram"])
    cmd_opts = host.shared.cmd_opts
    assert cmd_opts.use_cpu == ["adetailer"]
    assert (cmd_opts.lowvram, cmd_opts.medvram, cmd_opts.api, cmd_opts.nowebui) == (True, False, False, False)
    assert cmd_opts.skip_install is False
    assert cmd_opts.api_auth is None
    devices = host.module("devices")
    assert str(devices.get_device_for("adetailer")) == "cpu"
    assert str(devices.cpu) == "cpu"


def test_preload_adds_command_line_flags(webui):
    """§1 "preload.py": preload(parser) lets an extension add flags before the final parse."""
    preload = "def preload(parser):\n    parser.add_argument('--garment-offline', action='store_true')\n"
    webui.write_extension("flags", {"preload.py": preload})
    cmd_opts = webui.parse_cmd_args(["--garment-offline"])
    assert cmd_opts.garment_offline is True
    assert webui.shared.cmd_opts is cmd_opts


def test_state_flags(webui):
    """§3.5 "Progress": begin/end, job_count, interrupt/skip, nextjob, assign_current_image, textinfo."""
    state = webui.shared.state
    state.begin(job="probe")
    assert (state.job, state.job_count, state.interrupted) == ("probe", -1, False)
    state.job_count += 2
    state.nextjob()
    state.interrupt()
    state.skip()
    state.textinfo = "working"
    image = Image.new("RGB", (2, 2))
    state.assign_current_image(image)
    assert (state.job_no, state.interrupted, state.skipped, state.current_image) == (1, True, True, image)
    state.end()
    assert (state.job, state.job_count) == ("", 0)
    assert webui.shared.total_tqdm.cleared == 0


def test_callbacks_are_reported_not_raised(webui):
    """§4: a failing callback is reported through errors.report and the next callback still runs."""
    callbacks = webui.script_callbacks
    seen = []

    def broken():
        raise RuntimeError("boom")

    callbacks.on_before_ui(broken)
    callbacks.on_before_ui(lambda: seen.append("ran"))
    callbacks.on_model_loaded(lambda model: seen.append(model))
    callbacks.on_infotext_pasted(lambda text, params: params.update(seen=text))
    callbacks.before_ui_callback()
    callbacks.model_loaded_callback("model")
    params = {}
    callbacks.infotext_pasted_callback("text", params)
    assert seen == ["ran", "model"]
    assert params == {"seen": "text"}
    assert any("before_ui" in m for m in webui.error_messages)


def test_script_unloaded_and_after_component_callbacks(webui):
    """§4: on_after_component sees the generate buttons by elem_id; on_script_unloaded runs on reload."""
    source = """
from modules import script_callbacks

SEEN = []
script_callbacks.on_after_component(lambda component, **kw: SEEN.append(kw.get("elem_id")))
script_callbacks.on_script_unloaded(lambda: SEEN.append("unloaded"))
"""
    ext = webui.write_extension("watch", {"scripts/watch.py": source})
    webui.create_ui()
    module = webui.module("script_loading").loaded_scripts[str(ext / "scripts" / "watch.py")]
    assert {"txt2img_generate", "img2img_generate", "img2img_image"} <= set(module.SEEN)
    webui.script_callbacks.script_unloaded_callback()
    assert module.SEEN[-1] == "unloaded"


def test_wrap_gradio_gpu_call(webui):
    """§4: wrap_gradio_gpu_call holds queue_lock, brackets the call with state.begin/end (job from
    "task(...)"), resets the flags, turns errors into an error HTML output and appends timing to the last."""
    call_queue = webui.module("call_queue")
    state = webui.shared.state
    seen = {}

    def handler(id_task, value):
        seen["locked"] = call_queue.queue_lock.locked()
        seen["job"] = state.job
        state.interrupt()
        return [value, "<p>done</p>"]

    result = call_queue.wrap_gradio_gpu_call(handler)("task(abc)", 3)
    assert seen == {"locked": True, "job": "task(abc)"}
    assert result[0] == 3
    assert result[1].startswith("<p>done</p><div class='performance'>")
    assert state.interrupted is False

    def failing(id_task):
        raise ValueError("bad input")

    outputs = call_queue.wrap_gradio_gpu_call(failing, extra_outputs=[None])("task(x)")
    assert outputs[0] is None
    assert "ValueError: bad input" in outputs[1]
    assert any(m.startswith("Error completing request") for m in webui.error_messages)


def test_queue_lock_serialises_wrapped_calls(webui):
    """§4: wrap_queued_call takes the same lock as generation."""
    call_queue = webui.module("call_queue")
    call_queue.queue_lock.acquire()
    done = threading.Event()
    thread = threading.Thread(target=call_queue.wrap_queued_call(done.set))
    thread.start()
    assert not done.wait(0.2)
    call_queue.queue_lock.release()
    thread.join(5)
    assert done.is_set()


@pytest.mark.parametrize(("mode", "corner"), [(0, (255, 0, 0)), (1, (255, 0, 0)), (2, (255, 0, 0))])
def test_resize_image_modes_give_the_requested_size(webui, mode, corner):
    """§10 images.resize_image(mode, im, w, h): every mode returns exactly w x h."""
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    out = webui.module("images").resize_image(mode, image, 30, 30)
    assert out.size == (30, 30)
    assert out.getpixel((15, 15)) == corner


def test_save_image_writes_png_with_parameters(webui, tmp_path):
    """§10 images.save_image: PNG with the infotext in the "parameters" chunk."""
    path, _ = webui.module("images").save_image(Image.new("RGB", (4, 4)), str(tmp_path), "", 12, "p", info="hello")
    assert Path(path).name == "00000-12.png"
    assert Image.open(path).info["parameters"] == "hello"


def test_ui_components_are_gradio_components(webui):
    """§7: InputAccordion is a checkbox (its bool value is a script arg) usable as a context manager;
    FormRow / ToolButton are thin gradio subclasses; gradio 4's .pyi side files stay out of the repository."""
    import gradio as gr

    ui_components = webui.module("ui_components")
    with (
        gr.Blocks(),
        ui_components.InputAccordion(True, label="Garment") as accordion,
        ui_components.FormRow(),
    ):
        button = ui_components.ToolButton("x")
    assert isinstance(accordion, gr.Checkbox)
    assert accordion.value is True
    assert "tool" in button.elem_classes
    repo_modules = Path(__file__).parent / "host_double" / "modules"
    assert list(repo_modules.glob("*.pyi")) == []


def test_disabled_extensions_are_not_active(webui):
    """§1 "Discovery": extensions in opts.disabled_extensions are listed but inactive; built-ins come first."""
    webui.write_extension("zz-user", {"scripts/a.py": ""})
    webui.write_extension("off", {"scripts/b.py": ""})
    webui.write_extension("builtin-one", {"scripts/c.py": ""}, builtin=True)
    webui.set_options(disabled_extensions=["off"])
    webui.load_scripts()
    extensions = webui.module("extensions")
    assert [(e.name, e.is_builtin) for e in extensions.active()] == [("builtin-one", True), ("zz-user", False)]
    assert [e.name for e in extensions.extensions] == ["builtin-one", "off", "zz-user"]


def test_errors_report_records(webui):
    """§3.3: errors.report prints like the WebUI and is recorded for tests."""
    errors = webui.errors

    def fail() -> None:
        raise KeyError("k")

    try:
        fail()
    except KeyError:
        errors.report("something failed", exc_info=True)
    assert webui.reported_errors[-1].message == "something failed"
    assert isinstance(webui.reported_errors[-1].exception, KeyError)
    assert "KeyError" in webui.reported_errors[-1].traceback


def test_sd_model_identity(webui):
    """§10: shared.sd_model is a stand-in checkpoint whose name and hash reach the infotext."""
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="x", width=8, height=8, do_not_save_samples=True)
    processed = webui.processing.process_images(p)
    assert "Model hash: 0123456789" in processed.info
    assert "Model: fake-sd15" in processed.info
    assert np.asarray(processed.images[0]).shape == (8, 8, 3)


def test_install_extension_copies_like_a_fresh_clone(webui, tmp_path):
    """§1 "Discovery": an installed extension is a directory under extensions/; caches, VCS data and the
    top-level models/ folder are not copied, a nested package named models is."""
    source = tmp_path / "src-ext"
    for rel in ("scripts/entry.py", "pkg/models/__init__.py", "models/big.bin", ".git/HEAD", "pkg/__pycache__/x.pyc"):
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text("x", encoding="utf8")
    target = webui.install_extension(source, "my-ext")
    assert target == webui.root / "extensions" / "my-ext"
    assert (target / "scripts" / "entry.py").is_file()
    assert (target / "pkg" / "models" / "__init__.py").is_file()
    assert not (target / "models").exists()
    assert not (target / ".git").exists()
    assert not (target / "pkg" / "__pycache__").exists()
    linked = webui.install_extension(source, "linked", link=True)
    assert linked.is_symlink()
