"""The tab's Preview and Generate in the host double (AUTOMATIC1111 1.10.1 and Forge flavours): the handlers
build the one request, call the engine and the host's job runner, and turn failures into messages
(host-contract §4 tabs and wrap_gradio_gpu_call; design.md "Arguments and API")."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
CANNY = ("control_v11p_sd15_canny",)
WEIGHT_FREE = ["mask_canny", "canny"]  # units whose maps need no model
KEEP = (slice(20, 60), slice(30, 70))  # the product rectangle: 40 x 40 = 1600 pixels


def start(host: Any, controlnet: tuple[str, ...] | None = CANNY) -> Any:
    if controlnet is not None:
        host.install_controlnet(models=controlnet)
    host.install_extension(ROOT, EXT_NAME)
    host.load_scripts()
    demo = host.create_ui()  # as the WebUI starts: script runners first, then the extension tabs
    tabs = [t for t in demo.host_double_interfaces if t[1] == "Garment Studio"]
    assert len(tabs) == 1
    assert tabs[0][2] == "garment_studio"
    return tab_module("tab_handlers")  # the installed copy, as the WebUI imported it


def tab_module(name: str) -> Any:
    """One of the tab's modules (host/ui/), from the installed copy the WebUI imported."""
    return importlib.import_module(f"lib_garment.host.ui.{name}")


def restore_options(values: list[Any]) -> dict[str, Any]:
    return tab_module("tab_restore").restore_options(values)


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    """Both flavours: what differs between them (ControlNet's) is exercised."""
    any_webui.tab = start(any_webui)
    return any_webui


@pytest.fixture
def paired(make_webui, fresh_engine_modules):
    """The flavour that ships this gradio (3: AUTOMATIC1111, 4: Forge), for what does not differ."""
    import gradio

    webui = make_webui("forge" if int(gradio.__version__.split(".")[0]) >= 4 else "a1111")
    webui.tab = start(webui)
    return webui


def photo_and_mask(width: int = 96, height: int = 80, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    painted = np.zeros((height, width), bool)
    painted[KEEP] = True
    return photo, painted


def editor_value(photo: np.ndarray, painted: np.ndarray | None) -> dict[str, Any]:
    """What the running gradio's editor hands the handler (gradio 3 sketch, or gradio 4 ImageEditor)."""
    import gradio

    background = Image.fromarray(photo)
    if int(gradio.__version__.split(".")[0]) >= 4:
        layer = np.zeros((*photo.shape[:2], 4), np.uint8)
        if painted is not None:
            layer[painted] = (34, 197, 94, 255)
        return {"background": background.convert("RGBA"), "layers": [Image.fromarray(layer, "RGBA")], "composite": None}
    gray = np.zeros(photo.shape[:2], np.uint8) if painted is None else (painted * 255).astype(np.uint8)
    return {"image": background, "mask": Image.fromarray(np.stack([gray] * 3, axis=2), "RGB")}


def inputs(tab: Any, photo: np.ndarray | None = None, painted: np.ndarray | None = None, **values: Any) -> Any:
    fields = {
        "photo": None if photo is None else editor_value(photo, painted),
        "units": WEIGHT_FREE,
        "weights": {"canny": 0.5},
        "matte": "none",  # alpha = the painted mask exactly
        "prompt": "a shirt on a beach",
        "sampler": "Euler a",
        "steps": 2,
        **values,
    }
    return tab.TabInputs(**fields)


def test_the_tab_reads_its_widgets_into_the_one_request(paired) -> None:
    tab = paired.tab
    request = tab.build_request(inputs(tab, seed=3.0, batch_count=2.0, phrases="white t-shirt"))
    assert [(u.kind, u.weight) for u in request.control] == [("mask_canny", 1.0), ("canny", 0.5)]
    assert request.segment.phrases == "white t-shirt"
    assert request.segment.matte == "none"
    assert request.seed == 3
    assert request.generation.batch_count == 2
    assert request.generation.sampler == "Euler a"
    assert request.generation.steps == 2
    defaults = tab.build_request(tab.TabInputs(task="model"))
    assert [(u.kind, u.weight) for u in defaults.control] == [("pose", 1.0), ("mask_canny", 0.8), ("depth", 0.6)]
    assert defaults.generation.steps == 20
    assert defaults.generation.cfg_scale == 7.0
    assert defaults.seed == -1


def test_task_change_presets_its_units_and_weights(paired) -> None:
    units, *weights = paired.tab.task_changed("model")
    assert units["value"] == ["pose", "mask_canny", "depth"]
    by_kind = dict(zip(paired.tab.UNIT_KINDS, (w["value"] for w in weights), strict=True))
    assert by_kind == {"pose": 1.0, "mask_canny": 0.8, "canny": 1.0, "lines": 1.0, "depth": 0.6, "normal": 1.0}


def test_sampler_choices_are_the_webuis(paired) -> None:
    names = tab_module("tab_layout").sampler_choices()
    assert "DPM++ 2M" in names
    assert "Euler a" in names


def test_preview_shows_masks_and_every_map_without_generating(paired) -> None:
    photo, painted = photo_and_mask()
    result = paired.tab.run_preview(inputs(paired.tab, photo, painted))
    assert result.errors == []
    captions = [caption for _, caption in result.gallery]
    assert captions[:4] == ["mask overlay", "mask", "alpha", "inpaint mask"]
    assert sorted(captions[4:]) == ["canny map", "mask_canny map"]
    images = {caption: np.asarray(image) for image, caption in result.gallery}
    assert np.array_equal(images["mask"] > 0, painted)
    assert np.array_equal(images["inpaint mask"] == 0, painted)  # only the kept product is not regenerated
    assert images["mask_canny map"].shape[:2] == photo.shape[:2]
    (line,) = result.summary
    assert "mask from your mask" in line
    assert "1600 kept pixels" in line
    assert "units: mask_canny 1, canny 0.5" in line
    assert paired.controlnet_script("img2img").history == []  # nothing generated


def test_generate_keeps_the_product_exactly_and_offers_the_files(host) -> None:
    photo, painted = photo_and_mask()
    result = host.tab.run_generate(inputs(host.tab, photo, painted, seed=3))
    assert result.errors == []
    (image, caption), (overlay, _) = result.results[0], result.overlays[0]
    assert caption == "photo"
    out = np.asarray(image)
    assert out.shape == photo.shape  # composited at the photo's size
    assert np.array_equal(out[painted], photo[painted])
    assert np.mean(np.any(out[~painted] != photo[~painted], axis=-1)) > 0.9  # the rest was regenerated
    assert not np.array_equal(np.asarray(overlay)[painted], out[painted])  # the kept area is tinted
    assert np.array_equal(np.asarray(overlay)[~painted], out[~painted])
    assert result.kept == ["photo: 1600 kept pixels, identical to the photo"]
    (path,) = result.files
    saved = Image.open(path)
    assert np.array_equal(np.asarray(saved.convert("RGB")), out)
    assert "Garment Studio kept" in saved.info["parameters"]
    assert "Garment Studio:" in saved.info["parameters"]  # the request, for provenance
    assert "a shirt on a beach" in result.infotexts[0]
    assert "Garment Studio:" not in result.infotexts[0]  # "Send to" pastes the generation, not the request
    applied = host.controlnet_script("img2img").history[-1]
    assert [u.model.split(" [")[0] for u in applied] == ["control_v11p_sd15_canny"] * 2
    assert [u.weight for u in applied] == [1.0, 0.5]


def test_generate_through_the_webuis_gpu_wrapper(paired) -> None:
    """The button's function: queue lock, the task id registered, the WebUI's timing appended to the message."""
    tab = paired.tab
    photo, painted = photo_and_mask()
    values = inputs(tab, photo, painted, task_id="task(abc123)", batch_count=2)
    names = tab_module("tab_inputs").INPUT_NAMES
    named = {name: getattr(values, name, None) for name in names}  # what gradio passes, by position
    for kind in tab.UNIT_KINDS:
        named.update({f"weight_{kind}": values.weights.get(kind, 1.0), f"map_{kind}": None})
        named.update({f"guidance_start_{kind}": 0.0, f"guidance_end_{kind}": 1.0})
    named.update({name: "" for name in names if name.startswith("model_")})
    wrapped = tab_module("tab_layout")._wrapped(tab.generate_clicked, tab.GENERATE_OUTPUTS)
    outputs = wrapped(*(named[name] for name in names))
    assert len(outputs) == tab.GENERATE_OUTPUTS
    results, overlays, kept, files, infotext, infotexts, tabs, message = outputs
    assert len(results) == len(overlays) == len(files) == len(infotexts) == 2  # batch count 2
    assert infotext == infotexts[0]
    assert kept.count("1600 kept pixels, identical to the photo") == 2
    assert tabs["selected"] == "results"
    assert "Time taken" in message
    assert "garment-studio-error" not in message
    assert paired.shared.state.begun_jobs[-1] == "task(abc123)"


def test_photos_are_processed_in_turn_and_a_bad_one_does_not_stop_the_rest(paired, tmp_path) -> None:
    photo, painted = photo_and_mask()
    other, _ = photo_and_mask(seed=8)
    Image.fromarray(other).save(tmp_path / "second.png")
    result = paired.tab.run_generate(inputs(paired.tab, photo, painted, more_photos=[str(tmp_path / "second.png")]))
    assert [caption for _, caption in result.results] == ["photo"]
    (error,) = result.errors
    assert error.startswith("second.png: ")
    assert "say what to keep" in error  # no mask and no Keep phrase for the second photo


def test_bad_input_is_a_message_and_nothing_runs(paired) -> None:
    tab = paired.tab
    photo, painted = photo_and_mask()
    cases = [
        (inputs(tab), "upload a photo first"),
        (inputs(tab, photo, painted, seed=1.5), "seed must be a whole number"),
        (inputs(tab, photo, painted, steps=0), "generation.steps"),
        (inputs(tab, photo, painted, units=["canny", "sketch"]), "unknown unit kind(s): sketch"),
        (inputs(tab, photo, painted, mask_upload=Image.new("L", (8, 8), 255)), "uploaded mask is 8x8"),
        (inputs(tab, mask_upload=Image.new("L", (8, 8), 255)), "upload that photo there as well"),
    ]
    for given, message in cases:
        for run in (tab.run_preview, tab.run_generate):
            result = run(given)
            assert any(message in error for error in result.errors), (message, result.errors)
            assert "&lt;b&gt;" in tab.message_html(["<b>x</b>"])  # messages are escaped HTML
    assert paired.controlnet_script("img2img").history == []


def test_interrupt_between_photos_stops_the_batch(paired, tmp_path, monkeypatch) -> None:
    tab = paired.tab
    photo, painted = photo_and_mask()
    Image.fromarray(photo).save(tmp_path / "second.png")
    original = tab.run_plan

    def run_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        done = original(*args, **kwargs)
        paired.shared.state.interrupt()
        return done

    monkeypatch.setattr(tab, "run_plan", run_then_interrupt)
    result = tab.run_generate(inputs(tab, photo, painted, more_photos=[str(tmp_path / "second.png")]))
    assert len(result.results) == 1
    assert result.notes[-1] == "Interrupted: 1 of 2 photos done."


def test_skip_skips_the_current_photo_only(paired, tmp_path, monkeypatch) -> None:
    tab = paired.tab
    photo, painted = photo_and_mask()
    Image.fromarray(photo).save(tmp_path / "second.png")
    original = tab._prepare
    calls = []

    def prepare_then_skip(*args: Any) -> Any:
        calls.append(1)
        prepared = original(*args)
        if len(calls) == 1:
            paired.shared.state.skip()
        return prepared

    monkeypatch.setattr(tab, "_prepare", prepare_then_skip)
    values = inputs(tab, photo, painted, phrases="", more_photos=[str(tmp_path / "second.png")])
    result = tab.run_generate(values)
    assert "photo: skipped" in result.notes
    assert result.results == []  # the second photo has no mask or phrase: its own message, not a skip
    assert len(calls) == 2
    assert paired.shared.state.job_count == 2


def test_missing_controlnet_model_is_named(any_webui, fresh_engine_modules) -> None:
    tab = start(any_webui, controlnet=("control_v11f1p_sd15_depth",))
    photo, painted = photo_and_mask()
    result = tab.run_generate(inputs(tab, photo, painted))
    assert result.results == []
    (error,) = result.errors
    assert "control_v11p_sd15_canny" in error
    assert "models/ControlNet" in error


def test_without_controlnet_the_tab_says_so_unless_allowed(webui, fresh_engine_modules) -> None:
    tab = start(webui, controlnet=None)
    photo, painted = photo_and_mask()
    refused = tab.run_generate(inputs(tab, photo, painted))
    assert refused.results == []
    assert any("install sd-webui-controlnet" in error for error in refused.errors)
    allowed = tab.run_generate(inputs(tab, photo, painted, allow_without_controlnet=True))
    assert allowed.errors == []
    assert allowed.kept == ["photo: 1600 kept pixels, identical to the photo"]
    assert any(re.search("ControlNet.*not installed", note) for note in allowed.notes)


def test_saving_follows_the_webuis_setting_and_a_failed_save_is_a_note(paired, monkeypatch) -> None:
    tab = paired.tab
    photo, painted = photo_and_mask()
    paired.set_options(samples_save=False)  # still offered for download, from a temporary folder
    (path,) = tab.run_generate(inputs(tab, photo, painted)).files
    assert Path(path).is_file()
    assert not Path(path).resolve().is_relative_to(paired.root)

    def full_disk(*args: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tab, "save_result", full_disk)
    result = tab.run_generate(inputs(tab, photo, painted))
    assert result.errors == []
    assert result.files == []
    assert len(result.results) == 1  # shown anyway
    assert any("not saved" in note and "No space left" in note for note in result.notes)


# -- restore: the accordion's options as a Generate step, and "Restore this image" (issue 6) ---------------------

RESTORE_WIDGETS = {  # tab_restore.RESTORE_NAMES, as the widgets would hand them over
    "enabled": True,
    "faces": True,
    "hands": False,
    "face_detector": "haar",  # OpenCV's cascade: a real detector, no model file
    "hand_detector": "hand_yolov8n",
    "prompt": "",
    "negative_prompt": "",
    "face_prompt": "a calm face, [PROMPT]",
    "hand_prompt": "",
    "denoising_strength": 0.4,
    "confidence": 0.3,
    "top_k": 0,
    "rank_by": "area",
    "sort": "none",
    "classes": "",
    "crop_size": 64,  # small passes: fast
    "padding": 0.25,
    "mask_blur": 4,
    "matte": "classic",
    "blend": "normal",
    "skin_model": "colour",
    "skin_model_path": "",
    "controlnet_kind": "none",
    "controlnet_weight": 1.0,
}


def restore_values(tab: Any, **changed: Any) -> list[Any]:
    from lib_garment.host.ui.tab_restore import RESTORE_NAMES

    values = {**RESTORE_WIDGETS, **changed}
    return [values[name] for name in RESTORE_NAMES]


@pytest.fixture(scope="module")
def head() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head (192 x 192; Haar finds the face) and the suit below it painted as the product."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[16:208, 128:320])
    painted = np.zeros(photo.shape[:2], bool)
    painted[160:, :] = True
    return photo, painted


def gentle_generation(host: Any, monkeypatch: Any) -> list[Any]:
    """The double's generation at denoising 0.1 (it mixes in a flat colour), so the face survives to be found;
    returns the nested restore passes as they run."""
    original = host.processing.process_images
    nested = []

    def run(p):
        if getattr(p, "_garment_studio_restore_pass", False):
            nested.append((p, host.shared.state.job_count))
        else:
            p.denoising_strength = 0.1
        return original(p)

    monkeypatch.setattr(host.processing, "process_images", run)
    return nested


def test_the_accordion_feeds_the_requests_restore_field(paired) -> None:
    tab = paired.tab
    values = restore_values(tab, top_k=2, classes="face, head", sort="center_out", controlnet_kind="depth")
    request = tab.build_request(inputs(tab, restore=restore_options(values)))
    restore = request.restore
    assert (restore.enabled, restore.face_detector, restore.top_k, restore.sort) == (True, "haar", 2, "center_out")
    assert restore.classes == ["face", "head"]
    assert (restore.controlnet.kind, restore.controlnet.weight) == ("depth", 1.0)
    assert restore.skin_model_path is None
    off = tab.build_request(inputs(tab, restore=restore_options(restore_values(tab, enabled=False))))
    assert off.restore.enabled is False
    assert tab.build_request(inputs(tab)).restore == off.restore.__class__()  # no accordion values: defaults


def test_generate_restores_each_result_as_a_step(paired, head, monkeypatch) -> None:
    tab = paired.tab
    photo, painted = head
    nested = gentle_generation(paired, monkeypatch)
    values = inputs(tab, photo, painted, batch_count=2, restore=restore_options(restore_values(tab)))
    result = tab.run_generate(values)
    assert result.errors == []
    assert len(result.results) == 2
    assert [p.prompt for p, _ in nested] == ["a calm face, a shirt on a beach"] * 2  # [PROMPT]: the tab's prompt
    assert [count for _, count in nested] == [3, 4]  # the batch of 2, then one per restore pass
    assert all("Garment Studio restore: 1 face restored" in text for text in result.infotexts)
    for (image, _), kept in zip(result.results, result.kept, strict=True):
        assert np.array_equal(np.asarray(image)[painted], photo[painted])
        assert kept.endswith("6144 kept pixels, identical to the photo")  # 32 rows of 192, checked after restoring


def test_bad_restore_options_are_a_message_before_anything_runs(paired, head, monkeypatch) -> None:
    tab = paired.tab
    photo, painted = head
    nested = gentle_generation(paired, monkeypatch)
    for changed, message in (
        ({"face_detector": "nope"}, "unknown detector 'nope'"),
        ({"crop_size": 100}, "crop_size must be a multiple of 8"),
        ({"faces": False}, "faces or hands"),
    ):
        values = inputs(tab, photo, painted, restore=restore_options(restore_values(tab, **changed)))
        for run in (tab.run_preview, tab.run_generate):
            result = run(values)
            assert any(message in error for error in result.errors), (message, result.errors)
    assert nested == []
    assert paired.controlnet_script("img2img").history == []


def standalone(tab_restore: Any, **fields: Any) -> Any:
    options = tab_restore.restore_options(restore_values(None, **fields.pop("restore", {})))
    return tab_restore.StandaloneInputs(prompt="a portrait", seed=5, restore=options, **fields)


def test_restore_this_image_restores_an_upload_and_keeps_the_masked_pixels(paired, head, monkeypatch) -> None:
    tab_restore = tab_module("tab_restore")
    photo, painted = head
    nested = gentle_generation(paired, monkeypatch)
    keep = Image.fromarray((painted * 255).astype(np.uint8))
    values = standalone(tab_restore, source="uploaded image", upload=Image.fromarray(photo), keep_mask=keep)
    result = tab_restore.run_restore_image(values)
    assert result.errors == []
    ((p, _),) = nested
    assert (p.seed, p.prompt) == (5, "a calm face, a portrait")
    out = np.asarray(result.image)
    assert np.array_equal(out[painted], photo[painted])
    assert np.any(out != photo)
    assert result.line == "1 face restored"
    assert "Garment Studio restore: 1 face restored (seed 5)" in result.notes
    assert "kept: 6144 pixels, 0 of them changed" in result.notes
    saved = next(note for note in result.notes if note.startswith("saved: "))
    with Image.open(saved.removeprefix("saved: ")) as picture:
        assert np.array_equal(np.asarray(picture.convert("RGB")), out)


def test_restore_this_image_takes_the_selected_result(paired, head, monkeypatch, tmp_path) -> None:
    tab_restore = tab_module("tab_restore")
    photo, _ = head
    nested = gentle_generation(paired, monkeypatch)
    Image.fromarray(photo).save(tmp_path / "result.png")
    other = np.zeros_like(photo)
    gradio3 = [[{"name": str(tmp_path / "blank.png")}, "photo #1"], [{"name": str(tmp_path / "result.png")}, "#2"]]
    Image.fromarray(other).save(tmp_path / "blank.png")
    for results in (gradio3, [(Image.fromarray(other), "photo #1"), (Image.fromarray(photo), "photo #2")]):
        result = tab_restore.run_restore_image(standalone(tab_restore, results=results, selected=1))
        assert result.errors == []
        assert result.line == "1 face restored"  # the second result, the one with a face
    assert len(nested) == 2
    for selected, message in ((None, "select a result to restore first"), (5, "select a result to restore first")):
        refused = tab_restore.run_restore_image(standalone(tab_restore, results=gradio3, selected=selected))
        assert any(message in error for error in refused.errors)
    refused = tab_restore.run_restore_image(standalone(tab_restore, source="uploaded image"))
    assert any("upload the image to restore first" in error for error in refused.errors)
    refused = tab_restore.run_restore_image(
        standalone(tab_restore, results=gradio3, selected=1, restore={"face_detector": "nope"})
    )
    assert any("unknown detector 'nope'" in error for error in refused.errors)
    assert len(nested) == 2  # nothing ran for the refused ones


def test_restore_this_image_through_the_webuis_gpu_wrapper(paired, head, monkeypatch) -> None:
    """The button's function: task id first, queue lock and progress bookkeeping, two outputs."""
    tab, tab_restore = paired.tab, tab_module("tab_restore")
    photo, _ = head
    gentle_generation(paired, monkeypatch)
    named = {"source": "uploaded image", "upload": Image.fromarray(photo), "keep_mask": None, "results": None}
    named |= {"selected": None, "prompt": "a portrait", "negative_prompt": "", "sampler": "Euler a", "steps": 2}
    named |= {"cfg_scale": 7.0, "seed": 5}
    flat = ["task(rst123)", *(named[name] for name in tab_restore.STANDALONE_NAMES), *restore_values(tab)]
    wrapped = tab_module("tab_layout")._wrapped(tab_restore.restore_image_clicked, tab_restore.STANDALONE_OUTPUTS)
    image, message = wrapped(*flat)
    assert np.asarray(image).shape == photo.shape
    assert "1 face restored (seed 5)" in message
    assert "garment-studio-error" not in message
    assert paired.shared.state.begun_jobs[-1] == "task(rst123)"


def test_guidance_and_the_model_description_reach_the_request(paired) -> None:
    tab = paired.tab
    values = inputs(tab, task="model", units=["pose", "depth"], guidance={"depth": (0.2, 0.7)})
    values.model = {"gender": "woman", "scene": "in a park"}
    request = tab.build_request(values)
    assert [(u.kind, u.guidance_start, u.guidance_end) for u in request.control] == [
        ("pose", 0.0, 1.0),
        ("depth", 0.2, 0.7),
    ]
    assert (request.model.gender, request.model.scene) == ("woman", "in a park")
    values.task = "background"  # the hidden fields stay filled: they are left out, not refused
    assert tab.build_request(values).model.gender == ""
    bad = inputs(tab, guidance={"canny": (0.9, 0.1)})
    with pytest.raises(tab.BadInput, match="guidance_start must not exceed guidance_end"):
        tab.build_request(bad)


def test_a_map_of_the_users_own_is_used_instead_of_ours(paired) -> None:
    photo, painted = photo_and_mask()
    own = np.zeros_like(photo)
    own[5:10] = 200
    result = paired.tab.run_preview(inputs(paired.tab, photo, painted, maps={"canny": Image.fromarray(own)}))
    assert result.errors == []
    images = {caption: np.asarray(image) for image, caption in result.gallery}
    assert np.array_equal(images["canny map"], own)
    unused = paired.tab.run_preview(inputs(paired.tab, photo, painted, maps={"depth": Image.fromarray(own)}))
    assert "the uploaded depth map is not used: no depth unit is chosen" in unused.notes
    wrong = paired.tab.run_preview(inputs(paired.tab, photo, painted, maps={"canny": Image.fromarray(own[:9])}))
    assert any("the supplied canny map is 96x9 but the photo is 96x80" in error for error in wrong.errors)


def test_send_to_takes_the_selected_results_infotext(paired) -> None:
    from types import SimpleNamespace

    texts = ["first, Seed: 1", "second, Seed: 2"]
    assert paired.tab.selected_infotext(texts, SimpleNamespace(index=1)) == "second, Seed: 2"
    assert paired.tab.selected_infotext(texts, SimpleNamespace(index=5)) == ""


def test_unsaved_results_share_one_temporary_folder_and_are_png(paired) -> None:
    tab = paired.tab
    photo, painted = photo_and_mask()
    paired.set_options(samples_save=False, samples_format="jpg")
    (first,) = tab.run_generate(inputs(tab, photo, painted)).files
    (second,) = tab.run_generate(inputs(tab, photo, painted)).files
    assert Path(first).parent == Path(second).parent  # one folder per session, not one per Generate
    assert Path(first).suffix == Path(second).suffix == ".png"  # exact, whatever the WebUI's format
    assert np.array_equal(np.asarray(Image.open(first).convert("RGB"))[painted], photo[painted])
