"""Face and hand restoration inside a WebUI generation, through the host double with a real offline detector
(OpenCV's Haar cascade finds the astronaut's face): the nested img2img pass per detection, no recursion, the
garment's kept pixels and everything outside the matte untouched, seeds per image, interrupts, ControlNet
units of the parent left out, params.txt and ControlNet's hijack restored (issue 6; host-contract §3.5, §3.6).
Also the request's restore options and their mapping onto the engine's settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
CN_MODELS = ("control_v11p_sd15_canny", "control_v11f1p_sd15_depth")
INNER = "_garment_studio_inner"
FACE_BOX = (177, 67, 270, 160)  # Haar's box on skimage's astronaut (x0, y0, x1, y1)
RESTORE = {"enabled": True, "face_detector": "haar", "hands": False}


def settings(**restore: Any) -> dict:
    return {"control": [], "segment": {"mask_source": "mask", "matte": "none"}, "restore": {**RESTORE, **restore}}


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture
def host(webui, fresh_engine_modules):
    return webui.with_garment_studio(CN_MODELS)


@pytest.fixture
def both_hosts(any_webui, fresh_engine_modules):
    return any_webui.with_garment_studio(CN_MODELS)


class Passes:
    """Every nested (INNER_MARK) process_images call: what its processing object looked like."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.on_call: Any = None


def record_passes(host, monkeypatch) -> Passes:
    processing = host.processing
    original = processing.process_images
    passes = Passes()

    def recording(p):
        if not getattr(p, INNER, False):
            return original(p)
        runner = p.scripts
        units = p.script_args[host.controlnet_script("img2img").args_from :] if runner else []
        passes.seen.append(
            {
                "size": (p.width, p.height),
                "init": p.init_images[0].size,
                "mask": np.asarray(p.image_mask.convert("L")).copy(),
                "mask_mode": p.image_mask.mode,
                "full_res": p.inpaint_full_res,
                "fill": p.inpainting_fill,
                "denoising": p.denoising_strength,
                "seed": p.seed,
                "prompt": p.prompt,
                "negative": p.negative_prompt,
                "steps": p.steps,
                "batch": (p.batch_size, p.n_iter),
                "scripts": [s.title() for s in runner.alwayson_scripts] if runner else [],
                "units_enabled": [bool(getattr(u, "enabled", False)) for u in units if u is not None],
                "caches": (p.cached_c, p.cached_uc),
                "p": p,
            }
        )
        if passes.on_call is not None:
            passes.on_call(len(passes.seen))
        return original(p)

    monkeypatch.setattr(processing, "process_images", recording)
    return passes


def img2img(host, photo: np.ndarray, painted: np.ndarray, gs: dict, **extra: Any) -> dict:
    body = {
        "init_images": [host.b64(photo)],
        "mask": host.b64(painted),
        "inpainting_mask_invert": 1,  # the painted product is kept
        "prompt": "a person in a suit",
        "negative_prompt": "blurry",
        "steps": 3,
        "width": photo.shape[1],
        "height": photo.shape[0],
        "seed": 11,
        "denoising_strength": 0.1,
        # the user's inpaint settings stand (the request leaves them open): "original", whole picture
        "inpainting_fill": 1,
        "inpaint_full_res": False,
        "alwayson_scripts": {"garment studio": {"args": [True, gs]}, **extra.pop("alwayson", {})},
        **extra,
    }
    response = host.client().post("/sdapi/v1/img2img", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def product_mask(shape: tuple[int, int]) -> np.ndarray:
    """The garment: the lower body, reaching into the bottom of the face box (so the keep rule matters)."""
    painted = np.zeros(shape, np.uint8)
    painted[140:, 150:330] = 255
    return painted


def outputs(host, body: dict) -> list[np.ndarray]:
    return [np.asarray(host.decode(b)) for b in body["images"]]


def infotexts(body: dict) -> list[str]:
    return json.loads(body["info"])["infotexts"]


# -- through the host double ----------------------------------------------------------------------------------


def test_the_face_is_regenerated_in_one_nested_pass_and_the_rest_is_untouched(both_hosts, astronaut, monkeypatch):
    host = both_hosts
    painted = product_mask(astronaut.shape[:2])
    before = outputs(host, img2img(host, astronaut, painted, settings(enabled=False)))[0]
    passes = record_passes(host, monkeypatch)
    body = img2img(host, astronaut, painted, settings())
    out = outputs(host, body)[0]

    assert len(passes.seen) == 1  # one face, one pass, no recursion
    seen = passes.seen[0]
    assert seen["size"] == (512, 512)
    assert seen["init"] == (512, 512)
    assert seen["mask_mode"] == "L"
    assert seen["full_res"] is False
    assert seen["fill"] == 1
    assert seen["denoising"] == pytest.approx(0.4)
    assert seen["seed"] == 11
    assert seen["steps"] == 3  # the parent's
    assert seen["batch"] == (1, 1)
    assert seen["prompt"] == "a person in a suit"  # empty restore prompts: the main prompt
    assert seen["scripts"] == ["ControlNet"]  # Garment Studio is not in the nested runner
    assert seen["caches"] == ([None, None], [None, None])
    assert 0 < np.count_nonzero(seen["mask"]) < seen["mask"].size  # the skin matte, not the whole crop
    assert "Garment Studio restore" not in seen["p"].extra_generation_params  # our hooks did nothing in it

    keep = painted == 255
    assert np.array_equal(out[keep], astronaut[keep])  # the garment is still the photo's, bit for bit
    from lib_garment.restore.detectors.haar import HaarFaceDetector

    (face,) = HaarFaceDetector()(before)  # the box the restore pass saw (the generation moved it by a pixel)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert np.allclose((x0, y0, x1, y1), FACE_BOX, atol=3)
    outside = np.ones(painted.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], before[outside])  # nothing outside the face box moved
    changed = np.any(out != before, axis=-1)
    assert changed[y0:y1, x0:x1].sum() > 500  # and the face did change
    assert "Garment Studio restore: 1 face restored" in infotexts(body)[0]
    assert "Garment Studio kept" in infotexts(body)[0]


def test_nothing_detected_passes_the_image_through_with_a_note(host, monkeypatch):
    rng = np.random.default_rng(3)
    flat = np.full((128, 128, 3), 90, np.uint8) + rng.integers(0, 3, (128, 128, 3), dtype=np.uint8)
    painted = np.zeros((128, 128), np.uint8)
    painted[40:90, 40:90] = 255
    before = outputs(host, img2img(host, flat, painted, settings(enabled=False)))[0]
    passes = record_passes(host, monkeypatch)
    body = img2img(host, flat, painted, settings())
    assert passes.seen == []
    assert np.array_equal(outputs(host, body)[0], before)
    assert "nothing detected" in infotexts(body)[0]
    assert "Garment Studio error" not in infotexts(body)[0]


def test_a_batch_of_two_restores_each_image_with_its_own_seed(host, astronaut, monkeypatch):
    painted = product_mask(astronaut.shape[:2])
    passes = record_passes(host, monkeypatch)
    body = img2img(host, astronaut, painted, settings(), batch_size=2)
    assert [s["seed"] for s in passes.seen] == [11, 12]
    texts = infotexts(body)
    assert all("Garment Studio restore: 1 face restored" in t for t in texts[:2])
    keep = painted == 255
    for out in outputs(host, body)[:2]:
        assert np.array_equal(out[keep], astronaut[keep])


def two_faces(astronaut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    photo = np.ascontiguousarray(np.concatenate([astronaut, astronaut], axis=1))
    painted = np.zeros(photo.shape[:2], np.uint8)
    painted[300:, :] = 255
    return photo, painted


def test_an_interrupt_during_the_passes_stops_the_next_ones(host, astronaut, monkeypatch):
    photo, painted = two_faces(astronaut)
    passes = record_passes(host, monkeypatch)
    passes.on_call = lambda n: host.shared.state.interrupt() if n == 1 else None
    body = img2img(host, photo, painted, settings(face_prompt="a face [SEP] another face"))
    assert len(passes.seen) == 1  # the second face was never regenerated
    assert passes.seen[0]["prompt"] == "a face"
    text = infotexts(body)[0]
    assert "detection 1: interrupted" in text


def test_a_failing_pass_skips_that_detection_only(host, astronaut, monkeypatch):
    photo, painted = two_faces(astronaut)
    passes = record_passes(host, monkeypatch)
    devices = host.module("devices")

    def nans(n):
        if n == 1:
            raise devices.NansException("A tensor with all NaNs was produced in Unet.")

    passes.on_call = nans
    body = img2img(host, photo, painted, settings())
    assert [s["seed"] for s in passes.seen] == [11, 12]  # seed + detection index
    text = infotexts(body)[0]
    assert "1 face restored" in text
    assert "NansException" in text


def test_the_parents_controlnet_units_are_off_in_the_nested_pass(host, astronaut, monkeypatch):
    painted = product_mask(astronaut.shape[:2])
    depth = next(t for t in host.controlnet_model_titles() if "depth" in t)
    own = {"enabled": True, "module": "none", "model": depth, "image": host.b64(astronaut), "weight": 0.3}
    passes = record_passes(host, monkeypatch)
    img2img(host, astronaut, painted, settings(), alwayson={"controlnet": {"args": [own]}})
    history = host.controlnet_script("img2img").history
    assert len(history[-2]) == 1  # the parent's unit ran in the parent
    assert history[-1] == []  # and not in the nested pass
    assert passes.seen[0]["units_enabled"]  # ControlNet's slots are there,
    assert not any(passes.seen[0]["units_enabled"])  # every one disabled


def test_params_txt_and_the_controlnet_hijack_are_restored(host, astronaut, monkeypatch):
    processing = host.processing
    original_inner = processing.process_images_inner
    hijacked_calls = []

    def hijacked(p):
        hijacked_calls.append(getattr(p, INNER, False))
        return original_inner(p)

    monkeypatch.setattr(processing, "process_images_inner", hijacked)
    monkeypatch.setattr(processing, "__controlnet_original_process_images_inner", original_inner, raising=False)
    painted = product_mask(astronaut.shape[:2])
    passes = record_passes(host, monkeypatch)
    body = img2img(host, astronaut, painted, settings())
    assert len(passes.seen) == 1
    assert hijacked_calls == [False]  # the nested pass ran the original
    assert processing.process_images_inner is hijacked  # and the hijack is back
    params = (Path(host.module("paths").data_path) / "params.txt").read_text(encoding="utf8")
    assert "Denoising strength: 0.1" in params  # the parent's, not the nested pass's 0.4
    assert "1 face restored" in infotexts(body)[0]


def test_bad_restore_options_stop_the_job_before_generating(host, astronaut, monkeypatch):
    painted = product_mask(astronaut.shape[:2])
    passes = record_passes(host, monkeypatch)
    for gs, expected in (
        (settings(faces=False), "faces or hands"),
        (settings(face_detector="nope"), "unknown detector 'nope'"),
        (settings(face_detector="missing/face.pt"), "no such detector file"),
        (settings(blend="soft"), "restore.blend"),
        (settings(hands=True, hand_detector="haar"), "finds faces only"),
    ):
        body = img2img(host, astronaut, painted, gs)
        assert body["images"] == []
        assert expected in json.loads(body["info"])["extra_generation_params"]["Garment Studio error"]
    assert passes.seen == []


def test_an_unavailable_detector_is_named_and_the_image_kept(host, astronaut, monkeypatch):
    host.set_options(garment_studio_offline=True)  # hand_yolov8n is not in the test's models folder
    painted = product_mask(astronaut.shape[:2])
    passes = record_passes(host, monkeypatch)
    body = img2img(host, astronaut, painted, settings(faces=False, hands=True))
    assert passes.seen == []
    text = infotexts(body)[0]
    assert 'Garment Studio restore: "hand_detector hand_yolov8n unavailable' in text
    assert "passed through untouched" in text
    assert np.array_equal(outputs(host, body)[0][painted == 255], astronaut[painted == 255])


def test_txt2img_restore_needs_no_reference_photo(host, monkeypatch):
    passes = record_passes(host, monkeypatch)
    response = host.client().post(
        "/sdapi/v1/txt2img",
        json={
            "prompt": "a model",
            "steps": 2,
            "width": 64,
            "height": 64,
            "alwayson_scripts": {"garment studio": {"args": [True, {"control": [], "restore": RESTORE}]}},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["images"]) == 1
    text = infotexts(body)[0]
    assert "Garment Studio error" not in text
    assert 'Garment Studio restore: "nothing detected' in text  # the double paints a solid colour
    assert passes.seen == []


# -- the request's options and the engine's settings -----------------------------------------------------------


def test_restore_options_keep_their_defaults_and_refuse_unknown_fields():
    from lib_garment.errors import BadInput
    from lib_garment.request import parse_request

    options = parse_request({}).restore
    assert (options.enabled, options.faces, options.hands, options.denoising_strength) == (False, True, True, 0.4)
    assert (options.face_detector, options.hand_detector, options.top_k, options.steps) == (
        "face_yolov8n",
        "hand_yolov8n",
        None,
        None,
    )
    with pytest.raises(BadInput, match="restore.detector: unknown field"):
        parse_request({"restore": {"detector": "haar"}})
    with pytest.raises(BadInput, match="crop_size must be a multiple of 8"):
        parse_request({"restore": {"crop_size": 500}})
    with pytest.raises(BadInput, match="restore.top_k"):
        parse_request({"restore": {"top_k": 0}})


def test_options_map_onto_the_engine_settings():
    from lib_garment.request import parse_request
    from lib_garment.restore.options import detector_plan, settings_from_request

    options = parse_request(
        {
            "restore": {
                "face_detector": "HAAR",
                "hand_detector": "hand_yolov8n.pt",
                "confidence": 0.5,
                "top_k": 2,
                "padding": 0.5,
                "crop_size": 256,
                "blend": "mixed",
                "matte": "none",
                "face_prompt": "a face [SEP] [PROMPT], smiling",
            }
        }
    ).restore
    s = settings_from_request(options, "main", "neg")
    assert (s.filter.confidence, s.filter.top_k, s.crop.margin, s.crop.size) == (0.5, 2, 0.5, 256)
    assert (s.blend, s.matte, s.face_prompt, s.main_prompt, s.main_negative_prompt) == (
        "mixed",
        "none",
        "a face [SEP] [PROMPT], smiling",
        "main",
        "neg",
    )
    assert [(c.name, c.kind) for c in detector_plan(options)] == [("haar_face", "face"), ("hand_yolov8n", "hand")]
    assert settings_from_request(parse_request({}).restore).filter.top_k == 0  # None: all


def test_controlnet_is_hooked_again_for_the_next_batch_after_nested_passes(host) -> None:
    """The nested pass unhooks the parent's ControlNet; a later batch needs ControlNet's ``process`` again."""
    import importlib
    from types import SimpleNamespace

    restore_pass = importlib.import_module("lib_garment.host.passes.restore_pass")  # the installed copy

    calls = []

    class FakeControlNet:
        args_from, args_to = 1, 3

        def title(self) -> str:
            return "ControlNet"

        def process(self, p, *args) -> None:
            calls.append(args)

    runner = SimpleNamespace(alwayson_scripts=[FakeControlNet()])
    unit_args = (0, "unit-a", "unit-b", "other")
    for iteration, batch_index, expected in ((0, 1, 1), (0, 0, 0), (1, 1, 0)):
        calls.clear()
        p = SimpleNamespace(
            iteration=iteration, n_iter=2, batch_index=batch_index, batch_size=2, scripts=runner, script_args=unit_args
        )
        restore_pass.rehook_controlnet(p)
        assert len(calls) == expected  # only after the last image of a batch that has a successor
    restore_pass.rehook_controlnet(
        SimpleNamespace(iteration=0, n_iter=2, batch_index=1, batch_size=2, scripts=runner, script_args=unit_args)
    )
    assert calls[-1] == ("unit-a", "unit-b")


# -- issue 6 follow-ups: the crop unit, Skip, fallbacks (a 192 px head, 64 px passes: fast) ----------------------


def head(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's head, 192 x 192 (Haar finds the face at about 46, 49 - 145, 148)."""
    return np.ascontiguousarray(astronaut[16:208, 128:320])


SMALL = {**RESTORE, "crop_size": 64}


def suit(shape: tuple[int, int]) -> np.ndarray:
    painted = np.zeros(shape, np.uint8)
    painted[160:, :] = 255
    return painted


def test_the_crop_unit_takes_a_free_slot_and_never_more(host, astronaut, monkeypatch):
    """One ControlNet slot, used by the user's own unit in the parent: the nested pass disables it and puts the
    request's crop unit (its map made from the crop) in that slot; the slice never grows."""
    host.set_options(control_net_unit_count=1)
    host.load_scripts()  # the slot count is read when the UI is built
    photo = head(astronaut)
    depth = next(t for t in host.controlnet_model_titles() if "depth" in t)
    own = {"enabled": True, "module": "none", "model": depth, "image": host.b64(photo), "weight": 0.3}
    passes = record_passes(host, monkeypatch)
    gs = settings(**SMALL, controlnet={"kind": "canny", "weight": 0.6})
    body = img2img(host, photo, suit(photo.shape[:2]), gs, alwayson={"controlnet": {"args": [own]}})
    assert "1 face restored" in infotexts(body)[0]
    cn = host.controlnet_script("img2img")
    parent_units, nested_units = cn.history[-2], cn.history[-1]
    assert [u.weight for u in parent_units] == [0.3]  # the user's unit, in the parent only
    (unit,) = nested_units
    assert unit.model.startswith("control_v11p_sd15_canny")
    assert unit.weight == 0.6
    (seen,) = passes.seen
    assert cn.args_to - cn.args_from == 1
    (slot,) = seen["p"].script_args[cn.args_from : cn.args_to]  # ControlNet's slice is still one slot long,
    assert slot.enabled  # and holds the crop unit
    from lib_garment.maps.edges import canny_map

    crop = np.asarray(seen["p"].init_images[0].convert("RGB"))
    expected = canny_map(crop)
    assert np.array_equal(unit.control_map[..., 0], expected if expected.ndim == 2 else expected[..., 0])


def test_skip_ends_this_images_passes_and_the_next_image_restores_again(host, astronaut, monkeypatch):
    photo = np.ascontiguousarray(np.concatenate([head(astronaut)] * 2, axis=1))  # two faces side by side
    original = host.processing.process_images
    seeds = []

    def skip_during_the_first_pass(p):
        processed = original(p)
        if getattr(p, INNER, False):
            seeds.append(p.seed)
            if len(seeds) == 1:
                host.shared.state.skip()  # pressed while the first nested pass samples
        return processed

    monkeypatch.setattr(host.processing, "process_images", skip_during_the_first_pass)
    body = img2img(host, photo, suit(photo.shape[:2]), settings(**SMALL, sort="left_to_right"), batch_size=2)
    assert seeds == [11, 12, 13]  # image 1: its first face only; image 2: both faces (seed 12, +1)
    first, second = infotexts(body)[:2]
    assert "1 face restored" in first
    assert "detection 1: skipped" in first
    assert "2 faces restored" in second
    assert host.shared.state.skipped is False


def test_a_matte_model_that_cannot_be_had_is_named_in_the_infotext(host, astronaut):
    host.set_options(garment_studio_offline=True)  # no ViTMatte in the test's models folder
    photo = head(astronaut)
    body = img2img(host, photo, suit(photo.shape[:2]), settings(**SMALL, matte="model"))
    text = infotexts(body)[0]
    assert "1 face restored" in text
    assert "restore matte: ViTMatte is not available" in text
    assert "classic matte is used instead" in text
