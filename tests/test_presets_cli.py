"""``presets``, ``check`` and ``frame`` on the command line: output, files and exit codes (0, 1, 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.presets_support import product_photo, run_cli, write_test_shop


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    models = tmp_path / "models"
    folder = models / "garment_studio" / "presets"
    write_test_shop(folder)
    photo, alpha = product_photo()
    paths = {"models": models, "photo": tmp_path / "photo.png", "alpha": tmp_path / "alpha.png"}
    Image.fromarray(photo).save(paths["photo"])
    Image.fromarray(np.rint(alpha * 255).astype(np.uint8)).save(paths["alpha"])
    return paths


def test_presets_lists_rules_and_sources(setup: dict[str, Path]) -> None:
    result = run_cli("presets", "--json", "--models-dir", setup["models"])
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)["presets"]}
    assert listed["test-shop"]["origin"] == "user"
    assert [r["id"] for r in listed["test-shop"]["rules"]] == ["white", "fill", "side", "png"]
    assert listed["test-shop"]["sources"][0]["url"] == "https://example.com/rules"
    table = run_cli("presets", "--models-dir", setup["models"]).stdout.splitlines()
    row = next(line for line in table if line.startswith("test-shop *"))  # one line a preset; *: the user's own
    assert row.split()[2:] == ["Test", "preset", "4", "+", "0", "png", "168x168,", "product", "50%", "of", "the",
                               "side"]  # fmt: skip
    shopee = next(line for line in table if line.startswith("shopee "))
    assert "none found" in shopee  # a marketplace with no findable rules says so
    full = run_cli("presets", "test-shop", "--models-dir", setup["models"]).stdout
    assert "test-shop (user): Test preset — Test market" in full
    assert "    required    white: background_colour #FFFFFF (source: A test page)" in full
    assert "    A test page: https://example.com/rules (read 2026-01-02)" in full
    assert "amazon-main" not in full
    only = json.loads(run_cli("presets", "test-shop", "--json", "--models-dir", setup["models"]).stdout)
    assert [p["name"] for p in only["presets"]] == ["test-shop"]
    unknown = run_cli("presets", "nope", "--models-dir", setup["models"])
    assert unknown.returncode == 2
    assert "no preset 'nope'; valid names: amazon-apparel" in unknown.stderr


def test_frame_then_check(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "frame", setup["photo"], "--alpha", setup["alpha"], "--preset", "test-shop", "--out", out,
        "--shadow", "contact", "--models-dir", setup["models"],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["alpha.png", "compliance.json", "framed.png"]
    report = json.loads((out / "compliance.json").read_text())
    assert report["verdict"] == "pass"
    assert report["framing"]["canvas"] == [168, 168]
    assert Image.open(out / "framed.png").size == (168, 168)
    checked = run_cli(
        "check", out / "framed.png", "--alpha", out / "alpha.png", "--preset", "test-shop", "--json",
        "--models-dir", setup["models"],
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["verdict"] == "pass"


def test_check_exits_1_when_a_rule_fails(setup: dict[str, Path]) -> None:
    result = run_cli(
        "check", setup["photo"], "--alpha", setup["alpha"], "--preset", "test-shop", "--models-dir", setup["models"]
    )  # fmt: skip
    assert result.returncode == 1  # the photo's background is green
    assert "test-shop: fail" in result.stdout
    assert "fail        white (background_colour, required)" in result.stdout


def test_bad_input_exits_2_and_writes_nothing(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    unknown = run_cli(
        "frame", setup["photo"], "--alpha", setup["alpha"], "--preset", "nope", "--out", out,
        "--models-dir", setup["models"],
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "--preset: no preset 'nope'; valid names: amazon-apparel, amazon-main, " in unknown.stderr
    assert "test-shop" in unknown.stderr  # the user's presets are listed with the shipped ones
    bad_colour = run_cli(
        "frame", setup["photo"], "--alpha", setup["alpha"], "--preset", "test-shop", "--out", out,
        "--background", "red", "--models-dir", setup["models"],
    )  # fmt: skip
    assert bad_colour.returncode == 2
    assert '--background: must be "white" or a colour' in bad_colour.stderr
    missing = run_cli("check", tmp_path / "none.png", "--preset", "test-shop", "--models-dir", setup["models"])
    assert missing.returncode == 2
    assert not out.exists()


def test_a_typo_in_a_preset_file_is_named(setup: dict[str, Path]) -> None:
    path = setup["models"] / "garment_studio" / "presets" / "test-shop.toml"
    path.write_text(path.read_text().replace("min_fill", "min_fil"))
    result = run_cli("presets", "--models-dir", setup["models"])
    assert result.returncode == 2
    assert f"preset file {path}: rule 'fill'.kind: unknown kind 'min_fil'" in result.stderr
