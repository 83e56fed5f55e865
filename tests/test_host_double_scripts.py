"""The double's ``modules.scripts``: loading, argument slots and hook order (host-contract §1, §3.1-§3.4)."""

from __future__ import annotations

import sys

from tests.host_double import examples

LOAD_PROBE = """
import sys
from modules import scripts
import probe_pkg

SEEN_PATH_HEAD = sys.path[0]
SEEN_BASEDIR = scripts.basedir()


class First(scripts.Script):
    def title(self):
        return "First Probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible


class Second(First):
    def title(self):
        return "Second Probe"
"""


def _probe_extension(host):
    return host.write_extension(
        "probe-ext",
        {"scripts/probe.py": LOAD_PROBE, "probe_pkg/__init__.py": "VALUE = 42\n"},
    )


def test_every_script_subclass_in_the_file_is_registered(webui):
    """§1 "scripts/*.py": every Script subclass in the module namespace is registered, one instance per tab."""
    _probe_extension(webui)
    webui.load_scripts()
    classes = [d.script_class.__name__ for d in webui.scripts.scripts_data]
    assert classes == ["First", "Second"]
    webui.create_ui()
    first_t2i = webui.find_script("first probe", "txt2img")
    first_i2i = webui.find_script("first probe", "img2img")
    assert first_t2i is not first_i2i
    assert (first_t2i.is_img2img, first_i2i.is_img2img) == (False, True)
    assert first_t2i.tabname == "txt2img"


def test_extension_dir_is_on_sys_path_only_during_import_a1111(webui):
    """§1: A1111 prepends the extension dir while its file is imported and restores sys.path after;
    basedir() is the extension dir during import and the WebUI root after."""
    ext = _probe_extension(webui)
    webui.load_scripts()
    cls = webui.scripts.scripts_data[0].script_class
    module = webui.scripts.scripts_data[0].module
    assert str(ext) == module.SEEN_PATH_HEAD
    assert str(ext) == module.SEEN_BASEDIR
    assert str(ext) not in sys.path
    assert webui.scripts.basedir() == str(webui.root)
    assert cls.__module__ == "probe.py"  # loaded by file name, not as a package module
    assert sys.modules["probe_pkg"].VALUE == 42  # imported during load, so it stays cached


def test_forge_keeps_every_extension_dir_on_sys_path(forge_webui):
    """§1: Forge prepends all script dirs to sys.path before loading and never removes them."""
    ext = _probe_extension(forge_webui)
    forge_webui.load_scripts()
    assert str(ext) in sys.path


def test_a_broken_script_file_is_reported_and_others_still_load(webui):
    """§1/§3.3: a script file that raises on import is reported via errors.report; loading goes on."""
    webui.write_extension("a-broken", {"scripts/broken.py": "raise ImportError('nope')\n"})
    _probe_extension(webui)
    webui.load_scripts()
    assert [d.script_class.__name__ for d in webui.scripts.scripts_data] == ["First", "Second"]
    assert any("Error loading script: broken.py" in m for m in webui.error_messages)


def test_slots_alwayson_first_then_dropdown_then_selectable(any_webui):
    """§3.2: slot 0 is the Script dropdown; always-on controls come first, then the selectable scripts';
    ui() returning None gives no slots and no name."""
    any_webui.write_extension("a-select", {"scripts/picker.py": examples.SELECTABLE})
    any_webui.write_extension("b-record", {"scripts/rec.py": examples.recorder()})
    any_webui.write_extension("c-silent", {"scripts/silent.py": examples.NO_UI})
    any_webui.create_ui()
    runner = any_webui.txt2img_runner
    rec, picker, silent = (any_webui.find_script(t) for t in ("recorder", "picker", "silent"))
    assert runner.inputs[0].label == "Script"
    assert (rec.args_from, rec.args_to) == (1, 3)
    assert (silent.args_from, silent.args_to) == (3, 3)
    assert (picker.args_from, picker.args_to) == (3, 5)
    assert [s.title() for s in runner.alwayson_scripts] == ["Recorder", "Silent"]
    assert [s.title() for s in runner.selectable_scripts] == ["Picker"]
    assert (rec.name, picker.name, silent.name) == ("recorder", "picker", None)
    assert runner.titles == ["Picker"]


def test_elem_id_format(webui):
    """§3.1: elem_id is script_[txt2img_|img2img_]<sanitised title>_<item_id>."""
    webui.write_extension("rec", {"scripts/rec.py": examples.recorder("My Tool (v2)")})
    webui.create_ui()
    assert webui.find_script("my tool (v2)", "img2img").elem_id("seed") == "script_img2img_my_tool_v2_seed"


def test_hook_order_with_batches_and_iterations(any_webui):
    """§3.3: setup → before_process → process → per batch (before_process_batch, extra networks,
    process_batch, sampling, post_sample, postprocess_batch, postprocess_batch_list, per image the three image
    hooks with p.batch_index) → postprocess; each hook gets the script's UI args."""
    any_webui.write_extension("rec", {"scripts/rec.py": examples.recorder()})
    processed = any_webui.txt2img(prompt="cat", seed=7, n_iter=2, batch_size=2, width=16, height=16)
    calls = any_webui.find_script("recorder").calls
    hooks = [c[0] for c in calls]
    per_image = ["postprocess_image", "postprocess_maskoverlay", "postprocess_image_after_composite"]
    per_batch = [
        "before_process_batch",
        "after_extra_networks_activate",
        "process_batch",
        "process_before_every_sampling",
        "post_sample",
        "postprocess_batch",
        "postprocess_batch_list",
        *per_image,
        *per_image,
    ]
    assert hooks == ["setup", "before_process", "process", *per_batch, *per_batch, "postprocess"]
    process = calls[2]
    assert process[4]["all_seeds"] == [7, 8, 9, 10]
    assert process[4]["all_prompts"] == ["cat"] * 4
    image_calls = [(c[1], c[2]) for c in calls if c[0] == "postprocess_image"]
    assert image_calls == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [c[4]["seeds"] for c in calls if c[0] == "process_batch"] == [[7, 8], [9, 10]]
    assert all(c[3] == (False, {"default": True}) for c in calls)
    assert len(processed.images) == 5  # the UI path returns a grid first when there are several images
    assert processed.index_of_first_image == 1


def test_hires_fix_calls_before_hr_and_samples_twice(webui):
    """§3.3 (1.10+): process_before_every_sampling runs before the first pass and again before hires, with
    before_hr in between."""
    webui.write_extension("rec", {"scripts/rec.py": examples.recorder()})
    processed = webui.txt2img(prompt="cat", width=16, height=16, enable_hr=True, hr_scale=2)
    calls = webui.find_script("recorder").calls
    sampling = [(c[0], c[4].get("hr")) for c in calls if c[0] in ("process_before_every_sampling", "before_hr")]
    assert sampling == [
        ("process_before_every_sampling", False),
        ("before_hr", None),
        ("process_before_every_sampling", True),
    ]
    assert processed.images[0].size == (32, 32)


def test_an_exception_in_one_hook_is_reported_and_generation_continues(any_webui):
    """§3.3: every hook runs in its own try/except; the failure goes to errors.report and the other scripts'
    hooks (and the failing script's later hooks) still run."""
    any_webui.write_extension(
        "a-bad", {"scripts/bad.py": examples.recorder("Bad", fail_in=("process", "postprocess_image"))}
    )
    any_webui.write_extension("b-good", {"scripts/good.py": examples.recorder("Good")})
    processed = any_webui.txt2img(prompt="x", width=8, height=8)
    assert len(processed.images) == 1
    good = [c[0] for c in any_webui.find_script("good").calls]
    bad = [c[0] for c in any_webui.find_script("bad").calls]
    assert "process" in good
    assert "postprocess" in good
    assert bad[-1] == "postprocess"  # later hooks of the failing script still ran
    messages = any_webui.error_messages
    assert any(m.startswith("Error running process: ") and m.endswith("bad.py") for m in messages)
    assert any(m.startswith("Error running postprocess_image: ") for m in messages)
    assert isinstance(any_webui.reported_errors[-1].exception, RuntimeError)


def test_hooks_run_only_for_classes_that_override_them(webui):
    """§3.3: the runner calls a hook only on scripts whose *class* overrides it (instance patches are ignored)."""
    webui.write_extension("silent", {"scripts/silent.py": examples.NO_UI})
    webui.create_ui()
    silent = webui.find_script("silent")
    seen = []
    silent.postprocess = lambda p, processed, *args: seen.append("patched")
    webui.txt2img(prompt="x", width=8, height=8)
    assert seen == []
    assert silent.process_args == ()


def test_selectable_script_run_gets_its_slice_and_alwayson_hooks_still_run(webui):
    """§3.4: ScriptRunner.run calls the dropdown-selected script's run(p, *its args); always-on hooks run when
    run() calls process_images on the same p."""
    webui.write_extension("a-select", {"scripts/picker.py": examples.SELECTABLE})
    webui.write_extension("b-record", {"scripts/rec.py": examples.recorder()})
    processed = webui.txt2img(prompt="dog", width=8, height=8, selected="Picker", values={"Picker": [5, "hat"]})
    assert webui.find_script("picker").received == (5, "hat", "tuple")
    assert processed.prompt == "dog hat"
    assert "process" in [c[0] for c in webui.find_script("recorder").calls]


def test_no_hooks_at_all_when_p_scripts_is_none(webui):
    """§3.3: p.scripts None means no script hook runs (the nested-pass recipe of §3.6, option A)."""
    webui.write_extension("rec", {"scripts/rec.py": examples.recorder()})
    webui.create_ui()
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="x", width=8, height=8, do_not_save_samples=True)
    processed = webui.processing.process_images(p)
    assert len(processed.images) == 1
    assert webui.find_script("recorder").calls == []


def test_shallow_copied_runner_with_filtered_alwayson_scripts(webui):
    """§3.6 option B/C: a copy(runner) with a filtered alwayson_scripts list runs only those scripts, with the
    original args_from/args_to."""
    import copy

    webui.write_extension("a-one", {"scripts/one.py": examples.recorder("One")})
    webui.write_extension("b-two", {"scripts/two.py": examples.recorder("Two")})
    webui.create_ui()
    two = webui.find_script("two")
    runner = copy.copy(webui.txt2img_runner)
    runner.alwayson_scripts = [two]
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="x", width=8, height=8, do_not_save_samples=True)
    p.scripts = runner
    p.script_args = [0, True, {"one": 1}, True, {"two": 2}]
    webui.processing.process_images(p)
    assert webui.find_script("one").calls == []
    assert [c[3] for c in two.calls if c[0] == "process"] == [(True, {"two": 2})]


def test_callbacks_are_cleared_on_every_load(webui):
    """§4: callbacks registered at import are cleared and registered again on each load_scripts()."""
    source = "from modules import script_callbacks\nscript_callbacks.on_app_started(lambda demo, app: None)\n"
    webui.write_extension("cb", {"scripts/cb.py": source})
    webui.load_scripts()
    webui.load_scripts()
    assert len(webui.script_callbacks.callback_map["callbacks_app_started"]) == 1
