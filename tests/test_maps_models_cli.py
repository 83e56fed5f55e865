"""``python -m lib_garment maps`` with models: pose and depth computed by YOLOv8-pose and Depth Anything.

The models folder is laid out the way the registry expects (``<models>/garment_studio/yolo/yolov8n-pose.pt``,
``<models>/garment_studio/depth/Depth-Anything-V2-Small-hf/``) with the tiny random models in it. They are
not the released files, so the real registry refuses them (tested); the runs that succeed put a registry in
its place that records the tiny files' own sizes and SHA-256, so the full verification path still runs. A
file of one's own goes through the explicit trust switch instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli import main as cli
from lib_garment.models import registry
from lib_garment.paths import MODELS_SUBDIR
from tests.test_models_loopback import LoopbackServer, refuse_other_hosts

ROOT = Path(__file__).resolve().parents[1]
W, H = 120, 80
DEPTH_NAME = "Depth-Anything-V2-Small-hf"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    image = np.full((H, W, 3), 200, np.uint8)
    image[10:70, 35:85] = (60, 80, 150)
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(image).save(path)
    return path


@pytest.fixture
def models(tmp_path: Path, tiny_yolo_pose, tiny_depth_anything) -> Path:
    """A models folder holding the tiny models under the registry's names (offline, no hub cache)."""
    root = tmp_path / "models"
    yolo = root / MODELS_SUBDIR / "yolo"
    yolo.mkdir(parents=True)
    shutil.copyfile(tiny_yolo_pose.path, yolo / "yolov8n-pose.pt")
    shutil.copytree(tiny_depth_anything.path, root / MODELS_SUBDIR / "depth" / DEPTH_NAME)
    return root


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # a real copy in this machine's cache must not count


def _registry_of(files: dict[str, dict[str, bytes]]) -> tuple[registry.ModelSpec, ...]:
    """The real registry with the named models' files replaced by the given bytes' sizes and hashes."""

    def replaced(spec: registry.ModelSpec) -> registry.ModelSpec:
        data = files[spec.name]
        new_files = (
            replace(f, sha256=hashlib.sha256(data[f.name]).hexdigest(), size=len(data[f.name])) for f in spec.files
        )
        return replace(spec, files=tuple(new_files))

    return tuple(replaced(spec) if spec.name in files else spec for spec in registry.MODELS)


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def run(*args: object) -> int:
    try:
        return cli.main(["maps", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def test_every_map_from_the_models_in_a_registry_laid_out_folder(
    photo: Path, models: Path, offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    test_registry = _registry_of({
        "yolov8n-pose": {"yolov8n-pose.pt": (models / MODELS_SUBDIR / "yolo" / "yolov8n-pose.pt").read_bytes()},
        DEPTH_NAME: _folder_bytes(models / MODELS_SUBDIR / "depth" / DEPTH_NAME),
    })  # fmt: skip
    monkeypatch.setattr(registry, "MODELS", test_registry)
    out = tmp_path / "out"
    code = run(photo, "--out", out, "--models-dir", models, "--device", "cpu", "--person-threshold", "0")
    assert code == 0, capsys.readouterr().err
    names = {"canny.png", "lines.png", "pose.png", "pose.json", "depth.png", "normal.png"}
    assert {p.name for p in out.iterdir()} == names
    for name, shape in (("pose", (H, W, 3)), ("depth", (H, W)), ("normal", (H, W, 3))):
        assert np.asarray(Image.open(out / f"{name}.png")).shape == shape
    pose = json.loads((out / "pose.json").read_text())
    assert (pose["canvas_width"], pose["canvas_height"]) == (W, H)
    assert 1 <= len(pose["people"]) <= 20  # threshold 0: the random model's candidates survive NMS
    for person in pose["people"]:
        assert len(person["pose_keypoints_2d"]) == 18 * 3  # OpenPose order, neck added


def test_models_of_ones_own_from_the_command_line(photo: Path, tiny_yolo_pose, tiny_depth_anything, tmp_path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "GARMENT_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    env.pop("GARMENT_TRUST_UNVERIFIED", None)
    command = [
        sys.executable, "-m", "lib_garment", "maps", str(photo), "--out", str(out), "--only", "pose,normal",
        "--models-dir", str(tmp_path / "empty"), "--device", "cpu", "--person-threshold", "0",
        "--pose-model", str(tiny_yolo_pose.path), "--depth-model", str(tiny_depth_anything.path),
    ]  # fmt: skip
    refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 3
    assert "GARMENT_TRUST_UNVERIFIED" in refused.stderr  # a .pt is a pickle: only with explicit trust
    assert not out.exists()
    result = subprocess.run(
        [*command, "--trust-unverified"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {"pose.png", "pose.json", "normal.png"}
    assert np.asarray(Image.open(out / "normal.png")).shape == (H, W, 3)


def test_missing_models_offline_exit_3_naming_files_and_folders(
    photo: Path, offline: None, tmp_path: Path, capsys
) -> None:
    models, out = tmp_path / "models", tmp_path / "out"
    assert run(photo, "--out", out, "--models-dir", models) == 3
    message = capsys.readouterr().err
    for text in (
        "yolov8n-pose.pt",
        str(models / MODELS_SUBDIR / "yolo"),
        "model.safetensors",
        str(models / MODELS_SUBDIR / "depth" / DEPTH_NAME),
        "--keypoints POSE.json",
        "--depth DEPTH.png",
        "--only canny,lines",
    ):
        assert text in message
    assert not out.exists()


def test_the_tiny_files_are_not_the_released_ones(photo: Path, models: Path, offline: None, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert run(photo, "--out", out, "--models-dir", models, "--only", "pose", "--trust-unverified") == 3
    assert "a different" in capsys.readouterr().err  # hash checks are not switched off by trust
    assert run(photo, "--out", out, "--models-dir", models, "--only", "depth") == 3
    assert "a different" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "pose", "--person-threshold", "2"], "within 0..1"),
        (["--only", "pose", "--pose-model", "yolov9-pose"], "unknown pose model"),
        (["--only", "depth", "--depth-model", "depth-anything-v2-large"], "unknown depth model"),
        (["--only", "depth", "--depth-model", "depth-fm", "--depth-steps", "0"], "depth-fm steps must be 1..50"),
        (["--only", "depth", "--depth-model", "no/such/depthfm.ckpt"], "DepthFM checkpoint no/such/depthfm.ckpt does"),
        (["--only", "pose", "--device", "tpu"], "invalid choice"),
    ],
)
def test_bad_model_arguments_exit_2(photo: Path, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert run(photo, "--out", tmp_path / "out", "--models-dir", tmp_path / "models", *args) == 2
    assert message in capsys.readouterr().err


def test_a_missing_pose_model_downloads_with_a_progress_bar(
    photo: Path, tiny_yolo_pose, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("GARMENT_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    refuse_other_hosts(monkeypatch)
    data = tiny_yolo_pose.path.read_bytes()
    with LoopbackServer() as server:
        url = server.serve("/yolov8n-pose.pt", data)
        spec = registry.get_spec("yolov8n-pose")
        tiny = replace(spec.files[0], urls=(url,), sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        monkeypatch.setattr(
            registry, "MODELS", tuple(replace(s, files=(tiny,)) if s is spec else s for s in registry.MODELS)
        )
        models, out = tmp_path / "models", tmp_path / "out"
        assert run(photo, "--out", out, "--models-dir", models, "--only", "pose", "--device", "cpu") == 0
        assert len(server.hits("/yolov8n-pose.pt")) == 1
    err = capsys.readouterr().err
    assert "download yolov8n-pose.pt" in err  # tqdm's bar, labelled
    assert (models / MODELS_SUBDIR / "yolo" / "yolov8n-pose.pt").read_bytes() == data
    assert (out / "pose.png").is_file()
