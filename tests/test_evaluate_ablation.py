"""``ablation``: the paper's four background stages run as catalogue runs on the host double served over HTTP,
evaluated with the random-weight Inception (tests/factories/inception.py, through the production loader), and the
table's files; a second run resumes without generating; ``evaluate-fidelity`` over a stage; the model task's
four stages likewise, with its pose and depth maps made by the random YOLOv8n-pose and Depth Anything
(tests/factories, found and verified through a test registry and loaded by the production loaders), and its stage
requests as planned.

In the background test the normal map of stage 4 needs a depth model: a plane stands in for Depth Anything there
(the normal map itself is the production code's, made from that depth), so that test needs no model file and no
worker process.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lib_garment import imageio
from lib_garment.catalogue.manifest import read_manifest
from lib_garment.cli import main as cli
from lib_garment.errors import BadInput
from lib_garment.evaluate.ablation import STAGES, plan_stages
from lib_garment.generate.prepare import EMPTY_POSE
from lib_garment.maps.depth import RawDepth
from lib_garment.models import registry
from lib_garment.pydantic_compat import ValidationError
from lib_garment.request import GarmentRequest
from tests.catalogue_support import write_shoot
from tests.factories.registry import place_models
from tests.test_catalogue_run import Counting
from tests.test_evaluate_sets import _models
from tests.test_run_cli import launch, serve_app

CN_MODELS = ("control_v11p_sd15_canny", "control_v11p_sd15_normalbae")
FOLDERS = ("1-no-seg", "2-seg", "3-seg-canny", "4-seg-canny-normal")
MODEL_CN_MODELS = ("control_v11p_sd15_openpose", "control_v11f1p_sd15_depth")
MODEL_FOLDERS = ("1-no-seg", "2-seg", "3-seg-pose", "4-seg-pose-depth")


class PlaneDepth:
    """A depth model's stand-in: a tilted plane, near at the bottom."""

    name = "test-plane"

    def __call__(self, image: np.ndarray) -> RawDepth:
        height, width = image.shape[:2]
        return RawDepth(np.tile(np.linspace(0.2, 1.0, height, dtype=np.float32)[:, None], (1, width)))


def ablation(*args: object) -> int:
    try:
        return cli.main(["ablation", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


@pytest.fixture
def plane_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    from lib_garment.generate import prepare

    real = prepare.map_estimators

    def estimators(kinds: set[str], request: Any, env: Any) -> tuple[Any, Any]:
        pose, _ = real(kinds - {"depth", "normal"}, request, env)
        return pose, PlaneDepth() if kinds & {"depth", "normal"} else None

    monkeypatch.setattr(prepare, "map_estimators", estimators)


def _count_extractions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each Inception pass of the ablation saw."""
    from lib_garment.evaluate import image_sets

    seen: list[int] = []
    real = image_sets.extract_features

    def counted(net: Any, images: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(images))
        return real(net, images, *args, **kwargs)

    monkeypatch.setattr(image_sets, "extract_features", counted)
    return seen


def _command(shoot: Path, out: Path, models: Path, url: str, tmp_path: Path) -> list[object]:
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"generation": {"steps": 2}, "prompt": "studio"}))
    return [shoot, "--webui", url, "--task", "background", "--out", out, "--request", base, "--models-dir", models,
            "--offline", "--features", "64", "--kid-subsets", "5", "--device", "cpu", "--seed", 42]  # fmt: skip


def test_the_background_ablation_runs_four_stages_writes_the_table_and_resumes(
    webui, inception, plane_depth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    models = _models(inception, tmp_path, monkeypatch)
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 2)
    counter = Counting(launch(webui, CN_MODELS))
    with serve_app(counter) as url:
        code = ablation(*_command(shoot, out, models, url, tmp_path))
        err = capsys.readouterr().err
        assert code == 0, err
        assert counter.calls == 8  # 4 stages × 2 photos, one img2img each
        first = {p: p.read_bytes() for p in out.rglob("*.png") if "stages" in p.parts}
        table = (out / "ablation.csv").read_text()
        extracted = _count_extractions(monkeypatch)
        assert ablation(*_command(shoot, out, models, url, tmp_path)) == 0  # resumed: every job done
        capsys.readouterr()
    assert counter.calls == 8
    assert extracted == [2]  # the real set only: the stages' features came from their unchanged results' cache
    assert (out / "ablation.csv").read_text() == table
    assert {p: p.read_bytes() for p in out.rglob("*.png") if "stages" in p.parts} == first

    assert sorted(p.name for p in (out / "stages").iterdir()) == list(FOLDERS)
    with (out / "ablation.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["stage"], r["paper_fid"]) for r in rows] == [("1", "376.4"), ("2", "343.1"), ("3", "22.8"), ("4", "9.1")]
    assert all(r["images"] == "2" and float(r["fid"]) >= 0 and float(r["kid_std"]) >= 0 for r in rows)
    assert rows[0]["kept_share"] == ""  # stage 1 keeps nothing, so it has no share to report
    assert [r["kept_share"] for r in rows[1:]] == ["1.0"] * 3
    assert [r["exact_results"] for r in rows] == ["2"] * 4
    md = (out / "ablation.md").read_text()
    assert "| stage | FID ↓ | KID ↓ (mean ± std) | IS ↑ (mean ± std) | paper FID | paper KID | paper IS |" in md
    assert "| 4. + Canny + normal map |" in md
    assert "**Small sets**" in md
    assert "2 subsets" not in md
    assert "KID over 5 random subsets of 2 images" in md
    assert (out / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "ablation.json").read_text())["stages"][3]["paper_kid"] == 0.201

    for sku in skus:
        photo = imageio.read_image(shoot / f"{sku}.png")
        seeds = set()
        for folder in FOLDERS:
            report = json.loads((out / "stages" / folder / sku / "result.json").read_text())
            seeds.add(report["outputs"][0]["seed"])
            alpha = imageio.read_mask(out / "stages" / folder / sku / "alpha.png")
            result = imageio.read_image(out / "stages" / folder / report["outputs"][0]["files"]["result"])
            if folder == "1-no-seg":  # nothing kept: the product was regenerated with the rest
                assert not alpha.any()
                assert report["outputs"][0]["mask_source"] == "none"
                product = imageio.read_mask(shoot / f"{sku}.mask.png") == 255
                assert not np.array_equal(result[product], photo[product])
            else:
                kept = alpha == 255
                assert kept.sum() > 1000
                assert np.array_equal(result[kept], photo[kept])
        assert seeds == {42}  # the same seed in every stage


def test_evaluate_fidelity_passes_a_catalogue_and_fails_on_one_changed_kept_pixel(
    webui, tmp_path: Path, capsys
) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 2)
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"control": [{"kind": "mask_canny"}], "generation": {"steps": 2}}))
    with serve_app(launch(webui)) as url:
        assert cli.main(["batch", str(shoot), "--out", str(out), "--request", str(base), "--webui", url,
                         "--models-dir", str(tmp_path / "models"), "--offline"]) == 0  # fmt: skip
    capsys.readouterr()
    assert cli.main(["evaluate-fidelity", str(out), "--photos", str(shoot), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["kept_share"] == 1.0
    assert report["overall"]["exact_results"] == 2
    assert all(o["seam_result"] is not None for o in report["outputs"])
    assert json.loads((out / "fidelity.json").read_text())["overall"] == report["overall"]  # batch's own, the same

    result_file = out / skus[1] / f"{skus[1]}-1.png"
    result = imageio.read_image(result_file).copy()
    kept = np.argwhere(imageio.read_mask(out / skus[1] / "alpha.png") == 255)[0]
    result[kept[0], kept[1]] ^= np.uint8(1)  # one kept pixel, one level
    Image.fromarray(result).save(result_file)
    assert cli.main(["evaluate-fidelity", str(out), "--photos", str(shoot)]) == 1
    captured = capsys.readouterr()
    assert f"kept pixels differ from the photo in {skus[1]} #1" in captured.err
    assert "1/2 results exact" in captured.out


def depth_of_order_one(source: Path, target: Path) -> Path:
    """A copy of the tiny Depth Anything whose output convolution is scaled up: its random depth comes out near
    1e-7, which the depth map rightly takes for flat (black); a trained model's relative depth is of order one.
    A positive scale passes the head's final ReLU unchanged, so the depth keeps its shape."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = target / "model.safetensors"
    tensors = load_file(str(weights))
    for key in ("head.conv3.weight", "head.conv3.bias"):
        tensors[key] = tensors[key] * 1e7
    save_file(tensors, str(weights), metadata={"format": "pt"})  # what save_pretrained writes
    return target


@pytest.fixture
def pose_and_depth_models(
    inception, tiny_yolo_pose, tiny_depth_anything, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A models folder holding the random Inception, YOLOv8n-pose and Depth Anything under the registry's names,
    and a registry that knows their hashes: the production loaders find, verify and load them."""
    root = tmp_path / "models"
    depth = depth_of_order_one(tiny_depth_anything.path, tmp_path / "depth-anything")
    sources = {"inception-2015-12-05": inception[0], "yolov8n-pose": tiny_yolo_pose.path,
               "Depth-Anything-V2-Small-hf": depth}  # fmt: skip
    monkeypatch.setattr(registry, "MODELS", place_models(root, sources))
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # a real copy in this machine's cache must not count
    return root


def test_the_model_ablation_generates_every_stage_with_pose_and_depth_from_the_models(
    webui, pose_and_depth_models: Path, tmp_path: Path, capsys
) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 2)
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"generation": {"steps": 2}, "prompt": "a woman in a park"}))
    with serve_app(counter := Counting(launch(webui, MODEL_CN_MODELS))) as url:
        code = ablation(shoot, "--webui", url, "--task", "model", "--out", out, "--request", base, "--models-dir",
                        pose_and_depth_models, "--offline", "--features", "64", "--kid-subsets", "5", "--device",
                        "cpu")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert counter.calls == 8  # 4 stages × 2 photos
    assert sorted(p.name for p in (out / "stages").iterdir()) == list(MODEL_FOLDERS)

    # What the WebUI's ControlNet applied, generation by generation (stage by stage, photo by photo).
    history = webui.controlnet_script("img2img").history
    pose, depth = ("control_v11p_sd15_openpose", 1.0), ("control_v11f1p_sd15_depth", 0.6)
    assert [[(u.model.split(" [")[0], u.weight) for u in units] for units in history] == [
        [], [], [], [], [pose], [pose], [pose, depth], [pose, depth]
    ]  # fmt: skip
    # The random YOLO finds nobody: the pose unit gets a black map and each job says so, but still generates.
    assert all(not units[0].control_map.any() for units in history[4:])
    assert all(units[1].control_map.std() > 10 for units in history[6:])  # Depth Anything's, not flat
    assert err.count(f"SKU-000 #1: {EMPTY_POSE} (told once") == 2  # in stages 3 and 4; then in result.json only
    assert EMPTY_POSE not in err.replace(f"SKU-000 #1: {EMPTY_POSE}", "")
    for sku in skus:
        notes = [json.loads((out / "stages" / f / sku / "result.json").read_text())["outputs"][0]["notes"]
                 for f in MODEL_FOLDERS]  # fmt: skip
        assert [EMPTY_POSE in n for n in notes] == [False, False, True, True]

    with (out / "ablation.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["paper_fid"], r["paper_kid"]) for r in rows] == [
        ("478.2", "5.332"), ("361.5", "3.041"), ("45.9", "0.801"), ("13.6", "0.379")
    ]  # fmt: skip
    assert [r["stage"] for r in rows] == ["1", "2", "3", "4"]
    # IS is at least 1 (up to rounding)
    assert all(r["images"] == "2" and float(r["fid"]) >= 0 and float(r["is_mean"]) > 0.999 for r in rows)
    assert [r["kept_share"] for r in rows] == ["", "1.0", "1.0", "1.0"]
    assert [r["exact_results"] for r in rows] == ["2"] * 4
    md = (out / "ablation.md").read_text()
    assert "Table 4 (model task)" in md
    assert "| 3. + pose |" in md
    assert "| 4. + pose and depth |" in md
    assert "| 478.2 | 5.332 | 1.12 |" in md


def test_the_model_task_stages_ask_for_what_the_paper_ablated(tmp_path: Path) -> None:
    write_shoot(tmp_path / "shoot", 2)
    manifest = read_manifest(tmp_path / "shoot")
    planned = plan_stages(manifest, {"prompt": "a woman"}, "model", tmp_path / "out")
    seen = []
    for item in planned:
        request = item.jobs[0].request
        assert request.task == "model"
        assert len(item.jobs) == 2
        kinds = tuple(unit.kind for unit in request.control or ())
        seen.append((item.folder.name, request.segment.mask_source, kinds, item.jobs[0].mask is None))
    assert seen == [
        ("1-no-seg", "none", (), True),
        ("2-seg", "mask", (), False),
        ("3-seg-pose", "mask", ("pose",), False),
        ("4-seg-pose-depth", "mask", ("pose", "depth"), False),
    ]
    assert [s.paper_fid for s in STAGES["model"]] == [478.2, 361.5, 45.9, 13.6]
    # the same seed for every stage's job of a photo: the stages differ in what they change only
    assert len({item.jobs[0].seed for item in planned}) == 1


def test_nothing_kept_refuses_what_needs_a_product() -> None:
    none = {"segment": {"mask_source": "none"}}
    assert GarmentRequest.parse_obj({**none, "control": []}).segment.mask_source == "none"
    for extra in ({}, {"control": [{"kind": "mask_canny"}]}, {"control": [], "preset": "amazon-main"},
                  {"control": [], "output": {"background": "white"}}):  # fmt: skip
        with pytest.raises(ValidationError):
            GarmentRequest.parse_obj({**none, **extra})


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ({"control": []}, "leave control out"),
        ({"task": "model"}, "but --task is 'background'"),
        ({"segment": {"mask_source": "phrase"}}, "each stage sets its own"),
        ({"preset": "amazon-main"}, "compare generated scenes"),
    ],
)
def test_a_base_request_that_fights_the_stages_is_refused(tmp_path: Path, base: dict, message: str) -> None:
    write_shoot(tmp_path / "shoot", 2)
    with pytest.raises(BadInput, match=message):
        plan_stages(read_manifest(tmp_path / "shoot"), base, "background", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_flags_and_too_few_images_exit_2_and_write_nothing(tmp_path: Path, capsys) -> None:
    write_shoot(tmp_path / "one", 1)
    out = tmp_path / "out"
    common = ["--webui", "http://127.0.0.1:9", "--task", "background", "--out", out, "--offline"]
    assert ablation(tmp_path / "one", *common) == 2
    assert "at least 2 images per set" in capsys.readouterr().err
    assert ablation(tmp_path / "one", *common, "--seeds", 0) == 2
    assert ablation(tmp_path / "missing", *common) == 2
    assert not out.exists()
