"""``python -m lib_garment segment``: the files it writes, what result.json says, and its exit codes
(0 ok, 2 bad input — nothing written, no model touched —, 3 a model missing while offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli import main as cli
from lib_garment.models import registry as model_registry
from lib_garment.segment.backends import assemble
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from tests.test_segment_models_support import garment_photo, tiny_registry

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["alpha.png", "mask.png", "overlay.png", "result.json", "trimap.png"]


@pytest.fixture
def photo(tmp_path: Path) -> dict[str, Path]:
    image = garment_photo()
    coarse = np.zeros(image.shape[:2], np.uint8)
    coarse[30:120, 40:120] = 90  # any non-zero value is foreground
    coarse[5:7, 5:7] = 255  # a 4 px speck: removed by the 50 px rule
    paths = {"image": tmp_path / "photo.png", "mask": tmp_path / "coarse.png", "empty": tmp_path / "models"}
    Image.fromarray(image).save(paths["image"])
    Image.fromarray(coarse).save(paths["mask"])
    paths["empty"].mkdir()
    return paths


def run(*args: object) -> int:
    """The command in-process; argparse errors end in SystemExit, as they do for users."""
    try:
        return cli.main(["segment", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_from_a_coarse_mask_without_any_model(photo: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = run(
        photo["image"],
        "--mask",
        photo["mask"],
        "--out",
        out,
        "--matte",
        "classic",
        "--models-dir",
        photo["empty"],
        "--offline",
    )
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    mask, trimap, alpha = read(out / "mask.png"), read(out / "trimap.png"), read(out / "alpha.png")
    assert mask.shape == trimap.shape == alpha.shape == (180, 240)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    assert mask[6, 6] == 0
    assert mask[75, 80] == 255
    assert set(np.unique(trimap)) == {BACKGROUND, UNKNOWN, FOREGROUND}
    assert (alpha[trimap == FOREGROUND] == 255).all()
    assert (alpha[trimap == BACKGROUND] == 0).all()
    assert read(out / "overlay.png").shape == (180, 240, 3)
    result = json.loads((out / "result.json").read_text())
    assert result["source"] == "mask"
    assert result["matte"] == "classic"
    assert result["size"] == [240, 180]
    assert result["models"] == {}
    assert result["sam_image_encodings"] == 0
    assert {"read_s", "setup_s", "segment_s", "write_s", "total_s"} <= set(result["timings"])
    written = ["mask.png", "trimap.png", "alpha.png", "overlay.png", "result.json"]
    assert capsys.readouterr().out.split() == [str(out / name) for name in written]


def test_matte_none_makes_alpha_the_clean_mask(photo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        run(photo["image"], "--mask", photo["mask"], "--out", out, "--matte", "none", "--models-dir", photo["empty"])
        == 0
    )
    assert np.array_equal(read(out / "alpha.png"), read(out / "mask.png"))


def test_vitmatte_missing_offline_falls_back_to_classic_and_says_so(
    photo: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert run(photo["image"], "--mask", photo["mask"], "--out", out, "--models-dir", photo["empty"], "--offline") == 0
    result = json.loads((out / "result.json").read_text())
    assert result["options"]["matte"] == "vitmatte"
    assert result["matte"] == "classic"
    assert "ViTMatte" in result["matte_note"]
    assert result["notes"]
    assert "note: ViTMatte" in capsys.readouterr().err


def _small_mask(paths: dict[str, Path], tmp_path: Path) -> list[str]:
    Image.fromarray(np.ones((10, 10), np.uint8)).save(tmp_path / "small.png")
    return ["--mask", str(tmp_path / "small.png")]


def _out_is_a_file(paths: dict[str, Path], tmp_path: Path) -> list[str]:
    (tmp_path / "out").write_text("a file, not a folder")
    return ["--prompt", "shirt"]


BAD_INPUT = {
    "image missing": (lambda p, t: ["--prompt", "shirt", "--image", str(t / "missing.png")], "not found"),
    "no prompt, no mask": (lambda p, t: [], "--prompt"),
    "only dots": (lambda p, t: ["--prompt", " . . "], "--prompt"),
    "negative min area": (lambda p, t: ["--prompt", "shirt", "--min-area", "-1"], "--min-area"),
    "threshold above 1": (lambda p, t: ["--prompt", "shirt", "--box-threshold", "1.5"], "--box-threshold"),
    "unknown select": (lambda p, t: ["--prompt", "shirt", "--select", "every"], "invalid choice"),
    "zero trimap": (lambda p, t: ["--prompt", "shirt", "--trimap-size", "0"], "--trimap-size"),
    "mask of another size": (_small_mask, "same size"),
    "out is a file": (_out_is_a_file, "not a folder"),
    "sam checkpoint missing": (lambda p, t: ["--prompt", "x", "--sam-checkpoint", str(t / "no.pth")], "does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_before_any_model_and_writes_nothing(
    photo: dict[str, Path],
    tmp_path: Path,
    capsys,
    case: str,
) -> None:
    make_args, message = BAD_INPUT[case]
    args = make_args(photo, tmp_path)
    image = photo["image"]
    if "--image" in args:  # the photo itself is the bad input
        image = Path(args[args.index("--image") + 1])
        args = args[: args.index("--image")]
    out = tmp_path / "out"
    assert run(image, "--out", out, "--models-dir", photo["empty"], "--offline", *args) == 2
    assert message in capsys.readouterr().err
    assert not out.is_dir()
    assert list(photo["empty"].iterdir()) == []  # no model was looked up: not even a hash cache


def test_a_model_missing_offline_exits_3_naming_file_and_folder(photo: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert run(photo["image"], "--prompt", "red shirt", "--out", out, "--models-dir", photo["empty"], "--offline") == 3
    err = capsys.readouterr().err
    assert "groundingdino_swint_ogc.pth" in err
    assert str(photo["empty"] / "garment_studio" / "grounding-dino") in err
    assert not out.exists()


@pytest.fixture(scope="module")
def tiny_models(tiny_model_root, tiny_groundingdino_hf, tiny_sam_vit, tiny_vitmatte):
    root = tiny_model_root / "registry-cli"
    specs = tiny_registry(root, groundingdino_hf=tiny_groundingdino_hf, sam_vit=tiny_sam_vit, vitmatte=tiny_vitmatte)
    return root, {spec.name: spec for spec in specs}


def test_by_text_with_tiny_models(photo: dict[str, Path], tmp_path: Path, tiny_models, monkeypatch, capsys) -> None:
    root, specs = tiny_models
    # The registry entries the command asks for, with the tiny files' hashes: found and verified offline.
    monkeypatch.setattr(assemble, "get_spec", lambda name: specs.get(name) or model_registry.get_spec(name))
    assemble.clear_backends()
    out = tmp_path / "out"
    code = run(
        photo["image"], "--prompt", "red shirt . blue belt . white collar", "--out", out, "--models-dir", root,
        "--offline", "--detector", "transformers", "--box-threshold", "0", "--text-threshold", "0",
        "--select", "all", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    result = json.loads((out / "result.json").read_text())
    assert result["source"] == "text"
    assert result["phrases"] == ["red shirt", "blue belt", "white collar"]
    assert result["detections"]
    assert {d["phrase"] for d in result["detections"]} <= set(result["phrases"])
    assert all({"box", "score", "phrase", "text_score"} <= set(d) for d in result["detections"])
    assert sum(len(group) for group in result["selected"].values()) >= 1
    assert result["sam_image_encodings"] == 1
    assert result["matte"] == "vitmatte"
    assert result["notes"] == []
    assert set(result["runtimes"]) == {"detector", "sam", "matte"}
    assert result["runtimes"]["sam"] == "in-process"
    assert result["models"]["sam"]["registry"] == "sam_vit_b"
    assert result["models"]["sam"]["embed_dim"] == 32
    assert result["models"]["detector"]["registry"] == "grounding-dino-tiny"
    for role in ("detector", "sam", "matte"):
        assert {"wall_s", "model_s", "load_s", "runtime_overhead_s"} <= set(result["timings"][role])
    mask = read(out / "mask.png")
    assert mask.shape == (180, 240)
    assert set(np.unique(mask)) <= {0, 255}


def test_the_command_line_exit_code_in_a_real_process(photo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = [sys.executable, "-m", "lib_garment", "segment", str(photo["image"]), "--out", str(out)]
    done = subprocess.run(
        [*base, "--min-area", "-5", "--prompt", "x"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "--min-area" in done.stderr
    assert not out.exists()
    done = subprocess.run(
        [*base, "--mask", str(photo["mask"]), "--matte", "none", "--models-dir", str(photo["empty"])],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "result.json").is_file()
