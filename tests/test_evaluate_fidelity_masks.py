"""Product fidelity (kept pixels, seam, compliance rate) and mask quality (pysodmetrics + boundary F)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli.main import main
from lib_garment.errors import BadInput
from lib_garment.evaluate.fidelity import catalogue_fidelity, product_fidelity
from lib_garment.evaluate.masks import boundary_f, evaluate_masks


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    alpha = np.zeros((24, 32), np.uint8)
    alpha[6:18, 8:24] = 255
    alpha[5, 8:24] = 128  # a soft edge row: not kept
    result = np.where(alpha[..., None] == 255, photo, np.uint8(40))
    return photo, result.astype(np.uint8), alpha


def test_exact_composite_keeps_every_alpha_one_pixel_and_one_changed_pixel_fails() -> None:
    photo, result, alpha = _scene()
    exact = product_fidelity(photo, result, alpha)
    assert (exact.kept_pixels, exact.identical_pixels, exact.exact, exact.kept_share) == (192, 192, True, 1.0)
    changed = result.copy()
    changed[10, 10, 1] ^= 1  # one kept pixel, one channel, one level
    broken = product_fidelity(photo, changed, alpha)
    assert (broken.identical_pixels, broken.exact) == (191, False)
    assert broken.kept_share == pytest.approx(191 / 192)
    changed_outside = result.copy()
    changed_outside[0, 0] = 0  # outside the kept area: not the product
    assert product_fidelity(photo, changed_outside, alpha).exact


def test_seam_compares_the_edge_in_the_result_with_the_photo() -> None:
    photo, result, alpha = _scene()
    measured = product_fidelity(photo, photo.copy(), alpha)
    assert measured.seam_result == measured.seam_photo  # the photo itself has no seam of its own making
    flat = np.full_like(photo, 100)
    flat_result = flat.copy()
    flat_result[alpha != 255] = 160
    seam = product_fidelity(flat, flat_result, alpha)
    assert (seam.seam_photo, seam.seam_result) == (0.0, 60.0)


def test_catalogue_folder_fidelity_and_compliance_rate(tmp_path: Path) -> None:
    photo, result, alpha = _scene()
    photos = {}
    for sku, compliance in (("A", "pass"), ("B", "fail")):
        folder = tmp_path / "out" / sku
        folder.mkdir(parents=True)
        Image.fromarray(photo).save(tmp_path / f"{sku}.png")
        photos[sku] = tmp_path / f"{sku}.png"
        Image.fromarray(alpha).save(folder / "alpha.png")
        kept = result.copy()
        if sku == "B":
            kept[10, 10] = kept[10, 10] ^ 255
        Image.fromarray(kept).save(folder / f"{sku}-1-composite.png")
        files = {"result": f"{sku}/{sku}-1.jpg", "composite": f"{sku}/{sku}-1-composite.png",
                 "photo_alpha": f"{sku}/alpha.png"}  # fmt: skip
        report = {"sku": sku, "outputs": [{"variant": 1, "status": "done", "files": files, "compliance": compliance}]}
        (folder / "result.json").write_text(json.dumps(report))
    summary = catalogue_fidelity(tmp_path / "out", photos).to_json()
    assert [o["exact"] for o in summary["outputs"]] == [True, False]
    overall = summary["overall"]
    assert (overall["results"], overall["exact_results"], overall["compliance_pass_rate"]) == (2, 1, 0.5)
    assert overall["identical_pixels"] == 2 * 192 - 1
    with pytest.raises(BadInput, match="B: no photo given"):
        catalogue_fidelity(tmp_path / "out", {"A": photos["A"]})


def _masks(tmp_path: Path, pred: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> tuple[Path, Path]:
    for folder, masks in (("pred", pred), ("truth", truth)):
        (tmp_path / folder).mkdir(exist_ok=True)
        for name, mask in masks.items():
            Image.fromarray(mask).save(tmp_path / folder / name)
    return tmp_path / "pred", tmp_path / "truth"


def _square(shift: int = 0) -> np.ndarray:
    mask = np.zeros((40, 40), np.uint8)
    mask[10 + shift : 30 + shift, 10:30] = 255
    return mask


def test_mask_scores_per_image_and_overall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred, truth = _masks(tmp_path, {"a.png": _square(), "b.png": _square(4)}, {"a.png": _square(), "b.png": _square()})
    report = evaluate_masks(pred, truth).to_json()
    perfect, shifted = report["images"]
    assert (perfect["iou"], perfect["boundary_f"], perfect["mae"]) == (1.0, 1.0, 0.0)
    assert perfect["s_measure"] == pytest.approx(1.0)
    assert perfect["weighted_f"] == pytest.approx(1.0)
    assert shifted["iou"] == pytest.approx(16 * 20 / (24 * 20))  # numpy's own count of the shifted squares
    assert shifted["mae"] == pytest.approx(2 * 4 * 20 / 1600)
    assert 0 < shifted["boundary_f"] < 1
    assert shifted["s_measure"] < 1
    assert shifted["weighted_f"] < 1
    assert report["overall"]["iou"] == pytest.approx((1 + 16 / 24) / 2)
    assert report["overall"]["pooled_iou"] == pytest.approx((400 + 320) / (400 + 480))
    assert main(["evaluate-masks", "--pred", str(pred), "--truth", str(truth)]) == 0
    assert capsys.readouterr().out.splitlines()[0].split("\t")[:3] == ["name", "iou", "boundary_f"]


def test_boundary_f_tolerance_is_a_share_of_the_diagonal() -> None:
    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:80] = True
    near = np.roll(truth, 1, axis=0)  # 1 px off: within 0.008 × 141 px
    far = np.roll(truth, 5, axis=0)
    assert boundary_f(near, truth) == 1.0
    assert boundary_f(far, truth) < 1.0


@pytest.mark.parametrize(
    ("pred", "truth", "expected"),
    [
        ({"a.png": _square()}, {"b.png": _square()}, "no ground truth in .* for: a"),
        ({"a.png": _square()}, {"a.png": np.zeros((20, 20), np.uint8)}, "a: prediction is 40x40, ground truth 20x20"),
        ({"a.png": _square()}, {}, "holds no images"),
    ],
)
def test_mask_bad_inputs_exit_2(
    pred: dict, truth: dict, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred_dir, truth_dir = _masks(tmp_path, pred, truth)
    assert main(["evaluate-masks", "--pred", str(pred_dir), "--truth", str(truth_dir)]) == 2
    import re

    assert re.search(expected, capsys.readouterr().err)
