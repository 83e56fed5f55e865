"""Restoration through the REST routes on the host double (issue 6): ``/generate`` honouring ``request.restore``
(a nested pass per output after its composite, each with its own seed and prompt, the WebUI's job count growing,
the line in the infotexts and ``info["restore"]``) and the standalone ``POST /garment-studio/v1/restore`` (same
body shape, queue lock, 422 by field, 424 for a missing ControlNet model, the optional ControlNet unit fed with
the crop's map). A real offline detector (OpenCV's Haar cascade) finds the astronaut's face on a 192 px crop;
the nested passes run at 64 x 64 so every test stays fast."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
API = "/garment-studio/v1"
RESTORE_MARK = "_garment_studio_restore_pass"
CN_MODELS = ("control_v11p_sd15_canny",)
FACE = {"enabled": True, "face_detector": "haar", "hands": False, "crop_size": 64}
FACE_BOX = (46, 49, 145, 148)  # Haar's box on the crop below (x0, y0, x1, y1)


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head (192 x 192) and a keep mask of the suit below the face (white = kept exactly)."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[16:208, 128:320])
    keep = np.zeros(photo.shape[:2], np.uint8)
    keep[160:, :] = 255
    return photo, keep


def installed(host: Any) -> Any:
    return host.with_garment_studio(CN_MODELS)


@pytest.fixture
def host(webui, fresh_engine_modules):
    return installed(webui)


@pytest.fixture
def both_hosts(any_webui, fresh_engine_modules):
    return installed(any_webui)


def generate_request(**fields: Any) -> dict[str, Any]:
    """No units, the product from the mask, a 2-step generation at the photo's size that keeps the face visible
    (denoising 0.1: the double mixes 10 % of a flat colour in), restore on."""
    return {
        "control": [],
        "segment": {"mask_source": "mask", "matte": "none"},
        "generation": {"steps": 2, "width": 192, "height": 192, "sampler": "Euler a", "denoising_strength": 0.1},
        "prompt": "a portrait",
        "seed": 3,
        "restore": FACE,
        **fields,
    }


class Passes:
    """Every process_images call, the nested restore passes' processing objects apart."""

    def __init__(self, host: Any, monkeypatch: pytest.MonkeyPatch, main_prompts: list[str] | None = None) -> None:
        self.nested: list[dict[str, Any]] = []
        self.host = host
        original = host.processing.process_images

        def recording(p):
            if not getattr(p, RESTORE_MARK, False):
                processed = original(p)
                if main_prompts is not None:  # as wildcards or dynamic prompts would: a prompt per image
                    p.all_prompts = list(main_prompts)
                return processed
            state = host.shared.state
            self.nested.append({"p": p, "seed": p.seed, "prompt": p.prompt, "job_count": state.job_count})
            return original(p)

        monkeypatch.setattr(host.processing, "process_images", recording)


def post(client: Any, route: str, payload: dict, status: int = 200) -> dict:
    response = client.post(f"{API}/{route}", json=payload)
    assert response.status_code == status, response.text
    return response.json()


def test_generate_restores_each_output_with_its_own_seed_and_prompt(host, portrait, monkeypatch, capsys) -> None:
    photo, keep = portrait
    passes = Passes(host, monkeypatch, main_prompts=["first prompt", "second prompt"])
    request = generate_request(generation={**generate_request()["generation"], "batch_count": 2})
    payload = {"request": request, "image": host.b64(photo), "mask": host.b64(keep)}
    answer = post(host.client(), "generate", payload)
    info = answer["info"]
    assert info["restore"] == ["1 face restored", "1 face restored"]
    assert [n["seed"] for n in passes.nested] == info["seeds"]  # each output's own seed (+0: its first face)
    assert info["seeds"][1] == info["seeds"][0] + 1
    assert [n["prompt"] for n in passes.nested] == ["first prompt", "second prompt"]  # each output's own prompt
    assert [n["job_count"] for n in passes.nested] == [3, 4]  # the batch of 2, then one more per pass
    assert all("Garment Studio restore: 1 face restored" in text for text in info["infotexts"])
    assert info["kept"] == [{"kept_pixels": int((keep == 255).sum()), "differing": 0, "exact": True}] * 2
    for b64 in answer["images"]:
        out = np.asarray(host.decode(b64))
        assert np.array_equal(out[keep == 255], photo[keep == 255])
    console = r"\[Garment Studio\] restore: face 1/1 at (\d+),(\d+) (\d+)×(\d+) → 64×64 crop, denoising 0.4"
    lines = re.findall(console, capsys.readouterr().out)
    assert len(lines) == 2  # one console line per nested pass
    assert np.allclose([int(v) for v in lines[0]], (46, 49, 99, 99), atol=4)


def test_generate_refuses_bad_restore_options_before_any_model(host, portrait, monkeypatch) -> None:
    photo, keep = portrait
    passes = Passes(host, monkeypatch)
    for restore, status, expected in (
        ({**FACE, "face_detector": "nope"}, 422, "unknown detector 'nope'"),
        ({**FACE, "face_detector": "mediapipe_hands"}, 422, "finds hands only"),
        ({**FACE, "controlnet": {"kind": "depth"}}, 424, "depth"),  # no depth ControlNet model installed
    ):
        payload = {"request": generate_request(restore=restore), "image": host.b64(photo), "mask": host.b64(keep)}
        answer = post(host.client(), "generate", payload, status)
        assert expected in str(answer)
    assert host.shared.state.begun_jobs == []  # refused before the queue: nothing generated
    assert passes.nested == []


def test_the_restore_route_runs_the_crop_unit_in_each_pass(both_hosts, portrait, monkeypatch) -> None:
    host = both_hosts
    photo, keep = portrait
    passes = Passes(host, monkeypatch)
    restore = {**FACE, "controlnet": {"kind": "canny", "weight": 0.5, "guidance_end": 0.8}}
    payload = {"request": {"prompt": "a portrait", "seed": 5, "restore": restore}, "image": host.b64(photo)}
    payload["mask"] = host.b64(keep)
    answer = post(host.client(), "restore", payload)
    assert set(answer) == {"image", "info"}
    info = answer["info"]
    assert info["restore"] == "1 face restored"
    assert (info["seed"], info["prompt"]) == (5, "a portrait")
    assert info["kept"] == {"kept_pixels": int((keep == 255).sum()), "differing": 0, "exact": True}
    assert host.shared.state.begun_jobs == ["garment_studio"]  # under the queue lock, as the other routes

    (nested,) = passes.nested
    assert nested["seed"] == 5
    (unit,) = host.controlnet_script("img2img").history[-1]  # the nested pass's only unit
    assert unit.model.startswith("control_v11p_sd15_canny")
    assert (unit.weight, unit.guidance_end) == (0.5, 0.8)
    from lib_garment.maps.edges import canny_map

    crop = np.asarray(nested["p"].init_images[0].convert("RGB"))
    assert crop.shape == (64, 64, 3)
    expected = canny_map(crop)
    assert np.array_equal(unit.control_map[..., 0], expected if expected.ndim == 2 else expected[..., 0])

    out = np.asarray(host.decode(answer["image"]))
    assert np.array_equal(out[keep == 255], photo[keep == 255])
    x0, y0, x1, y1 = FACE_BOX
    outside = np.ones(keep.shape, bool)
    outside[y0 - 4 : y1 + 4, x0 - 4 : x1 + 4] = False
    assert np.array_equal(out[outside], photo[outside])  # only the face moved
    assert np.any(out[y0:y1, x0:x1] != photo[y0:y1, x0:x1])


def test_the_restore_route_checks_everything_before_the_queue(host, portrait, monkeypatch) -> None:
    photo, keep = portrait
    passes = Passes(host, monkeypatch)
    client = host.client()
    detail = post(client, "restore", {"request": {"restore": {"blend": "soft"}}, "image": host.b64(photo)}, 422)
    assert detail["detail"][0]["loc"] == ["body", "request", "restore", "blend"]
    bad = {"request": {"restore": FACE}, "image": host.b64(photo), "mask": host.b64(keep[:50])}
    assert "the mask is 192x50 but the image is 192x192" in post(client, "restore", bad, 422)["detail"][0]["msg"]
    missing = {"request": {"restore": {**FACE, "controlnet": {"kind": "depth"}}}, "image": host.b64(photo)}
    answer = post(client, "restore", missing, 424)
    assert "depth" in answer["detail"]
    assert host.shared.state.begun_jobs == []
    assert passes.nested == []


def test_nothing_found_comes_back_unchanged(host, monkeypatch) -> None:
    flat = np.full((96, 96, 3), 120, np.uint8)
    passes = Passes(host, monkeypatch)
    answer = post(host.client(), "restore", {"request": {"restore": FACE}, "image": host.b64(flat)})
    assert np.array_equal(np.asarray(host.decode(answer["image"])), flat)
    assert "nothing detected" in answer["info"]["restore"]
    assert passes.nested == []
