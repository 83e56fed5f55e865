"""``python -m lib_garment maps``: the files it writes and its exit codes (0 ok, 2 bad input, 3 needs a model)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli import main as cli
from lib_garment.maps.edges import canny_map, mask_outline
from lib_garment.maps.pose_format import pose_from_json
from lib_garment.maps.pose_render import PALETTE
from tests.depth_planes import PLANES, assert_one_colour, assert_sharp_step, eight_bit_plane, eight_bit_step

ROOT = Path(__file__).resolve().parents[1]
W, H = 96, 64


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    image = np.zeros((H, W, 3), np.uint8)
    image[12:52, 20:76] = (210, 90, 60)
    mask = np.zeros((H, W), np.uint8)
    mask[12:52, 20:76] = 255
    depth = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    keypoints = [0.0] * 54
    keypoints[0:3] = [48.0, 20.0, 1.0]  # nose
    paths = {
        "image": tmp_path / "photo.png",
        "mask": tmp_path / "mask.png",
        "depth": tmp_path / "depth.png",
        "keypoints": tmp_path / "pose_in.json",
    }
    Image.fromarray(image).save(paths["image"])
    Image.fromarray(mask).save(paths["mask"])
    Image.fromarray(depth).save(paths["depth"])
    paths["keypoints"].write_text(
        json.dumps({"people": [{"pose_keypoints_2d": keypoints}], "canvas_width": W, "canvas_height": H})
    )
    return paths


def run(*args: object) -> int:
    """The command in-process; argument errors end in SystemExit from argparse, as they do for users."""
    try:
        return cli.main(["maps", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def test_weight_free_maps_are_written_at_full_size(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(inputs["image"], "--out", out, "--only", "canny,lines,mask_canny", "--mask", inputs["mask"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["canny.png", "lines.png", "mask_canny.png"]
    canny = np.asarray(Image.open(out / "canny.png"))
    assert canny.shape == (H, W)
    np.testing.assert_array_equal(canny, canny_map(np.asarray(Image.open(inputs["image"]).convert("RGB"))))
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / "mask_canny.png")), mask_outline(np.asarray(Image.open(inputs["mask"])))
    )
    assert np.asarray(Image.open(out / "lines.png")).shape == (H, W)


def test_every_map_from_supplied_keypoints_and_depth(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all"
    code = run(
        inputs["image"], "--out", out, "--mask", inputs["mask"], "--keypoints", inputs["keypoints"],
        "--depth", inputs["depth"], "--canny", "50,150",
    )  # fmt: skip
    assert code == 0
    names = ["canny.png", "depth.png", "lines.png", "mask_canny.png", "normal.png", "pose.json", "pose.png"]
    assert sorted(p.name for p in out.iterdir()) == names  # and no temporary files
    assert capsys.readouterr().out.split() == [str(out / n) for n in ["canny.png", "mask_canny.png", "lines.png",
                                                                        "pose.png", "depth.png", "normal.png",
                                                                        "pose.json"]]  # fmt: skip
    pose = np.asarray(Image.open(out / "pose.png"))
    assert pose.shape == (H, W, 3)
    assert tuple(pose[20, 48]) == PALETTE[0]
    written = pose_from_json(json.loads((out / "pose.json").read_text()))
    assert (written.width, written.height, written.people) == (W, H, 1)
    depth = np.asarray(Image.open(out / "depth.png"))
    assert depth.shape == (H, W)
    assert depth[:, 0].max() == 0
    assert depth[:, -1].min() == 255
    normal = np.asarray(Image.open(out / "normal.png"))
    assert normal.shape == (H, W, 3)
    assert normal[H // 2, W // 2, 0] > 128


def test_pose_or_depth_without_their_model_exit_3_and_say_what_to_supply(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pose and depth come from models now (tests/test_maps_models_cli.py); without them on disk and offline,
    # the command still names what to supply instead.
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    out, models = tmp_path / "out", tmp_path / "models"
    assert run(inputs["image"], "--out", out, "--models-dir", models) == 3
    message = capsys.readouterr().err
    assert "downloads are off" in message
    for hint in ("--keypoints POSE.json", "--depth DEPTH.png", "--only canny,lines"):
        assert hint in message
    assert not out.exists()
    assert run(inputs["image"], "--out", out, "--models-dir", models, "--only", "pose") == 3
    assert "yolov8n-pose" in capsys.readouterr().err
    only_normal = ("--only", "normal", "--keypoints", inputs["keypoints"])
    assert run(inputs["image"], "--out", out, "--models-dir", models, *only_normal) == 3
    assert "--depth DEPTH.png" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "--only", "canny"], "image not found"),
        (["{text}", "--only", "canny"], "cannot read image"),
        (["{image}", "--only", "mask_canny", "--mask", "{small_mask}"], "mask .* is 10x10 but the image is 96x64"),
        (["{image}", "--only", "mask_canny"], "mask_canny needs --mask"),
        (["{image}", "--only", "canny", "--canny", "200,100"], "Canny thresholds"),
        (["{image}", "--only", "canny", "--canny", "abc,1"], "not a number"),
        (["{image}", "--only", "canny", "--canny", "100"], "expected LOW,HIGH"),
        (["{image}", "--only", "canny,edges"], "unknown map edges"),
        (["{image}", "--only", "lines", "--lines", "0,10,2"], "votes"),
        (["{image}", "--only", "pose", "--keypoints", "{broken_json}"], "not valid JSON"),
        (["{image}", "--only", "pose", "--keypoints", "{short_json}"], "has 6 numbers"),
        (["{image}", "--only", "pose", "--keypoints", "{keypoints}", "--pose-threshold", "2"], "threshold"),
        (["{image}", "--only", "depth", "--depth", "{small_mask}"], "depth map is 10x10"),
        (["{image}", "--only", "normal", "--depth", "{depth}", "--normal-background", "x"], "not a number"),
    ],
)
def test_bad_input_exits_2_before_writing_anything(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "text.png").write_text("not a picture")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "short.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1] * 6}]}))
    names = {**inputs, "missing": tmp_path / "absent.png", "text": tmp_path / "text.png",
             "small_mask": tmp_path / "small.png", "broken_json": tmp_path / "broken.json",
             "short_json": tmp_path / "short.json"}  # fmt: skip
    out = tmp_path / "out"
    assert run(*[a.format(**names) for a in args], "--out", out) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not out.exists()


def test_normal_background_is_cut_by_the_mask(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--only", "normal", "--depth", inputs["depth"], "--mask", inputs["mask"], "--normal-background", "mask"]
    assert run(inputs["image"], "--out", out, *args) == 0
    normal = np.asarray(Image.open(out / "normal.png"))
    outside = np.asarray(Image.open(inputs["mask"])) == 0
    assert (normal[outside] == (128, 128, 255)).all()
    assert (normal[~outside][:, 0] > 128).mean() > 0.9


def test_map_names_match_the_engine() -> None:
    from lib_garment.cli.maps import MAP_NAMES
    from lib_garment.maps.compute import MAP_KINDS

    assert MAP_NAMES == MAP_KINDS


def test_out_must_be_a_folder(inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "file"
    taken.write_text("")
    assert run(inputs["image"], "--out", taken, "--only", "canny") == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_module_entry_point_runs_maps(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "lib_garment", "maps", str(inputs["image"]), "--out", str(out), "--only", "canny"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "canny.png").is_file()


def normal_from_files(tmp_path: Path, depth: np.ndarray) -> np.ndarray:
    """``maps PHOTO --only normal --depth DEPTH.png`` for an 8-bit gray depth file, and the normal.png it wrote."""
    photo, depth_file, out = tmp_path / "photo.png", tmp_path / "depth8.png", tmp_path / "normals"
    Image.fromarray(np.full((*depth.shape, 3), 128, np.uint8)).save(photo)
    Image.fromarray(depth).save(depth_file)
    assert Image.open(depth_file).mode == "L"  # an 8-bit file, as in issue 10
    assert run(photo, "--out", out, "--only", "normal", "--depth", depth_file) == 0
    return np.asarray(Image.open(out / "normal.png"))


@pytest.mark.parametrize(("height", "width", "dx", "dy", "start"), PLANES)
def test_normals_of_an_eight_bit_depth_file_of_a_plane_are_one_colour(
    tmp_path: Path, height: int, width: int, dx: float, dy: float, start: float
) -> None:
    assert_one_colour(normal_from_files(tmp_path, eight_bit_plane(height, width, dx, dy, start)))


def test_normals_of_an_eight_bit_depth_file_keep_a_step_sharp(tmp_path: Path) -> None:
    depth, column = eight_bit_step(80, 120)
    assert_sharp_step(normal_from_files(tmp_path, depth), column)
