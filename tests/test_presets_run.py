"""``python -m lib_garment run`` with a marketplace preset, as a seller runs it (a subprocess): a plain background
needs no WebUI (segment → matte → framed, encoded and checked here), its report agrees with ``check`` on the
written file, and every bad preset, shadow or colour is refused (exit 2) before anything runs or is written.
The generated-scene path (a WebUI) is in tests/test_run_cli.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.presets_support import product_photo, run_cli, write_preset, write_test_shop


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A product photo (textured box on a green wall) with its keep mask, and a models folder holding two user
    presets: test-shop (PNG, 168 px square canvas, white) and no-shadows (forbids shadows)."""
    models = tmp_path / "models"
    folder = models / "garment_studio" / "presets"
    write_test_shop(folder)
    write_preset(folder, "no-shadows", {"format": "png"}, [{"id": "flat", "kind": "shadow", "value": "forbidden"}])
    photo, alpha = product_photo()
    paths = {"models": models, "photo": tmp_path / "photo.png", "keep": tmp_path / "keep.png"}
    Image.fromarray(photo).save(paths["photo"])
    Image.fromarray(np.where(alpha >= 0.5, 255, 0).astype(np.uint8)).save(paths["keep"])
    return paths


def job(setup: dict[str, Path], out: Path, *extra: object) -> list[object]:
    """run on the photo with its mask, offline (the classic matte: no model file is needed)."""
    return ["run", setup["photo"], "--mask", setup["keep"], "--out", out, "--models-dir", setup["models"],
            "--offline", *extra]  # fmt: skip


def statuses(report: dict) -> dict[str, str]:
    return {rule["id"]: rule["status"] for rule in report["rules"]}


@pytest.mark.parametrize("shadow", ["none", "contact"])
def test_amazon_main_on_white_runs_here_without_a_webui_and_check_agrees(setup, tmp_path: Path, shadow: str) -> None:
    out = tmp_path / "out"
    result = run_cli(*job(setup, out, "--preset", "amazon-main", "--background", "white", "--shadow", shadow))
    assert result.returncode == 0, result.stderr
    names = ["alpha.png", "mask.png", "overlay.png", "result-1-alpha.png", "result-1.png", "result.json"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert result.stdout.split()[-1] == str(out / "result.json")  # written last

    framed = Image.open(out / "result-1.png")
    # PNG, not the preset's JPEG: the exact white background is required and its formats rule accepts PNG
    assert framed.format == "PNG"
    report = json.loads((out / "result.json").read_text())
    assert report["generated"] is False
    assert report["preset"] == "amazon-main"
    assert report["request"]["preset"] == "amazon-main"
    assert report["request"]["output"]["background"] == "white"
    (image,) = report["images"]
    assert (image["file"], image["alpha"]) == ("result-1.png", "result-1-alpha.png")
    compliance = image["compliance"]
    assert compliance["preset"] == "amazon-main"
    assert report["verdict"] == compliance["verdict"]
    assert set(statuses(compliance)) == {
        "background-pure-white", "fill-85", "no-text-or-watermark", "longest-side-zoom", "longest-side-max",
        "formats", "colour-rgb",
    }  # fmt: skip
    assert statuses(compliance)["fill-85"] == "pass"  # framed to the preset's 85 %
    assert statuses(compliance)["formats"] == "pass"
    assert statuses(compliance)["background-pure-white"] == "pass"  # every background pixel exactly #FFFFFF
    assert compliance["file"]["format"] == "png"
    assert compliance["file"]["bytes"] == (out / "result-1.png").stat().st_size
    assert any(shadow in note for note in compliance["done"]) if shadow != "none" else "no shadow" in compliance["done"]
    assert Image.open(out / "result-1-alpha.png").size == framed.size
    assert f"result-1.png: amazon-main: {compliance['verdict']}" in result.stderr
    pixels = np.asarray(framed.convert("RGB"))
    assert (pixels[:3, :3] == 255).all()  # far from the product: the plain white

    # The written file, measured again by `check`, gets the verdict the run reported.
    checked = run_cli("check", out / "result-1.png", "--alpha", out / "result-1-alpha.png", "--preset", "amazon-main",
                      "--json", "--models-dir", setup["models"])  # fmt: skip
    assert checked.returncode == (0 if compliance["verdict"] == "pass" else 1), checked.stderr
    again = json.loads(checked.stdout)
    assert again["verdict"] == compliance["verdict"]
    assert statuses(again) == statuses(compliance)


def test_a_preset_that_passes_exits_0_in_check_too(setup, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(*job(setup, out, "--preset", "test-shop", "--background", "white"))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "result.json").read_text())
    compliance = report["images"][0]["compliance"]
    assert (report["verdict"], compliance["verdict"]) == ("pass", "pass")
    assert compliance["framing"]["canvas"] == [168, 168]
    assert Image.open(out / "result-1.png").format == "PNG"
    checked = run_cli("check", out / "result-1.png", "--alpha", out / "result-1-alpha.png", "--preset", "test-shop",
                      "--models-dir", setup["models"])  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "test-shop: pass" in checked.stdout


def test_flags_override_the_request_file_and_no_webui_is_asked(setup, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"preset": "amazon-main", "output": {"background": "#000000", "shadow": "drop"}}))
    out = tmp_path / "out"
    unreachable = f"http://127.0.0.1:{closed_port()}"  # asked, this would exit 3
    result = run_cli(*job(setup, out, "--request", request, "--preset", "test-shop", "--background", "white",
                          "--shadow", "none", "--webui", unreachable))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"--webui {unreachable} is not used" in result.stderr
    report = json.loads((out / "result.json").read_text())
    assert report["request"]["preset"] == "test-shop"
    assert report["request"]["output"]["background"] == "white"
    assert report["request"]["output"]["shadow"] == "none"
    assert report["verdict"] == "pass"


def test_without_a_preset_run_is_unchanged(setup, tmp_path: Path) -> None:
    """No preset file is even read: a broken one in the user's folder does not matter to a plain run."""
    (setup["models"] / "garment_studio" / "presets" / "broken.toml").write_text("not = [valid")
    out = tmp_path / "out"
    result = run_cli(*job(setup, out, "--units", "mask_canny"))
    assert result.returncode == 0, result.stderr
    names = ["alpha.png", "inpaint_mask.png", "maps", "mask.png", "overlay.png", "plan.json"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert "--webui http://127.0.0.1:7860" in result.stderr  # the preview says how to generate, as before


BAD = {
    "unknown preset": (["--preset", "nope", "--background", "white"], "--preset: no preset 'nope'; valid names: "),
    "unknown preset in the file": (
        [],
        "preset: no preset 'nope'; valid names: ",
    ),
    "forbidden shadow": (
        ["--preset", "no-shadows", "--background", "white", "--shadow", "drop"],
        "--shadow: preset no-shadows forbids shadows (rule flat)",
    ),
    "bad colour": (["--preset", "amazon-main", "--background", "red"], '--background: must be "white" or a colour'),
    "bad hex colour": (["--preset", "amazon-main", "--background", "#FFF"], "--background:"),
    "unknown shadow": (["--preset", "amazon-main", "--background", "white", "--shadow", "hard"], "invalid choice"),
    "background without preset": (
        ["--background", "white"],
        "--background: a plain background is for a marketplace preset; name the preset too (valid names: amazon-",
    ),
    "shadow without preset": (
        ["--shadow", "contact"],
        "--shadow: a shadow is for a marketplace preset; name the preset too",
    ),
    "scene without a webui": (["--preset", "amazon-main"], "only a WebUI generates: give --webui URL, or --background"),
    "bad preset name": (["--preset", "Amazon Main"], "--preset: must be a preset name"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_before_anything_runs(setup, tmp_path: Path, case: str) -> None:
    flags, message = BAD[case]
    if case == "unknown preset in the file":
        (tmp_path / "request.json").write_text(json.dumps({"preset": "nope", "output": {"background": "white"}}))
        flags = ["--request", tmp_path / "request.json"]
    out = tmp_path / "out"
    before = sorted(setup["models"].rglob("*"))
    result = run_cli(*job(setup, out, *flags))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    if "valid names" in message:
        assert "amazon-main, amazon-apparel" not in result.stderr  # sorted
        assert "amazon-apparel, amazon-main" in result.stderr
        assert "test-shop" in result.stderr
    assert [line for line in result.stderr.splitlines() if not line.startswith(" ")][-1].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert sorted(setup["models"].rglob("*")) == before  # no model fetched, nothing written
