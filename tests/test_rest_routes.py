"""Garment Studio's REST routes, /garment-studio/v1/..., on the host double's app (AUTOMATIC1111 with the fake
sd-webui-controlnet, Forge with the fake lib_controlnet): validation with field paths, segment/maps/generate
with a supplied mask and weight-free maps, the queue lock, --api-auth, --nowebui, and errors that never take
the server down (design.md "Arguments and API"; host-contract §4 "Auth and locking")."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.depth_planes import assert_one_colour, eight_bit_plane
from tests.host_double.host import FLAVOURS

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
API = "/garment-studio/v1"
CN_MODELS = ("control_v11p_sd15_canny",)
WEIGHT_FREE = [{"kind": "mask_canny"}, {"kind": "canny", "weight": 0.5}]
FROM_MASK = {"mask_source": "mask", "matte": "none"}  # alpha = the supplied mask exactly; no model runs
FAST = {"steps": 2, "width": 64, "height": 64, "sampler": "Euler a"}  # a sampler both the WebUI and the double list
HARD = {"control": WEIGHT_FREE, "segment": FROM_MASK, "generation": FAST, "seed": 3}
WAIT_S = 60  # a safety net for a broken test, never a timing assertion


def installed(webui, controlnet: bool = True):
    return webui.with_garment_studio(CN_MODELS if controlnet else None)


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    return installed(any_webui)


@pytest.fixture
def one_host(webui, fresh_engine_modules):
    """One flavour (sd-webui-controlnet appends its maps to the images), for what does not differ."""
    return installed(webui)


def photo_and_mask(width: int = 96, height: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A textured photo and the product mask (white = keep) of a rectangle on it."""
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    keep = np.zeros((height, width), np.uint8)
    keep[20:60, 30:70] = 255
    return photo, keep


def body(host, photo, mask=None, request=None, **extra) -> dict:
    return {
        "request": HARD if request is None else request,
        "image": host.b64(photo),
        "mask": None if mask is None else host.b64(mask),
        **extra,
    }


def post(client, route: str, payload: dict, status: int = 200) -> dict:
    response = client.post(f"{API}/{route}", json=payload)
    assert response.status_code == status, response.text
    return response.json()


def gray(host, b64: str) -> np.ndarray:
    return np.asarray(host.decode(b64))[..., 0]


def engine(name: str):
    """A module of the installed extension's engine (the copy the WebUI imported)."""
    return sys.modules[name]


# -- version, schema, validation -----------------------------------------------------------------------------


def test_invalid_bodies_are_422_naming_every_field(host) -> None:
    client = host.client()
    photo, keep = photo_and_mask()
    request = {"taks": "model", "segment": {"phrases": ["shirt"], "box_threshold": 2}, "control": [{"kind": "x"}]}
    payload = {**body(host, photo, keep, request), "imgae": "typo"}
    del payload["image"]
    detail = post(client, "segment", payload, 422)["detail"]
    by_loc = {tuple(problem["loc"]): problem for problem in detail}
    assert by_loc[("body", "request", "taks")]["msg"] == "unknown field (not part of the Garment Studio request)"
    assert by_loc[("body", "request", "taks")]["type"] == "value_error.extra"
    assert ("body", "request", "segment", "phrases") in by_loc
    assert ("body", "request", "segment", "box_threshold") in by_loc
    assert ("body", "request", "control", 0, "kind") in by_loc
    assert by_loc[("body", "image")]["type"] == "value_error.missing"
    assert by_loc[("body", "imgae")]["type"] == "value_error.extra"
    assert all(set(problem) == {"loc", "msg", "type"} for problem in detail)

    order = {**HARD, "control": [{"kind": "canny", "guidance_start": 0.8, "guidance_end": 0.2}]}
    detail = post(client, "generate", body(host, photo, keep, order), 422)["detail"]
    assert detail == [
        {
            "loc": ["body", "request", "control", 0],
            "msg": "guidance_start must not exceed guidance_end",
            "type": "value_error",
        }
    ]

    response = client.post(f"{API}/maps", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert post(client, "maps", [1, 2], 422)["detail"][0]["type"] == "type_error.dict"  # type: ignore[arg-type]
    detail = post(client, "segment", {**body(host, photo, keep), "mask": "###"}, 422)["detail"]
    assert detail == [{"loc": ["body", "mask"], "msg": "mask: not valid base64", "type": "value_error.image"}]
    detail = post(client, "maps", {**body(host, photo), "maps": {"depth": host.b64(photo), "edges": "x"}}, 422)
    assert [problem["loc"] for problem in detail["detail"]] == [["body", "maps", "__key__"]]
    assert host.shared.state.begun_jobs == []  # all refused before the queue: nothing ran


def test_wrong_types_and_every_bad_image_in_one_422(host) -> None:
    """Nothing is converted (pydantic 1 would make a seed of 1.9 into 1 and "yes" into True), and the request's
    problems come back together with every image that does not decode, not one at a time."""
    client = host.client()
    photo, keep = photo_and_mask()
    request = {**HARD, "seed": 1.9, "prompt": 5, "generation": {**FAST, "only_masked": "yes"}}
    payload = {**body(host, photo, None, request), "image": "@@@", "mask": "not an image", "save_images": "no"}
    payload["maps"] = {"canny": host.b64(photo), "depth": "###"}
    detail = post(client, "generate", payload, 422)["detail"]
    by_loc = {tuple(problem["loc"]): problem for problem in detail}
    assert set(by_loc) == {
        ("body", "request", "seed"),
        ("body", "request", "prompt"),
        ("body", "request", "generation", "only_masked"),
        ("body", "save_images"),
        ("body", "image"),
        ("body", "mask"),
        ("body", "maps", "depth"),
    }
    assert by_loc[("body", "request", "seed")]["msg"].startswith("must be an integer, got a number (1.9)")
    assert by_loc[("body", "request", "seed")]["type"] == "type_error"
    assert by_loc[("body", "image")]["msg"] == "image: not valid base64"
    assert by_loc[("body", "maps", "depth")]["type"] == "value_error.image"
    assert post(client, "maps", {**body(host, photo, keep), "mask": 7}, 422)["detail"][0]["loc"] == ["body", "mask"]
    assert host.shared.state.begun_jobs == []  # all refused before the queue: nothing ran


def test_an_unknown_preset_is_422_naming_the_field_and_the_valid_ones(one_host) -> None:
    photo, keep = photo_and_mask()
    request = {**HARD, "preset": "marketplace-amazon"}
    (problem,) = post(one_host.client(), "generate", body(one_host, photo, keep, request), 422)["detail"]
    assert problem["loc"] == ["body", "request", "preset"]
    assert problem["msg"].startswith("preset: no preset 'marketplace-amazon'; valid names: ")
    assert "amazon-main" in problem["msg"]
    assert one_host.shared.state.begun_jobs == []  # refused before the queue: nothing ran


def test_reference_image_is_refused_where_it_means_nothing(one_host) -> None:
    photo, keep = photo_and_mask()
    request = {**HARD, "reference_image": one_host.b64(photo)}
    (problem,) = post(one_host.client(), "generate", body(one_host, photo, keep, request), 422)["detail"]
    assert problem["loc"] == ["body", "request", "reference_image"]
    assert "the body's image" in problem["msg"]


# -- segment, maps, generate ---------------------------------------------------------------------------------


def test_segment_with_a_supplied_mask(host) -> None:
    client = host.client()
    photo, keep = photo_and_mask()
    payload = {**body(host, photo, keep), "image": host.b64(photo, data_url=True)}
    answer = post(client, "segment", payload)
    assert set(answer) == {"mask", "alpha", "trimap", "overlay", "info"}
    assert np.array_equal(gray(host, answer["mask"]), keep)
    assert np.array_equal(gray(host, answer["alpha"]), keep)  # matte "none": the mask is the alpha
    assert set(np.unique(gray(host, answer["trimap"]))) == {0, 128, 255}
    assert np.asarray(host.decode(answer["overlay"])).shape == photo.shape
    info = answer["info"]
    assert (info["mask_source"], info["source"], info["missing"], info["matte"]) == ("mask", "mask", [], "none")
    assert host.shared.state.begun_jobs == ["garment_studio"]
    assert host.shared.state.job == ""  # ended

    classic = {"segment": {"mask_source": "mask", "matte": "classic", "trimap_size": 3}}
    answer = post(client, "segment", body(host, photo, keep, classic, save_images=True))
    alpha = gray(host, answer["alpha"])
    assert np.all(alpha[26:54, 36:64] == 255)  # well inside: kept
    assert np.all(alpha[:14] == 0)  # well outside: regenerated
    assert answer["info"]["matte"] == "classic"
    assert "save_images is used by /generate only" in answer["info"]["notes"][-1]


def test_maps_of_the_units(host) -> None:
    client = host.client()
    photo, keep = photo_and_mask()
    request = {**HARD, "control": [{"kind": "mask_canny"}, {"kind": "canny"}, {"kind": "lines"}]}
    answer = post(client, "maps", body(host, photo, keep, request))
    maps = {kind: np.asarray(host.decode(b64)) for kind, b64 in answer["maps"].items()}
    assert set(maps) == {"mask_canny", "canny", "lines"}
    assert all(array.shape == photo.shape for array in maps.values())
    edges = engine("lib_garment.maps.edges")
    expected = edges.canny_map(photo, edges.CannyParams(100, 200))
    assert np.array_equal(maps["canny"][..., 0], expected if expected.ndim == 2 else expected[..., 0])
    outline = maps["mask_canny"][..., 0] > 0
    assert outline[20:60, 30].any()
    assert not outline[30:50, 40:60].any()  # on the rectangle's edge only
    info = answer["info"]
    assert info["mask_source"] == "mask"
    assert [unit["kind"] for unit in info["units"]] == ["mask_canny", "canny", "lines"]

    # no unit needs the mask: no mask, no phrases, no segmentation
    canny_only = {"control": [{"kind": "canny"}], "segment": {"matte": "none"}}
    answer = post(client, "maps", body(host, photo, None, canny_only))
    assert list(answer["maps"]) == ["canny"]
    assert np.array_equal(np.asarray(host.decode(answer["maps"]["canny"])), maps["canny"])
    assert (answer["info"]["segmentation"], answer["info"]["mask_source"]) == (None, None)


def test_maps_make_the_normal_unit_from_the_bodys_own_eight_bit_depth(host) -> None:
    """Issue 10 through REST: maps.depth (an 8-bit plane) is what the normal map is made from, with no depth
    model, and it comes back one colour, whether or not a unit needs the mask (two code paths)."""
    client = host.client()
    photo, keep = photo_and_mask(192, 128)
    for dx, dy, start in ((180 / 191, 0.0, 40.0), (0.0, 1.2, 60.0), (0.4, -0.5, 170.0)):
        depth = np.repeat(eight_bit_plane(128, 192, dx, dy, start)[..., None], 3, axis=2)
        no_mask = {"control": [{"kind": "normal"}], "segment": {"matte": "none"}}
        answer = post(client, "maps", body(host, photo, None, no_mask, maps={"depth": host.b64(depth)}))
        normal = np.asarray(host.decode(answer["maps"]["normal"]))
        assert_one_colour(normal)
        with_mask = {**HARD, "control": [{"kind": "mask_canny"}, {"kind": "normal"}]}
        answer = post(client, "maps", body(host, photo, keep, with_mask, maps={"depth": host.b64(depth)}))
        assert np.array_equal(np.asarray(host.decode(answer["maps"]["normal"])), normal)


def test_generate_keeps_every_alpha_one_pixel(host, monkeypatch) -> None:
    seen = []
    real = host.processing.process_images

    def recording(p):
        seen.append((host.shared.state.job, host.shared.state.job_count))
        return real(p)

    monkeypatch.setattr(host.processing, "process_images", recording)
    photo, keep = photo_and_mask()
    request = {**HARD, "generation": {**FAST, "batch_count": 2}}
    answer = post(host.client(), "generate", body(host, photo, keep, request, save_images=True))
    assert seen == [("garment_studio", 2)]  # the WebUI's progress counts our batch
    saved = sorted(Path(host.opts.outdir_img2img_samples).glob("*.png"))
    assert len(saved) == 2  # saved as img2img saves, and after the composite: the files keep the product too
    assert set(answer) == {"images", "info", "mask", "alpha"}
    for path in saved:
        from PIL import Image

        with Image.open(path) as picture:
            on_disk = np.asarray(picture.convert("RGB"))
        assert np.array_equal(on_disk[keep == 255], photo[keep == 255])
        assert "identical to the photo" in picture.info["parameters"]
    assert len(answer["images"]) == 2
    kept = gray(host, answer["alpha"]) == 255
    assert np.array_equal(kept, keep == 255)
    outputs = [np.asarray(host.decode(b64)) for b64 in answer["images"]]
    for out in outputs:
        assert out.shape == photo.shape  # composited at the photo's size, not the 64x64 generation
        assert np.array_equal(out[kept], photo[kept])
        assert np.mean(np.any(out[~kept] != photo[~kept], axis=-1)) > 0.9  # the rest was regenerated
    assert not np.array_equal(outputs[0], outputs[1])
    info = answer["info"]
    assert info["kept"] == [{"kept_pixels": 1600, "differing": 0, "exact": True}] * 2
    assert info["plan"]["generation_size"] == [64, 64]
    assert len(info["seeds"]) == len(info["infotexts"]) == 2
    assert "control_v11p_sd15_canny" in info["controlnet"]
    assert {"setup_s", "segment_s", "maps_s", "generate_s", "queue_wait_s", "total_s"} <= set(info["timings"])
    applied = host.controlnet_script("img2img").history[-1]
    assert [unit.weight for unit in applied] == [1.0, 0.5]
    assert applied[0].source_shape[:2] == photo.shape[:2]
    assert (host.shared.state.job, host.shared.state.job_count) == ("", 0)  # ended


def test_generate_adds_the_exact_matte_and_depth_only_when_asked(any_webui, fresh_engine_modules) -> None:
    """``exact_matte`` (opt-in, for a caller that frames the composite itself): the photo's float matte exactly
    as the engine made it, and the depth map a drop shadow weighs (null without one); without it the answer keeps
    its documented keys, and the other routes say they ignore it."""
    host = any_webui.with_garment_studio(("control_v11p_sd15_canny", "control_v11f1p_sd15_depth"))
    client = host.client()
    photo, keep = photo_and_mask()
    depth = np.repeat(eight_bit_plane(80, 96, 0.5, 0.2, 40.0)[..., None], 3, axis=2)
    soft = {"mask_source": "mask", "matte": "classic", "trimap_size": 3}
    request = {**HARD, "segment": soft, "control": [{"kind": "mask_canny"}, {"kind": "depth"}]}
    maps = {"depth": host.b64(depth)}
    plain = post(client, "generate", body(host, photo, keep, request, maps=maps))
    asked = post(client, "generate", body(host, photo, keep, request, maps=maps, exact_matte=True))
    assert set(plain) == {"images", "info", "mask", "alpha"}
    assert set(asked) == {"images", "info", "mask", "alpha", "matte", "depth"}
    arrays = engine("lib_garment.b64images")
    matte = arrays.decode_array(asked["matte"], "matte")
    assert (matte.dtype, matte.shape) == (np.float32, keep.shape)
    assert ((matte > 0) & (matte < 1)).any()  # the classic matte's soft edge: what the PNG alpha rounds
    assert np.array_equal(engine("lib_garment.segment.matte").alpha_to_uint8(matte), gray(host, asked["alpha"]))
    assert np.array_equal(arrays.decode_array(asked["depth"], "depth"), depth[..., 0])
    without_depth = post(client, "generate", body(host, photo, keep, HARD, exact_matte=True))
    assert without_depth["depth"] is None
    assert np.array_equal(arrays.decode_array(without_depth["matte"], "matte"), (keep == 255).astype(np.float32))
    segmented = post(client, "segment", body(host, photo, keep, HARD, exact_matte=True))
    assert "exact_matte is used by /generate only" in segmented["info"]["notes"][-1]
    assert "matte" not in segmented


# -- the queue -----------------------------------------------------------------------------------------------


class RecordingLock:
    """The WebUI's queue lock, saying when a route starts waiting for it and when it got it."""

    def __init__(self, lock, events: list[str]) -> None:
        self.lock = lock
        self.events = events
        self.waiting = threading.Event()

    def __enter__(self):
        self.events.append("route waits for the lock")
        self.waiting.set()
        self.lock.acquire()
        self.events.append("route holds the lock")
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


def test_generate_waits_for_whoever_holds_the_queue_lock(host, monkeypatch) -> None:
    call_queue = host.module("call_queue")
    client = host.client()
    events: list[str] = []
    recording = RecordingLock(call_queue.queue_lock, events)
    monkeypatch.setattr(call_queue, "queue_lock", recording)
    photo, keep = photo_and_mask()
    answers = []
    payload = body(host, photo, keep)
    worker = threading.Thread(target=lambda: answers.append(client.post(f"{API}/generate", json=payload)))
    with recording.lock:  # a generation of the WebUI's own is running
        worker.start()
        assert recording.waiting.wait(WAIT_S)
        assert "garment_studio" not in host.shared.state.begun_jobs
        events.append("the other generation ends")
    worker.join(WAIT_S)
    assert events == ["route waits for the lock", "the other generation ends", "route holds the lock"]
    assert answers[0].status_code == 200, answers[0].text
    assert host.shared.state.begun_jobs[-1] == "garment_studio"


# -- errors --------------------------------------------------------------------------------------------------


def test_errors_answer_with_a_status_and_the_server_keeps_serving(host, monkeypatch, capsys) -> None:
    client = host.client()
    photo, keep = photo_and_mask()
    detail = post(client, "generate", body(host, photo, keep[:40, :50]), 422)["detail"]
    assert detail == [
        {"loc": ["body", "mask"], "msg": "the mask is 50x40 but the photo is 96x80", "type": "value_error.bad_input"}
    ]
    detail = post(client, "generate", body(host, photo, np.zeros_like(keep)), 422)["detail"]
    assert "the mask keeps nothing" in detail[0]["msg"]
    assert detail[0]["loc"] == ["body", "mask"]
    no_source = {**HARD, "segment": {"matte": "none"}}
    (problem,) = post(client, "generate", body(host, photo, None, no_source), 422)["detail"]
    assert "segment.phrases" in problem["msg"]
    assert problem["loc"] == ["body", "request", "segment", "phrases"]

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    with monkeypatch.context() as patch:
        patch.setattr(engine("lib_garment.host.rest.routes"), "prepare", broken)
        response = client.post(f"{API}/generate", json=body(host, photo, keep))
    assert response.status_code == 500
    assert response.json() == {
        "error": "RuntimeError",
        "detail": "internal error: RuntimeError: boom second line (the traceback is in the WebUI console)",
    }
    assert "Traceback" not in response.text
    assert "Traceback" in capsys.readouterr().err
    assert not host.module("call_queue").queue_lock.locked()
    assert host.shared.state.job == ""
    assert post(client, "generate", body(host, photo, keep))["info"]["kept"][0]["exact"]


def test_missing_controlnet_is_424_and_names_what_to_install(webui, fresh_engine_modules) -> None:
    installed(webui, controlnet=False)
    photo, keep = photo_and_mask()
    answer = post(webui.client(), "generate", body(webui, photo, keep), 424)
    assert answer["error"] == "ControlNetMissing"
    assert "install sd-webui-controlnet" in answer["detail"]


def test_missing_controlnet_model_is_424(forge_webui, fresh_engine_modules) -> None:
    forge_webui.install_controlnet(models=("control_v11f1p_sd15_depth",))
    installed(forge_webui, controlnet=False)
    photo, keep = photo_and_mask()
    answer = post(forge_webui.client(), "generate", body(forge_webui, photo, keep), 424)
    assert "control_v11p_sd15_canny" in answer["detail"]
    assert forge_webui.controlnet_script("img2img").history == []


# -- auth, --nowebui, reload ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_api_auth_guards_every_route(make_webui, fresh_engine_modules, flavour) -> None:
    host = installed(make_webui(flavour, cmd_args=["--api-auth", "user:secret,other:pass2"]))
    client = host.client()
    photo, keep = photo_and_mask()
    routes = (
        ("get", "version"),
        ("get", "schema"),
        ("get", "presets"),
        ("post", "segment"),
        ("post", "generate"),
        ("post", "restore"),
    )
    for method, route in routes:
        kwargs = {"json": body(host, photo, keep)} if method == "post" else {}
        response = getattr(client, method)(f"{API}/{route}", **kwargs)
        assert response.status_code == 401, route
        assert response.headers["www-authenticate"] == "Basic"
        wrong = getattr(client, method)(f"{API}/{route}", auth=("user", "wrong"), **kwargs)
        assert wrong.status_code == 401
        malformed = getattr(client, method)(f"{API}/{route}", headers={"Authorization": "Basic !!"}, **kwargs)
        assert malformed.status_code == 401
        assert malformed.headers["www-authenticate"] == "Basic"
    assert host.shared.state.begun_jobs == []
    assert client.get(f"{API}/version", auth=("user", "secret")).status_code == 200
    assert client.get(f"{API}/version", auth=("other", "pass2")).status_code == 200
    answer = client.post(f"{API}/segment", json=body(host, photo, keep), auth=("user", "secret"))
    assert answer.status_code == 200


def test_without_api_auth_an_authorization_header_is_not_read(any_webui, fresh_engine_modules) -> None:
    """As the WebUI's own routes: no --api-auth, no credentials checked, so a malformed or foreign header passes."""
    client = installed(any_webui).client()
    for header in ("Basic !!!not-base64", "Basic " + "dXNlcg==", "Bearer abc.def"):  # bad, no colon, not Basic
        response = client.get(f"{API}/version", headers={"Authorization": header})
        assert response.status_code == 200, header
    photo, keep = photo_and_mask()
    answer = client.post(f"{API}/segment", json=body(any_webui, photo, keep), headers={"Authorization": "Basic !!"})
    assert answer.status_code == 200


def test_nowebui_version_schema_and_generate(any_webui, fresh_engine_modules) -> None:
    host = installed(any_webui)
    client = host.client(nowebui=True)  # app_started(None, app)
    assert host.demo is None
    openapi = client.get("/openapi.json").json()
    names = ("version", "schema", "presets", "segment", "maps", "generate", "restore")
    assert {f"{API}/{name}" for name in names} <= set(openapi["paths"])
    host.run_app_started(app=host.app)  # a reload calling app_started on the same app: the routes are replaced
    # 7 routes, the catalogue's 3 (batch, batch/{id}, batch/{id}/stop) and evaluate
    assert len([route for route in host.app.routes if getattr(route, "path", "").startswith(API)]) == 11
    assert client.get(f"{API}/version").json() == {
        "version": engine("lib_garment").__version__,
        "request_version": 1,
    }
    schema = client.get(f"{API}/schema").json()
    assert schema == engine("lib_garment.request").request_json_schema()
    assert {"task", "segment", "control", "generation"} <= set(schema["properties"])
    photo, keep = photo_and_mask()
    answer = post(client, "generate", body(host, photo, keep))
    out = np.asarray(host.decode(answer["images"][0]))
    assert np.array_equal(out[keep == 255], photo[keep == 255])


def test_interrupt_during_generate_answers_with_what_was_made(one_host, monkeypatch) -> None:
    """Interrupt after the first of three images: 200 with that image composited, and the answer says so."""
    state = one_host.shared.state
    real = state.nextjob

    def nextjob_then_interrupt() -> None:
        real()
        state.interrupt()

    monkeypatch.setattr(state, "nextjob", nextjob_then_interrupt)
    photo, keep = photo_and_mask()
    request = {**HARD, "generation": {**FAST, "batch_count": 3}}
    answer = post(one_host.client(), "generate", body(one_host, photo, keep, request))
    assert len(answer["images"]) == 1
    out = np.asarray(one_host.decode(answer["images"][0]))
    assert np.array_equal(out[keep == 255], photo[keep == 255])
    info = answer["info"]
    assert info["interrupted"] is True
    assert info["kept"] == [{"kept_pixels": 1600, "differing": 0, "exact": True}]
    assert "interrupted: 1 of 3 images made" in info["notes"]


def test_interrupt_before_the_first_image_is_an_empty_answer_not_an_error(one_host, monkeypatch) -> None:
    api = engine("lib_garment.host.rest.routes")
    real = api.prepare

    def prepare_then_interrupt(*args, **kwargs):
        prepared = real(*args, **kwargs)
        one_host.shared.state.interrupt()
        return prepared

    monkeypatch.setattr(api, "prepare", prepare_then_interrupt)
    photo, keep = photo_and_mask()
    answer = post(one_host.client(), "generate", body(one_host, photo, keep))
    assert answer["images"] == []
    assert answer["info"]["interrupted"] is True  # and no ControlNet map passed off as a result


def test_saved_results_are_png_whatever_the_webuis_format(one_host) -> None:
    """JPEG would change the kept pixels the check vouches for."""
    from PIL import Image

    one_host.set_options(samples_format="jpg")
    photo, keep = photo_and_mask()
    post(one_host.client(), "generate", body(one_host, photo, keep, save_images=True))
    (path,) = Path(one_host.opts.outdir_img2img_samples).iterdir()
    assert path.suffix == ".png"
    with Image.open(path) as picture:
        assert np.array_equal(np.asarray(picture.convert("RGB"))[keep == 255], photo[keep == 255])


def test_only_masked_generation_keeps_the_product_exactly(one_host) -> None:
    photo, keep = photo_and_mask()
    request = {**HARD, "generation": {**FAST, "only_masked": True, "inpaint_padding": 4}}
    answer = post(one_host.client(), "generate", body(one_host, photo, keep, request))
    out = np.asarray(one_host.decode(answer["images"][0]))
    assert np.array_equal(out[keep == 255], photo[keep == 255])
    assert answer["info"]["plan"]["only_masked"] is True
    assert "Inpaint area: Only masked" in answer["info"]["infotexts"][0]
