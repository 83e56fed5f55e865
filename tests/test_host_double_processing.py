"""The double's ``modules.processing``: fields, setters, fake sampling, inpaint paste-back, infotext
(host-contract §3.3, §3.5, §3.7)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.host_double import examples

AFTER_COMPOSITE_PROBE = """
from modules import scripts


class SizeProbe(scripts.Script):
    def __init__(self):
        self.sizes = []

    def title(self):
        return "Size Probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        p.extra_generation_params["Probe key"] = "a, b"
        p.extra_generation_params["Per image"] = ["first", "second"]
        p.extra_generation_params["Computed"] = lambda p, index, **kw: f"seed-{p.all_seeds[index]}"
        p.extra_generation_params["Omitted"] = None

    def postprocess_image(self, p, pp, *args):
        self.sizes.append(("postprocess_image", pp.image.size))

    def postprocess_image_after_composite(self, p, pp, *args):
        self.sizes.append(("after_composite", pp.image.size))
"""


def _solid(color: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    return Image.new("RGB", size, color)


def test_constructor_mask_moves_to_image_mask(webui):
    """§3.5: the constructor's ``mask`` ends up in ``p.image_mask`` and ``p.mask`` is None."""
    mask = Image.new("L", (8, 8), 255)
    p = webui.processing.StableDiffusionProcessingImg2Img(init_images=[_solid((1, 2, 3), (8, 8))], mask=mask)
    assert p.image_mask is mask
    assert p.mask is None
    assert p.inpaint_full_res is True  # "Only masked" is the default


def test_mask_blur_property(webui):
    """§3.5: ``mask_blur`` sets ``mask_blur_x/y`` from ints only; it reads None when they differ."""
    p = webui.processing.StableDiffusionProcessingImg2Img(mask_blur=9)
    assert (p.mask_blur_x, p.mask_blur_y, p.mask_blur) == (9, 9, 9)
    p.mask_blur = 2.5
    assert p.mask_blur == 9
    p.mask_blur_y = 3
    assert p.mask_blur is None
    assert webui.processing.StableDiffusionProcessingImg2Img().mask_blur == 4


def test_sd_model_setter_is_a_no_op(webui):
    """§3.5: ``p.sd_model`` always returns ``shared.sd_model``."""
    p = webui.processing.StableDiffusionProcessingTxt2Img(sd_model="ignored")
    assert p.sd_model is webui.shared.sd_model


def test_setup_runs_once_when_scripts_and_args_are_both_set(webui):
    """§3.3 step 1: setup runs once, when both ``p.scripts`` and a non-empty ``p.script_args`` are set."""
    webui.write_extension("rec", {"scripts/rec.py": examples.recorder()})
    webui.create_ui()
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="x")
    p.scripts = webui.txt2img_runner
    assert p.script_args == {}  # the WebUI's empty default
    p.script_args = (0, True, {})
    p.script_args = (0, False, {})
    setups = [c for c in webui.find_script("recorder").calls if c[0] == "setup"]
    assert setups == [("setup", 0, None, (True, {}), {})]


def test_setup_for_ui_only_scripts_skip_setup_in_the_api(webui):
    """§3.3 step 1: scripts with ``setup_for_ui_only`` get no setup when ``p.is_api``."""
    source = examples.recorder().replace(
        "class Recorder(scripts.Script):", "class Recorder(scripts.Script):\n    setup_for_ui_only = True"
    )
    webui.write_extension("rec", {"scripts/rec.py": source})
    webui.create_ui()
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="x")
    p.is_api = True
    p.scripts = webui.txt2img_runner
    p.script_args = (0, True, {})
    assert webui.find_script("recorder").calls == []


def test_cond_caches_are_class_level_and_reset_by_close(webui):
    """§3.5: cached_c/cached_uc are shared two-element lists; close() resets them unless persistent."""
    proc = webui.processing.StableDiffusionProcessing
    a = webui.processing.StableDiffusionProcessingTxt2Img()
    b = webui.processing.StableDiffusionProcessingImg2Img()
    assert a.cached_c is b.cached_c is proc.cached_c
    assert proc.cached_uc == [None, None]
    old = proc.cached_c
    webui.set_options(persistent_cond_cache=False)
    a.close()
    assert proc.cached_c is not old
    assert proc.cached_c == [None, None]


def test_fake_sampling_is_deterministic_and_tells_inputs_apart(webui):
    """Fake sampler: same seed/prompt → same pixels; another seed, prompt or init image → other pixels."""
    proc = webui.processing

    def txt(seed, prompt):
        p = proc.StableDiffusionProcessingTxt2Img(prompt=prompt, seed=seed, width=8, height=8, do_not_save_samples=True)
        return np.asarray(proc.process_images(p).images[0])

    def img(init):
        p = proc.StableDiffusionProcessingImg2Img(
            init_images=[init], seed=1, width=8, height=8, denoising_strength=0.5, do_not_save_samples=True
        )
        return np.asarray(proc.process_images(p).images[0])

    assert np.array_equal(txt(1, "a"), txt(1, "a"))
    assert not np.array_equal(txt(1, "a"), txt(2, "a"))
    assert not np.array_equal(txt(1, "a"), txt(1, "b"))
    assert not np.array_equal(img(_solid((0, 0, 0), (8, 8))), img(_solid((255, 255, 255), (8, 8))))


def test_only_masked_inpaint_pastes_back_into_the_original_size(webui):
    """§3.5 "Only masked": the crop around the mask is generated at width x height and pasted back into an image
    of the original size; pixels outside the mask stay the original ones."""
    webui.write_extension("probe", {"scripts/probe.py": AFTER_COMPOSITE_PROBE})
    init = _solid((10, 20, 30), (128, 96))
    mask = Image.new("L", (128, 96), 0)
    mask.paste(255, (40, 30, 72, 62))
    processed = webui.img2img(
        init_images=[init],
        mask=mask,
        mask_blur=0,
        inpaint_full_res=True,
        inpaint_full_res_padding=4,
        inpainting_fill=1,
        width=64,
        height=64,
        seed=3,
        denoising_strength=1.0,
    )
    out = np.asarray(processed.images[0])
    assert out.shape == (96, 128, 3)
    assert (out[:20, :] == (10, 20, 30)).all()  # far outside the mask: untouched
    inside = out[35:58, 45:68]
    assert not (inside == (10, 20, 30)).all(axis=-1).any()  # inside: generated
    sizes = webui.find_script("size probe", "img2img").sizes
    assert sizes == [("postprocess_image", (64, 64)), ("after_composite", (128, 96))]
    assert "Inpaint area: Only masked" in processed.infotexts[0]
    assert "Masked area padding: 4" in processed.infotexts[0]


def test_only_masked_paste_location(webui):
    """§3.5: the paste location is the mask box, padded, grown to the processing aspect ratio."""
    mask = Image.new("L", (100, 100), 0)
    mask.paste(255, (10, 20, 30, 60))
    p = webui.processing.StableDiffusionProcessingImg2Img(
        init_images=[_solid((5, 5, 5), (100, 100))],
        mask=mask,
        mask_blur=0,
        inpaint_full_res_padding=5,
        width=32,
        height=32,
        do_not_save_samples=True,
    )
    webui.processing.process_images(p)
    assert p.paste_to == (0, 15, 50, 50)


def test_blank_mask_falls_back_to_whole_image(webui):
    """§3.5: with a blank mask "Only masked" silently becomes whole-image img2img and leaves a comment."""
    p = webui.processing.StableDiffusionProcessingImg2Img(
        init_images=[_solid((5, 5, 5), (40, 40))],
        mask=Image.new("L", (40, 40), 0),
        width=16,
        height=16,
        do_not_save_samples=True,
    )
    processed = webui.processing.process_images(p)
    assert processed.images[0].size == (16, 16)
    assert p.inpaint_full_res is False
    assert "mask is blank" in processed.comments


def test_whole_picture_inpaint_keeps_unmasked_pixels(webui):
    """§3.5: without "Only masked" the image is resized to width x height and only the masked part changes."""
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    p = webui.processing.StableDiffusionProcessingImg2Img(
        init_images=[_solid((200, 100, 50), (32, 32))],
        mask=mask,
        mask_blur=0,
        inpaint_full_res=False,
        inpainting_fill=1,
        width=32,
        height=32,
        denoising_strength=1.0,
        do_not_save_samples=True,
    )
    out = np.asarray(webui.processing.process_images(p).images[0])
    assert (out[:, 20:] == (200, 100, 50)).all()
    assert not (out[:, :12] == (200, 100, 50)).all()


@pytest.mark.parametrize("masked", [True, False])
def test_img2img_changes_every_pixel_it_generates_at_the_init_images_size(webui, masked):
    """The VAE never decodes the pixels it encoded: with the overlay off (what the sampler itself returns),
    every pixel of every channel differs from the init image, masked or not, at the init image's own size."""
    webui.set_options(overlay_inpaint=False)
    photo = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    p = webui.processing.StableDiffusionProcessingImg2Img(
        init_images=[Image.fromarray(photo)],
        mask=mask if masked else None,
        mask_blur=0,
        inpainting_fill=1,
        width=32,
        height=32,
        denoising_strength=0.0,  # no colour painted in: only the decode changes the pixels
        do_not_save_samples=True,
    )
    out = np.asarray(webui.processing.process_images(p).images[0])
    assert out.shape == photo.shape
    assert (out != photo).all()
    assert np.abs(out.astype(int) - photo).max() == 3  # VAE_SHIFT of 255, toward mid-grey


def test_the_overlay_puts_back_only_pixels_the_blurred_mask_leaves_untouched(webui):
    """With the WebUI's overlay (on by default) unmasked pixels far from the mask come back exact, but those
    within the mask blur are mixed with the changed generation: a kept-pixel test at the photo's size fails
    there when Garment Studio's composite is missing."""
    photo = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    p = webui.processing.StableDiffusionProcessingImg2Img(
        init_images=[Image.fromarray(photo)], mask=mask, width=32, height=32, do_not_save_samples=True
    )
    out = np.asarray(webui.processing.process_images(p).images[0])
    unmasked = out[:, 16:]
    assert (unmasked[:, 12:] == photo[:, 28:]).all()  # far from the blurred edge
    assert (unmasked[:, :2] != photo[:, 16:18]).any(axis=-1).all()  # next to it


def test_infotext_contains_extra_generation_params(webui):
    """§3.7: keys added to ``p.extra_generation_params`` in process land in each image's infotext: lists are
    indexed per image, callables called, None omitted, values with ',' or ':' quoted."""
    webui.write_extension("probe", {"scripts/probe.py": AFTER_COMPOSITE_PROBE})
    processed = webui.txt2img(prompt="cat", negative_prompt="dog", seed=10, batch_size=2, width=8, height=8)
    first, second = processed.infotexts[1:]  # [0] is the grid's
    assert first.startswith("cat\nNegative prompt: dog\nSteps: 50")
    assert 'Probe key: "a, b"' in first
    assert "Per image: first" in first
    assert "Per image: second" in second
    assert "Computed: seed-10" in first
    assert "Computed: seed-11" in second
    assert "Omitted" not in first
    assert "Seed: 11" in second
    assert processed.images[1].info["parameters"] == first


def test_processed_fields_and_js(webui):
    """§3.3/§10: Processed carries images, one infotext per image, and js() is the JSON the API returns as info."""
    p = webui.processing.StableDiffusionProcessingTxt2Img(
        prompt="a", seed=5, batch_size=2, width=8, height=8, do_not_save_grid=True, do_not_save_samples=True
    )
    processed = webui.processing.process_images(p)
    assert len(processed.images) == 2
    assert len(processed.infotexts) == 2
    assert processed.info == processed.infotexts[0]
    info = json.loads(processed.js())
    assert info["all_seeds"] == [5, 6]
    assert info["infotexts"] == processed.infotexts
    assert info["version"] == "v1.10.1"


def test_interrupt_stops_before_the_next_iteration_and_skip_is_reset(webui):
    """§3.5 "Progress": ``state.interrupted`` stops before the next batch; ``state.skipped`` is cleared."""
    source = examples.recorder().replace(
        '        self._log("process_batch", p, args, batch_number=kwargs["batch_number"], seeds=list(kwargs["seeds"]))',
        '        self._log("process_batch", p, args)\n        from modules import shared\n        shared.state.skip()\n'
        "        shared.state.interrupt()",
    )
    webui.write_extension("rec", {"scripts/rec.py": source})
    webui.create_ui()
    webui.shared.state.begin(job="test")
    processed = webui.txt2img(prompt="x", n_iter=3, width=8, height=8)
    assert len(processed.images) == 1
    assert [c[1] for c in webui.find_script("recorder").calls if c[0] == "process_batch"] == [0]
    assert webui.shared.state.skipped is False  # cleared at the start of the next iteration, before the break


def test_override_settings_apply_during_the_run_and_are_restored(webui):
    """§3.5: ``override_settings`` are applied after before_process and restored afterwards."""
    source = examples.recorder().replace(
        '        self._log("process", p, args, all_seeds=list(p.all_seeds), all_prompts=list(p.all_prompts))',
        "        from modules import shared\n        self.seen = shared.opts.CLIP_stop_at_last_layers",
    )
    webui.write_extension("rec", {"scripts/rec.py": source})
    webui.txt2img(prompt="x", width=8, height=8, override_settings={"CLIP_stop_at_last_layers": 2})
    assert webui.find_script("recorder").seen == 2
    assert webui.shared.opts.CLIP_stop_at_last_layers == 1


def test_params_txt_is_written(webui):
    """§3.5: process_images writes ``<data_dir>/params.txt`` on the first batch."""
    p = webui.processing.StableDiffusionProcessingTxt2Img(prompt="written", width=8, height=8, do_not_save_samples=True)
    webui.processing.process_images(p)
    assert (webui.root / "params.txt").read_text(encoding="utf8").startswith("written\n")


@pytest.mark.parametrize(
    ("mode", "alpha", "expected"),
    [("RGBA", 100, 0), ("RGBA", 200, 255), ("RGB", None, 128)],
)
def test_create_binary_mask(webui, mode, alpha, expected):
    """§3.4/§10: an RGBA mask whose alpha is not all opaque gives its alpha thresholded at 128; else "L"."""
    color = (0, 0, 0, alpha) if mode == "RGBA" else (128, 128, 128)
    image = Image.new(mode, (4, 4), color)
    mask = webui.processing.create_binary_mask(image)
    assert mask.mode == "L"
    assert mask.getpixel((0, 0)) == expected


def test_postprocess_batch_list_may_change_the_batch(webui):
    """§3.3 step 4.8: postprocess_batch_list may replace the images; the per-image hooks see the new list."""
    source = """
import numpy as np
from modules import scripts


class Doubler(scripts.Script):
    def title(self):
        return "Doubler"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def postprocess_batch_list(self, p, pp, *args, **kwargs):
        pp.images = pp.images + [np.zeros_like(pp.images[0])]
        p.prompts = p.prompts * 2
        p.negative_prompts = p.negative_prompts * 2
        p.seeds = p.seeds * 2
        p.subseeds = p.subseeds * 2
"""
    webui.write_extension("doubler", {"scripts/doubler.py": source})
    processed = webui.txt2img(prompt="x", width=8, height=8)
    assert len(processed.images) == 3  # grid + 2
    assert np.asarray(processed.images[2]).max() == 0
