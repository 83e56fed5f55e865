"""Product fidelity (kept pixels, seam, compliance rate; a catalogue run's fidelity.json and the line a seller
reads) and mask quality (pysodmetrics + boundary F)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli.main import main
from lib_garment.errors import BadInput
from lib_garment.evaluate.fidelity import (
    FIDELITY_FILE,
    catalogue_fidelity,
    fidelity_alarm,
    fidelity_line,
    product_fidelity,
    read_fidelity,
    record_fidelity,
)
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


def _catalogue(out: Path, photos_in: Path) -> dict[str, Path]:
    """A catalogue folder of two generated SKUs: A exact (compliance pass), B with one kept pixel changed (fail);
    their photos by SKU."""
    photo, result, alpha = _scene()
    photos = {}
    for sku, compliance in (("A", "pass"), ("B", "fail")):
        folder = out / sku
        folder.mkdir(parents=True)
        Image.fromarray(photo).save(photos_in / f"{sku}.png")
        photos[sku] = photos_in / f"{sku}.png"
        Image.fromarray(alpha).save(folder / "alpha.png")
        kept = result.copy()
        if sku == "B":
            kept[10, 10] = kept[10, 10] ^ 255
        Image.fromarray(kept).save(folder / f"{sku}-1-composite.png")
        files = {"result": f"{sku}/{sku}-1.jpg", "composite": f"{sku}/{sku}-1-composite.png",
                 "photo_alpha": f"{sku}/alpha.png"}  # fmt: skip
        report = {"sku": sku, "outputs": [{"variant": 1, "status": "done", "files": files, "compliance": compliance,
                                           "generated": {"seed": 1}}]}  # fmt: skip
        (folder / "result.json").write_text(json.dumps(report))
    return photos


def test_catalogue_folder_fidelity_and_compliance_rate(tmp_path: Path) -> None:
    photos = _catalogue(tmp_path / "out", tmp_path)
    summary = catalogue_fidelity(tmp_path / "out", photos).to_json()
    assert [o["exact"] for o in summary["outputs"]] == [True, False]
    overall = summary["overall"]
    assert (overall["results"], overall["exact_results"], overall["compliance_pass_rate"]) == (2, 1, 0.5)
    assert overall["identical_pixels"] == 2 * 192 - 1
    with pytest.raises(BadInput, match="B: no photo given"):
        catalogue_fidelity(tmp_path / "out", {"A": photos["A"]})


def test_a_framed_photo_counts_for_compliance_only_and_other_skus_can_be_left_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    photos = _catalogue(out, tmp_path)
    # C: a plain background, nothing generated: the photo itself framed (scaled), no composite to compare.
    (out / "C").mkdir()
    files = {"result": "C/C-1.jpg", "alpha": "C/C-1-alpha.png", "photo_alpha": "C/alpha.png"}
    report = {"sku": "C", "outputs": [{"variant": 1, "status": "done", "files": files, "compliance": "pass"}]}
    (out / "C" / "result.json").write_text(json.dumps(report))
    (out / "OLD").mkdir()  # a row removed from the manifest since: no photo for it any more
    (out / "OLD" / "result.json").write_text(json.dumps({"sku": "OLD", "outputs": []}))
    photos["C"] = photos["A"]
    overall = catalogue_fidelity(out, photos, skus={"A", "B", "C"}).to_json()["overall"]
    assert (overall["results"], overall["framed_only"]) == (2, 1)
    assert (overall["compliance_checked"], overall["compliance_passed"]) == (3, 2)
    with pytest.raises(BadInput, match="OLD: no photo given"):
        catalogue_fidelity(out, photos)


def _overall(**changes: Any) -> dict[str, Any]:
    overall = {"results": 12, "exact_results": 12, "kept_pixels": 1_000_000, "identical_pixels": 1_000_000,
               "kept_share": 1.0, "seam_result_mean": 1.84, "compliance_checked": 12, "compliance_passed": 11,
               "compliance_pass_rate": 11 / 12, "framed_only": 0}  # fmt: skip
    return {"outputs": [], "overall": {**overall, **changes}}


def test_the_fidelity_line_and_the_alarm_a_seller_reads() -> None:
    assert fidelity_line(_overall()) == (
        "Product kept: 100.000 % of α=1 pixels identical (12/12 results exact) · seam 1.8 · "
        "compliance 11/12 pass (92 %)"
    )
    assert fidelity_alarm(_overall()) is None
    one_off = _overall(identical_pixels=999_999, exact_results=11)  # one pixel in a million: never "100.000"
    one_off["outputs"] = [
        {"sku": "A", "variant": 1, "exact": True, "kept_pixels": 10, "identical_pixels": 10},
        {"sku": "B", "variant": 2, "exact": False, "kept_pixels": 4, "identical_pixels": 3},
    ]
    assert fidelity_line(one_off).startswith("Product kept: 99.999 % of α=1 pixels identical (11/12 results exact)")
    alarm = fidelity_alarm(one_off)
    assert alarm is not None
    assert alarm.startswith("KEPT PIXELS CHANGED in 1 of 2 result(s): B #2 (75.000 %).")
    plain = _overall(results=0, exact_results=0, kept_pixels=0, identical_pixels=0, seam_result_mean=None,
                     framed_only=3, compliance_checked=3, compliance_passed=3)  # fmt: skip
    assert fidelity_line(plain) == "3 photo(s) framed as photographed, nothing generated · compliance 3/3 pass (100 %)"
    assert (
        fidelity_line({"error": "image x.png: no such file"})
        == "Product fidelity not measured: image x.png: no such file"
    )


def test_a_run_end_records_its_figures_once_and_a_missing_photo_is_a_note(tmp_path: Path) -> None:
    from lib_garment.catalogue.jobs import Job
    from lib_garment.catalogue.state import BatchState, Done
    from lib_garment.request import GarmentRequest

    out = tmp_path / "out"
    photos = _catalogue(out, tmp_path)
    jobs = [Job(f"id-{sku}", sku, 1, k + 2, GarmentRequest(), photo, None, "sha", None, False)
            for k, (sku, photo) in enumerate(photos.items())]  # fmt: skip
    state = BatchState(out)
    state.sync(jobs)
    assert record_fidelity(out, jobs) is None  # nothing done yet: nothing measured, no file
    assert read_fidelity(out) is None
    for job in jobs:
        state.start(job.id, None)
        state.finish(job.id, Done([], None, 1.0, True, None, [], {}))
    state.close()

    recorded = record_fidelity(out, jobs)
    assert recorded is not None
    assert recorded["overall"]["exact_results"] == 1
    assert read_fidelity(out) == json.loads(json.dumps(recorded))  # the file holds what was measured
    photos["B"].unlink()  # moved away since the run began
    broken = record_fidelity(out, jobs)
    assert broken is not None
    assert "B.png" in broken["error"]
    assert read_fidelity(out) == broken
    (out / FIDELITY_FILE).write_text("{half")
    assert "cannot be read" in read_fidelity(out)["error"]
    (out / FIDELITY_FILE).write_text("{}")
    assert "is not a fidelity report" in read_fidelity(out)["error"]


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
