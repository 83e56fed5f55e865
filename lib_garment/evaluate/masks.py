"""Predicted masks against a user's ground truth: IoU, boundary F, MAE and the salient-object structure measures.

Pairs are matched by file stem (``ts-001.png`` ↔ ``ts-001.jpg`` …; every file of either folder must have its
pair, and the sizes must agree). Masks are read as 8-bit planes (an alpha channel that is not all opaque is the
mask). Ground truth is foreground where it is above 128; a prediction is a soft map, normalised by pysodmetrics
(÷255, then stretched to [0, 1] when not constant) for MAE, S-measure, E-measure and weighted F, and foreground
where that map is above 0.5 for IoU and boundary F.

IoU, MAE, S-measure (Fan et al. 2017), E-measure (Fan et al. 2018; its mean over thresholds and the adaptive
one) and weighted F-measure (Margolin et al. 2014) come from **pysodmetrics**, the maintained implementation
salient-object benchmarks use. pysodmetrics has no boundary F-score, so that one is DAVIS' definition (Perazzi
et al. 2016) built from scikit-image's boundary finder and scipy's distance transform: boundary pixels of
prediction and truth match when they lie within ``0.008 × the image's diagonal`` (at least 1 px) of each other;
F = 2PR / (P + R). "Overall" is the mean over images (the benchmarks' convention), IoU also pooled over all
pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.evaluate.images import list_images, read_masks

BOUNDARY_TOLERANCE = 0.008  # of the image diagonal, as DAVIS measures contour accuracy
METRICS = ("iou", "boundary_f", "mae", "s_measure", "e_measure", "e_measure_adaptive", "weighted_f")


def pair_files(pred_dir: Path, truth_dir: Path) -> list[tuple[str, Path, Path]]:
    """(stem, prediction, truth) for every stem; BadInput naming every unpaired or doubled stem."""
    preds, truths = list_images(pred_dir, "--pred"), list_images(truth_dir, "--truth")
    problems: list[str] = []

    def by_stem(files: Sequence[Path], what: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in files:
            if path.stem in found:
                problems.append(f"{what}: two files for {path.stem!r} ({found[path.stem].name}, {path.name})")
            found[path.stem] = path
        return found

    pred_of, truth_of = by_stem(preds, "--pred"), by_stem(truths, "--truth")
    if missing := sorted(set(pred_of) - set(truth_of)):
        problems.append(f"no ground truth in {truth_dir} for: {', '.join(missing)}")
    if missing := sorted(set(truth_of) - set(pred_of)):
        problems.append(f"no prediction in {pred_dir} for: {', '.join(missing)}")
    if problems:
        raise BadInput("; ".join(problems))
    return [(stem, pred_of[stem], truth_of[stem]) for stem in sorted(pred_of)]


def boundary_f(pred: np.ndarray, truth: np.ndarray) -> float:
    """DAVIS' contour F-measure of two boolean masks (see the module); 1.0 when neither has a boundary."""
    from scipy.ndimage import distance_transform_edt
    from skimage.segmentation import find_boundaries

    tolerance = max(1.0, BOUNDARY_TOLERANCE * float(np.hypot(*truth.shape)))
    pred_edge = find_boundaries(pred, mode="inner")
    truth_edge = find_boundaries(truth, mode="inner")
    if not pred_edge.any() and not truth_edge.any():
        return 1.0
    if not pred_edge.any() or not truth_edge.any():
        return 0.0
    # Distance from every pixel to the nearest boundary pixel of the other mask.
    to_truth = distance_transform_edt(~truth_edge)
    to_pred = distance_transform_edt(~pred_edge)
    precision = float((to_truth[pred_edge] <= tolerance).mean())
    recall = float((to_pred[truth_edge] <= tolerance).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _sod_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    import py_sod_metrics as sod

    iou = sod.FmeasureV2({"iou": sod.IOUHandler(with_dynamic=False, with_adaptive=False, with_binary=True)})
    mae, sm, em, wfm = sod.MAE(), sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    for metric in (iou, mae, sm, em, wfm):
        metric.step(pred=pred, gt=truth)
    e = em.get_results()["em"]
    return {
        "iou": float(iou.get_results()["iou"]["binary"]),
        "mae": float(mae.get_results()["mae"]),
        "s_measure": float(sm.get_results()["sm"]),
        "e_measure": float(np.mean(e["curve"])),
        "e_measure_adaptive": float(e["adp"]),
        "weighted_f": float(wfm.get_results()["wfm"]),
    }


@dataclass
class MaskReport:
    images: list[dict[str, Any]] = field(default_factory=list)
    pooled_iou: float = 0.0

    def overall(self) -> dict[str, float]:
        means = {name: float(np.mean([row[name] for row in self.images])) for name in METRICS}
        return {**means, "pooled_iou": self.pooled_iou, "images": len(self.images)}

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "overall": self.overall()}


def evaluate_masks(pred_dir: Path, truth_dir: Path) -> MaskReport:
    """Every pair's scores and the overall means; every bad input (pairs, files, sizes) named first."""
    pairs = pair_files(Path(pred_dir), Path(truth_dir))
    preds = read_masks([p for _, p, _ in pairs], "--pred")
    truths = read_masks([t for _, _, t in pairs], "--truth")
    problems = [
        f"{stem}: prediction is {p.shape[1]}x{p.shape[0]}, ground truth {t.shape[1]}x{t.shape[0]}"
        for (stem, _, _), p, t in zip(pairs, preds, truths, strict=False)
        if p.shape != t.shape
    ]
    if problems:
        raise BadInput("masks of different sizes (no resizing is guessed): " + "; ".join(problems))
    from py_sod_metrics.utils import prepare_data

    report = MaskReport()
    inter = union = 0
    for (stem, pred_path, truth_path), pred, truth in zip(pairs, preds, truths, strict=False):
        scores = _sod_scores(pred, truth)
        truth_fg = truth > 128
        # pysodmetrics' own binarisation (its normalised map above 0.5), for boundary F and the pooled IoU.
        pred_fg = prepare_data(pred, truth)[0] > 0.5
        scores["boundary_f"] = boundary_f(pred_fg, truth_fg)
        inter += int((pred_fg & truth_fg).sum())
        union += int((pred_fg | truth_fg).sum())
        report.images.append({"name": stem, "pred": str(pred_path), "truth": str(truth_path), **scores})
    report.pooled_iou = 1.0 if union == 0 else inter / union
    return report
