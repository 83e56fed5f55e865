"""``python -m lib_garment run``: the main job against the host double served over real HTTP (uvicorn in a
thread), the preview-only mode, the server checks that come before any model runs, and the exit codes
(0 ok, 2 bad input — nothing written —, 3 something missing, 1 the server failed during generation)."""

from __future__ import annotations

import contextlib
import http.server
import json
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from lib_garment import samples
from lib_garment.cli import main as cli
from lib_garment.cli import run_request
from lib_garment.client.errors import WebUIError
from lib_garment.client.http import normalize_url
from lib_garment.client.payload import img2img_payload, parse_img2img_answer, unit_dict
from lib_garment.client.webui import checkpoint_base
from lib_garment.errors import ModelUnavailable
from lib_garment.generate.plan import GenerationPlan, UnitPlan
from tests.presets_support import write_preset

W, H = 160, 120
CANNY = "control_v11p_sd15_canny"
PREVIEW = sorted(["alpha.png", "inpaint_mask.png", "mask.png", "maps", "overlay.png", "plan.json"])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    photo[30:90, 40:120] = (200, 40, 40)
    keep = np.zeros((H, W), np.uint8)
    keep[30:90, 40:120] = 255
    paths = {"photo": tmp_path / "photo.png", "keep": tmp_path / "keep.png", "models": tmp_path / "models"}
    Image.fromarray(photo).save(paths["photo"])
    Image.fromarray(keep).save(paths["keep"])
    paths["models"].mkdir()
    return paths


def run(*args: object) -> int:
    """The command in-process; argparse errors end in SystemExit, as they do for users."""
    try:
        return cli.main(["run", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def job(files: dict[str, Path], out: Path, *extra: object) -> list[object]:
    """The mask-driven job that needs no model file: weight-free units, the classic matte offline."""
    return [
        files["photo"], "--mask", files["keep"], "--units", "mask_canny,canny", "--out", out,
        "--models-dir", files["models"], "--offline", *extra,
    ]  # fmt: skip


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """The FastAPI app on a free local port with uvicorn in a thread; stopped (and joined) afterwards."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    server.install_signal_handlers = lambda: None  # older uvicorn: signals only in the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def launch(host: Any, models: tuple[str, ...] | None = (CANNY,)) -> Any:
    if models is not None:
        host.install_controlnet(models=models)
    return host.launch(nowebui=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the whole job over HTTP ---------------------------------------------------------------------------------------
def test_the_job_generates_on_the_webui_and_keeps_the_product_exactly(
    any_webui, files: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    with serve_app(launch(any_webui)) as url:
        code = run(*job(files, out, "--prompt", "on a beach", "--seed", 5, "--steps", 3, "--batch-count", 2,
                        "--webui", url))  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted([*PREVIEW, "result-1.png", "result-2.png", "result.json"])
    assert captured.out.split()[-3:] == [str(out / n) for n in ("result-1.png", "result-2.png", "result.json")]

    photo, alpha = read(files["photo"]), read(out / "alpha.png")
    kept = alpha == 255
    assert kept.sum() > 1000
    first, second = read(out / "result-1.png"), read(out / "result-2.png")
    for result in (first, second):
        assert result.shape == photo.shape
        assert np.array_equal(result[kept], photo[kept])
        assert not np.array_equal(result[alpha == 0], photo[alpha == 0])  # the rest was regenerated
    assert not np.array_equal(first, second)  # seeds 5 and 6

    report = json.loads((out / "result.json").read_text())
    assert report["exact"] is True
    assert [i["kept"]["exact"] for i in report["images"]] == [True, True]
    assert [i["seed"] for i in report["images"]] == [5, 6]
    assert all("on a beach" in i["infotext"] for i in report["images"])
    flavour = "forge" if any_webui.is_forge else "sd-webui-controlnet"
    title = next(t for t in any_webui.controlnet_model_titles() if "canny" in t)
    assert report["server"]["controlnet"]["flavour"] == flavour
    assert report["server"]["base"] == "sd15"
    assert report["controlnet"]["applied"] is True
    assert [(u["kind"], u["model"]) for u in report["controlnet"]["units"]] == [("mask_canny", title), ("canny", title)]
    assert report["plan"]["units"][0]["model"] == title
    assert report["asked"]["steps"] == 3
    assert report["asked"]["cfg_scale"] == 7.0  # the UI's default, not the API's
    assert {"read_s", "check_s", "prepare", "generate_s", "composite_s", "total_s"} <= set(report["timings"])
    assert "kept pixels, identical to the photo" in captured.err

    # The fake ControlNet applied both units, spelled the way this flavour wants them, from full-size maps.
    applied = any_webui.controlnet_script("img2img").history[-1]
    module = "None" if any_webui.is_forge else "none"
    assert [(u.module, u.model, u.weight, u.resize_mode) for u in applied] == [(module, title, 1.0, "Just Resize")] * 2
    assert all(u.source_shape == (H, W, 3) for u in applied)
    assert np.array_equal(applied[0].control_map, read(out / "maps" / "mask_canny.png")[..., None].repeat(3, 2))


def test_a_preset_frames_and_checks_each_generated_image(webui, files: dict[str, Path], tmp_path: Path, capsys) -> None:
    """Without output.background the generated scene is framed: each exact composite goes onto the preset's
    canvas, is written in its format and checked; result.json carries each image's compliance report."""
    rules = [{"id": "white", "kind": "background_colour", "value": "#FFFFFF"}, {"id": "fill", "kind": "min_fill",
             "value": 0.5}, {"id": "png", "kind": "formats", "value": ["png"]}]  # fmt: skip
    canvas = {"width": 168, "height": 168, "fill": 0.5, "format": "png"}
    write_preset(files["models"] / "garment_studio" / "presets", "test-shop", canvas, rules)
    out = tmp_path / "out"
    with serve_app(launch(webui)) as url:
        code = run(*job(files, out, "--seed", 5, "--steps", 3, "--batch-count", 2, "--preset", "test-shop",
                        "--shadow", "contact", "--webui", url))  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = ["composite-1.png", "composite-2.png", "result-1-alpha.png", "result-1.png", "result-2-alpha.png",
               "result-2.png", "result.json"]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted([*PREVIEW, *results])
    assert captured.out.split()[-1] == str(out / "result.json")

    photo, kept = read(files["photo"]), read(out / "alpha.png") == 255
    for i in (1, 2):
        assert np.array_equal(read(out / f"composite-{i}.png")[kept], photo[kept])  # the exact composite
        assert Image.open(out / f"result-{i}.png").size == (168, 168)  # framed on the preset's canvas
    report = json.loads((out / "result.json").read_text())
    assert report["exact"] is True
    assert report["preset"] == "test-shop"
    for i, image in enumerate(report["images"], start=1):
        assert (image["file"], image["alpha"], image["composite"]) == (
            f"result-{i}.png",
            f"result-{i}-alpha.png",
            f"composite-{i}.png",
        )
        assert image["kept"]["exact"] is True
        compliance = image["compliance"]
        assert compliance["framing"]["canvas"] == [168, 168]
        assert "background: the generated scene" in compliance["done"]
        status = {rule["id"]: rule["status"] for rule in compliance["rules"]}
        assert status == {"white": "fail", "fill": "pass", "png": "pass"}  # a generated scene is no white wall
        assert compliance["verdict"] == "fail"
    assert report["verdict"] == "fail"
    assert "result-1.png: test-shop: fail (white: " in captured.err
    assert "composite-1.png: " in captured.err


def test_preview_only_writes_the_preview_and_says_how_to_generate(files: dict[str, Path], tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert run(*job(files, out, "--prompt", "studio light", "--seed", 3)) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == PREVIEW
    assert sorted(p.name for p in (out / "maps").iterdir()) == ["canny.png", "mask_canny.png"]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["mask_source"] == "mask"
    assert [u["kind"] for u in plan["plan"]["units"]] == ["mask_canny", "canny"]
    assert np.array_equal(read(out / "inpaint_mask.png") == 255, read(out / "alpha.png") < 255)
    assert sorted(captured.out.split()) == sorted(str(p) for p in out.rglob("*") if p.is_file())
    for needed in ("--api", "sd-webui-controlnet", CANNY):
        assert needed in captured.err
    command = next(line.strip() for line in captured.err.splitlines() if "lib_garment run" in line)
    assert command.endswith("--webui http://127.0.0.1:7860")
    words = shlex.split(command)[3:]  # after "python -m lib_garment"
    again = cli.build_parser().parse_args(words)
    given = cli.build_parser().parse_args(["run", *map(str, job(files, out, "--prompt", "studio light", "--seed", 3))])
    assert {**vars(again), "webui": None} == vars(given)


def test_unit_guidance_and_maps_of_ones_own(files: dict[str, Path], tmp_path: Path) -> None:
    own = np.zeros((H, W, 3), np.uint8)
    own[::7] = 255
    Image.fromarray(own).save(tmp_path / "lines.png")
    out = tmp_path / "out"
    args = job(files, out, "--maps", f"lines={tmp_path / 'lines.png'}")
    args[args.index("mask_canny,canny")] = "mask_canny:0.8:0:0.6,lines"
    assert run(*args) == 0
    units = json.loads((out / "plan.json").read_text())["plan"]["units"]
    assert [(u["kind"], u["weight"], u["guidance_start"], u["guidance_end"]) for u in units] == [
        ("mask_canny", 0.8, 0.0, 0.6),
        ("lines", 1.0, 0.0, 1.0),
    ]
    assert np.array_equal(read(out / "maps" / "lines.png"), own)  # used as given, not made


def test_flags_override_the_request_file(files: dict[str, Path], tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"prompt": "from the file", "generation": {"steps": 10, "cfg_scale": 5}, "seed": 1}))
    out = tmp_path / "out"
    assert run(*job(files, out, "--request", request, "--steps", 12)) == 0
    plan = json.loads((out / "plan.json").read_text())["plan"]
    assert (plan["prompt"], plan["steps"], plan["cfg_scale"], plan["seed"]) == ("from the file", 12, 5, 1)


# -- the server is checked before anything runs --------------------------------------------------------------------
def test_an_unreachable_server_exits_3_before_any_model_and_writes_nothing(files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert run(*job(files, out, "--webui", f"http://127.0.0.1:{closed_port()}")) == 3
    err = capsys.readouterr().err
    assert "nothing answers at http://127.0.0.1:" in err
    assert "--api" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(files["models"].iterdir()) == []


class _Routes(http.server.BaseHTTPRequestHandler):
    """A stand-in server: ``routes[(method, path)] = (status, body bytes, delay s)``; 404 otherwise."""

    routes: ClassVar[dict[tuple[str, str], tuple[int, bytes, float]]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        missing = (404, b'{"detail":"Not Found"}', 0)
        status, body, delay = self.routes.get((self.command, self.path.split("?")[0]), missing)
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    do_GET = do_POST = _answer  # http.server's names

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def stand_in(routes: dict[tuple[str, str], tuple[int, bytes, float]]) -> Iterator[str]:
    handler = type("Handler", (_Routes,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


OPTIONS = (200, b'{"sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors [6ce0161689]"}', 0)


@pytest.mark.parametrize(
    ("routes", "code", "message"),
    [
        ({}, 3, "start the WebUI with --api"),
        ({("GET", "/sdapi/v1/options"): (200, b"<html>a web page</html>", 0)}, 3, "not JSON"),
        ({("GET", "/sdapi/v1/options"): OPTIONS}, 3, "has no ControlNet"),
        ({("GET", "/sdapi/v1/options"): (401, b'{"detail": "Not authenticated"}', 0)}, 2, "--api-auth USER:PASS"),
    ],
    ids=["no api", "not json", "no controlnet", "needs auth"],
)
def test_server_checks_exit_before_any_model(files, tmp_path: Path, capsys, routes, code, message) -> None:
    out = tmp_path / "out"
    with stand_in(routes) as url:
        assert run(*job(files, out, "--webui", url)) == code
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((500, b'{"error": "OutOfMemoryError", "detail": "", "errors": "CUDA out of memory"}', 0), "out of memory"),
        ((200, b"not json at all", 0), "not JSON"),
        ((200, b'{"images": [], "info": "{}"}', 0), "no image"),
        ((200, b"{}", 2), "within 0.5 s"),
    ],
    ids=["http 500", "not json", "no image", "timeout"],
)
def test_generation_failures_exit_1_keeping_the_preview_only(files, tmp_path: Path, capsys, answer, message) -> None:
    out = tmp_path / "out"
    routes = {("GET", "/sdapi/v1/options"): OPTIONS, ("POST", "/sdapi/v1/img2img"): answer}
    with stand_in(routes) as url:
        code = run(files["photo"], "--mask", files["keep"], "--units", "none", "--out", out, "--models-dir",
                   files["models"], "--offline", "--webui", url, "--timeout", 0.5)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == PREVIEW  # no result.json: the set is not complete


def test_units_the_server_dropped_are_reported(files, tmp_path: Path, capsys) -> None:
    """Forge and sd-webui-controlnet answer HTTP 200 when they skip a unit: no map comes back for it."""
    from lib_garment.b64images import encode_png

    generated = encode_png(np.zeros((H, W, 3), np.uint8))
    routes = {
        ("GET", "/sdapi/v1/options"): OPTIONS,
        ("GET", "/controlnet/model_list"): (
            200,
            json.dumps({"model_list": ["None", f"{CANNY} [a1b2c3d4]"]}).encode(),
            0,
        ),
        ("POST", "/sdapi/v1/img2img"): (200, json.dumps({"images": [generated], "info": "{}"}).encode(), 0),
    }
    out = tmp_path / "out"
    with stand_in(routes) as url:
        assert run(*job(files, out, "--webui", url)) == 0
    err = capsys.readouterr().err
    assert "warning: ControlNet sent back maps for 0 of 2 units" in err
    report = json.loads((out / "result.json").read_text())
    assert report["server"]["controlnet"]["flavour"] == "forge"  # no /controlnet/version
    assert report["controlnet"]["applied"] is False
    assert report["warnings"]
    assert report["exact"] is True  # the product is still the photographed one


def test_a_missing_controlnet_model_names_what_to_install(webui, files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    with serve_app(launch(webui)) as url:
        code = run(files["photo"], "--mask", files["keep"], "--units", "mask_canny,normal", "--out", out,
                   "--models-dir", files["models"], "--offline", "--webui", url)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert "no ControlNet model for the normal map" in err
    assert "control_v11p_sd15_normalbae" in err
    assert not out.exists()
    assert list(files["models"].iterdir()) == []  # the depth model was not even looked for


def test_controlnet_missing_exits_3_unless_the_request_allows_it(webui, files, tmp_path: Path, capsys) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"allow_without_controlnet": True}))
    with serve_app(launch(webui, models=None)) as url:
        assert run(*job(files, tmp_path / "refused", "--webui", url)) == 3
        assert "install sd-webui-controlnet" in capsys.readouterr().err
        assert not (tmp_path / "refused").exists()
        assert run(*job(files, tmp_path / "out", "--webui", url, "--request", request)) == 0
    report = json.loads((tmp_path / "out" / "result.json").read_text())
    assert report["exact"] is True
    assert report["controlnet"]["units"] == []
    assert "no ControlNet" in " ".join(report["notes"])


def test_api_auth_and_sampler_are_checked_first(make_webui, files, tmp_path: Path, capsys) -> None:
    host = make_webui("a1111", cmd_args=["--api-auth", "user:secret"])
    out = tmp_path / "out"
    with serve_app(launch(host)) as url:
        assert run(*job(files, out, "--webui", url)) == 2
        assert "--api-auth USER:PASS" in capsys.readouterr().err
        assert run(*job(files, out, "--webui", url, "--api-auth", "user:wrong")) == 2
        assert "refused the user and password" in capsys.readouterr().err
        assert run(*job(files, out, "--webui", url, "--api-auth", "user:secret", "--sampler", "Nonsense")) == 2
        assert "has no such sampler (it has: DPM++ 2M, " in capsys.readouterr().err
        assert not out.exists()
        sampler = ("--sampler", "DPM++ 2M Karras")  # the old "sampler + scheduler" spelling is accepted
        assert run(*job(files, out, "--webui", url.replace("://", "://user:secret@"), *sampler)) == 0
    report = json.loads((out / "result.json").read_text())
    assert report["exact"] is True
    assert report["server"]["url"] == url  # no password in result.json
    assert "secret" not in (out / "result.json").read_text()


# -- bad input: exit 2, nothing written, no network, no model --------------------------------------------------------
def _mask_of_another_size(files: dict[str, Path], tmp_path: Path) -> list[object]:
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(tmp_path / "small.png")
    return ["--mask", tmp_path / "small.png"]


def _request_file(text: str):
    def make(files: dict[str, Path], tmp_path: Path) -> list[object]:
        (tmp_path / "request.json").write_text(text)
        return ["--mask", files["keep"], "--request", tmp_path / "request.json"]

    return make


def _map_of_another_size(files: dict[str, Path], tmp_path: Path) -> list[object]:
    Image.new("RGB", (8, 8)).save(tmp_path / "small.png")
    return ["--mask", files["keep"], "--units", "canny", "--maps", f"canny={tmp_path / 'small.png'}"]


def _out_is_a_file(files: dict[str, Path], tmp_path: Path) -> list[object]:
    (tmp_path / "out").write_text("a file")
    return ["--mask", files["keep"]]


BAD_INPUT = {
    "unknown unit": (lambda f, t: ["--mask", f["keep"], "--units", "mask_canny,sketch"], "--units: unknown kind"),
    "weight not a number": (lambda f, t: ["--mask", f["keep"], "--units", "canny:strong"], "must be a number"),
    "weight too high": (lambda f, t: ["--mask", f["keep"], "--units", "canny:3"], "--units:"),
    "steps 0": (lambda f, t: ["--mask", f["keep"], "--steps", "0"], "--steps:"),
    "cfg 99": (lambda f, t: ["--mask", f["keep"], "--cfg", "99"], "--cfg:"),
    "steps not a number": (lambda f, t: ["--mask", f["keep"], "--steps", "many"], "invalid int value"),
    "unknown task": (lambda f, t: ["--mask", f["keep"], "--task", "shoes"], "invalid choice"),
    "unknown sample": (lambda f, t: ["--sample", "moon"], "invalid choice"),
    "image and sample": (lambda f, t: ["--mask", f["keep"], "--sample", "astronaut"], "not both"),
    "nothing to keep": (lambda f, t: [], "say what to keep"),
    "mask of another size": (_mask_of_another_size, "same size"),
    "out is a file": (_out_is_a_file, "not a folder"),
    "bad url": (lambda f, t: ["--mask", f["keep"], "--webui", "ftp://host"], "only http:// and https://"),
    "bad auth": (lambda f, t: ["--mask", f["keep"], "--api-auth", "nocolon"], "USER:PASS"),
    "timeout 0": (lambda f, t: ["--mask", f["keep"], "--timeout", "0"], "--timeout"),
    "request not json": (_request_file("{nope"), "not valid JSON"),
    "request unknown field": (_request_file('{"colour": "red"}'), "colour: unknown field"),
    "request bad value": (_request_file('{"generation": {"batch_count": 0}}'), "generation.batch_count"),
    "request wrong type": (_request_file('{"seed": 1.5}'), "seed: must be an integer"),
    "request preset": (_request_file('{"preset": "nope"}'), "request.json: preset: no preset 'nope'; valid names:"),
    "guidance not a number": (lambda f, t: ["--mask", f["keep"], "--units", "canny:1:a:1"], "guidance start of canny"),
    "guidance two numbers": (lambda f, t: ["--mask", f["keep"], "--units", "canny:1:0.5"], "KIND:WEIGHT:START:END"),
    "guidance reversed": (lambda f, t: ["--mask", f["keep"], "--units", "canny:1:0.8:0.2"], "guidance_start must"),
    "map without file": (lambda f, t: ["--mask", f["keep"], "--maps", "canny"], "give KIND=FILE.png"),
    "map of no unit": (
        lambda f, t: ["--mask", f["keep"], "--units", "canny", "--maps", f"depth={f['keep']}"],
        "no such unit",
    ),
    "map of another size": (_map_of_another_size, "--maps canny: the supplied canny map is 8x8"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_and_writes_nothing(files: dict[str, Path], tmp_path: Path, capsys, case: str) -> None:
    make_args, message = BAD_INPUT[case]
    args = make_args(files, tmp_path)
    image = [] if "--sample" in args and "--mask" not in args else [files["photo"]]
    out = tmp_path / "out"
    was_file = out.is_file()
    webui = [] if "--webui" in args else ["--webui", f"http://127.0.0.1:{closed_port()}"]  # exit 3 if reached
    code = run(*image, "--out", out, "--models-dir", files["models"], "--offline", *webui, *args)
    assert code == 2
    assert message in capsys.readouterr().err
    assert out.is_file() if was_file else not out.exists()
    assert list(files["models"].iterdir()) == []


# -- the sample photo ------------------------------------------------------------------------------------------------
def test_the_astronaut_sample(tmp_path: Path, capsys) -> None:
    pytest.importorskip("skimage")
    photo = samples.load_sample("astronaut")
    assert photo.shape == (512, 512, 3)
    assert photo.dtype == np.uint8
    assert set(run_request.SAMPLES) == set(samples.SAMPLES)
    assert {name: s.keep for name, s in samples.SAMPLES.items()} == run_request.SAMPLE_KEEP
    args = cli.build_parser().parse_args(["run", "--sample", "astronaut", "--out", str(tmp_path)])
    assert run_request.build_request(args).segment.phrases == "white suit"
    keep = np.zeros((512, 512), np.uint8)
    keep[100:400, 150:350] = 255
    Image.fromarray(keep).save(tmp_path / "keep.png")
    out = tmp_path / "out"
    code = run("--sample", "astronaut", "--mask", tmp_path / "keep.png", "--units", "mask_canny", "--out", out,
               "--models-dir", tmp_path, "--offline")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read(out / "overlay.png").shape == (512, 512, 3)
    assert "--sample astronaut" in capsys.readouterr().err


def test_the_sample_says_when_scikit_image_is_missing(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ModelUnavailable, match="scikit-image"):
        samples.load_sample("astronaut")


# -- the pieces -------------------------------------------------------------------------------------------------------
def _plan(**fields: Any) -> GenerationPlan:
    photo = np.zeros((16, 24, 3), np.uint8)
    alpha = np.zeros((16, 24), np.float32)
    unit = UnitPlan(kind="canny", image=np.zeros((16, 24, 3), np.uint8), weight=0.5, control_mode="prompt")
    base = {
        "task": "background", "init_image": photo, "inpaint_mask": np.full((16, 24), 255, np.uint8),
        "keep_alpha": alpha, "units": (unit,), "prompt": "p", "negative_prompt": "n", "width": 64, "height": 64,
    }  # fmt: skip
    return GenerationPlan(**{**base, **fields})


def test_payload_spellings_and_server_defaults() -> None:
    plan = _plan(seed=9, batch_count=3)
    body = img2img_payload(plan, ["canny [abc]"], "forge")
    assert (body["steps"], body["cfg_scale"]) == (20, 7.0)  # the UI's defaults (the API's own would be 50 steps)
    assert body["sampler_name"] == "DPM++ 2M"  # the WebUI's own default, as its in-process entry points use it
    assert (body["n_iter"], body["batch_size"], body["seed"], body["inpainting_mask_invert"]) == (3, 1, 9, 0)
    assert (body["inpainting_fill"], body["inpaint_full_res"], body["resize_mode"]) == (1, False, 0)
    (unit,) = body["alwayson_scripts"]["controlnet"]["args"]
    assert (unit["module"], unit["model"], unit["resize_mode"]) == ("None", "canny [abc]", "Just Resize")
    assert (unit["control_mode"], unit["weight"]) == ("My prompt is more important", 0.5)
    assert isinstance(unit["image"], str)
    assert not unit["image"].startswith("data:")  # plain base64, as Forge wants
    assert unit_dict(plan.units[0], "m", "sd-webui-controlnet")["module"] == "none"
    body = img2img_payload(_plan(steps=4, cfg_scale=6.5, sampler="Euler a", units=()), [], None)
    assert (body["steps"], body["cfg_scale"], body["sampler_name"]) == (4, 6.5, "Euler a")
    assert "alwayson_scripts" not in body


def test_the_answer_is_taken_apart() -> None:
    from lib_garment.b64images import encode_png

    image = encode_png(np.zeros((8, 8, 3), np.uint8))
    info = json.dumps({"index_of_first_image": 1, "all_seeds": [4, 5], "infotexts": ["grid", "a", "b"]})
    answer = parse_img2img_answer({"images": [image] * 5, "info": info}, 2)
    assert (len(answer.images), answer.seeds, answer.infotexts, answer.extra_images) == (2, [4, 5], ["a", "b"], 2)
    with pytest.raises(WebUIError, match="no image list"):
        parse_img2img_answer({"detail": "x"}, 1)
    with pytest.raises(WebUIError, match="image 1"):
        parse_img2img_answer({"images": ["bm90IGFuIGltYWdl"]}, 1)


@pytest.mark.parametrize(
    ("title", "base"),
    [
        ("v1-5-pruned-emaonly.safetensors [6ce0161689]", "sd15"),
        ("sd_xl_base_1.0.safetensors [31e35c80fc]", "sdxl"),
        ("juggernautXL_v9.safetensors", "sdxl"),
        ("SDXL/ponyDiffusionV6XL.safetensors [67ab2fd8ec]", "sdxl"),
        ("realisticVisionV60.safetensors", "sd15"),
        (None, "sd15"),
    ],
)
def test_checkpoint_base(title: str | None, base: str) -> None:
    assert checkpoint_base(title) == base


def test_urls() -> None:
    assert normalize_url("127.0.0.1:7860/") == ("http://127.0.0.1:7860", None)
    assert normalize_url("https://u:p%40ss@host.example/sd/") == ("https://host.example/sd", ("u", "p@ss"))
    assert normalize_url("http://[::1]:7860") == ("http://[::1]:7860", None)
