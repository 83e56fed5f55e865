"""Was the product kept? The α = 1 pixels of each result against the photo, the seam at the matte's edge, and
the compliance pass rate of a catalogue folder.

- **kept**: the pixels whose matte value is 255 (α = 1) must be identical, all three channels, to the photo's:
  the share that is (it must be 100 %) and how many differ.
- **seam**: the mean absolute difference (0–255, averaged over RGB) between each α = 1 pixel on the kept area's
  edge and its 4-neighbours outside it, in the result; the same figure on the photo is given beside it, so a seam
  the compositing made shows as a result figure well above the photo's.
- **compliance**: of the outputs with a marketplace preset, the share whose report's verdict is ``pass``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.imageio import check_same_size, read_image, read_mask

KEPT = 255


@dataclass(frozen=True)
class Fidelity:
    kept_pixels: int
    identical_pixels: int
    seam_result: float | None  # None when the kept area has no edge (nothing kept, or everything)
    seam_photo: float | None

    @property
    def kept_share(self) -> float:
        return 1.0 if self.kept_pixels == 0 else self.identical_pixels / self.kept_pixels

    @property
    def exact(self) -> bool:
        return self.identical_pixels == self.kept_pixels

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kept_share": self.kept_share, "exact": self.exact}


def _edge_pairs(kept: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inside, outside) boolean masks of the kept area's edge, one pair per 4-neighbour direction."""
    pairs = []
    height, width = kept.shape
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        inside = np.zeros_like(kept)
        outside = np.zeros_like(kept)
        ys = slice(max(0, -dy), height - max(0, dy))
        xs = slice(max(0, -dx), width - max(0, dx))
        yn = slice(max(0, dy), height - max(0, -dy))
        xn = slice(max(0, dx), width - max(0, -dx))
        edge = kept[ys, xs] & ~kept[yn, xn]
        inside[ys, xs] = edge
        outside[yn, xn] = edge
        pairs.append((inside, outside))
    return pairs


def _seam(image: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    values = [np.abs(image[i].astype(np.int16) - image[o].astype(np.int16)) for i, o in pairs if i.any()]
    if not values:
        return None
    return float(np.concatenate(values).mean())


def product_fidelity(photo: np.ndarray, result: np.ndarray, alpha: np.ndarray) -> Fidelity:
    """The kept-pixel check and the seam of one result at the photo's resolution (see the module)."""
    check_same_size(photo, result, "result")
    check_same_size(photo, alpha, "alpha")
    kept = alpha == KEPT
    same = np.all(photo == result, axis=2)
    pairs = _edge_pairs(kept)
    return Fidelity(
        kept_pixels=int(kept.sum()),
        identical_pixels=int((same & kept).sum()),
        seam_result=_seam(result, pairs),
        seam_photo=_seam(photo, pairs),
    )


@dataclass
class FolderFidelity:
    outputs: list[dict[str, Any]] = field(default_factory=list)
    compliance_checked: int = 0
    compliance_passed: int = 0

    @property
    def all_exact(self) -> bool:
        return all(o["exact"] for o in self.outputs)

    def to_json(self) -> dict[str, Any]:
        kept = sum(o["kept_pixels"] for o in self.outputs)
        same = sum(o["identical_pixels"] for o in self.outputs)
        seams = [o["seam_result"] for o in self.outputs if o["seam_result"] is not None]
        rate = self.compliance_passed / self.compliance_checked if self.compliance_checked else None
        return {
            "outputs": self.outputs,
            "overall": {
                "results": len(self.outputs),
                "exact_results": sum(1 for o in self.outputs if o["exact"]),
                "kept_pixels": kept,
                "identical_pixels": same,
                "kept_share": 1.0 if kept == 0 else same / kept,
                "seam_result_mean": float(np.mean(seams)) if seams else None,
                "compliance_checked": self.compliance_checked,
                "compliance_pass_rate": rate,
            },
        }


def catalogue_fidelity(out: Path, photos: Mapping[str, Path]) -> FolderFidelity:
    """Every done output of a catalogue folder (``<sku>/result.json``) against its photo (``photos``: sku → file).

    The exact composite is checked (``composite``, else the ``result`` itself when no preset framed it), with the
    photo's matte ``<sku>/alpha.png``. A framed file is scaled, so its kept pixels are not the photo's grid: its
    figure is the composite's, and its compliance verdict is counted."""
    out = Path(out)
    reports = sorted(out.glob("*/result.json"))
    if not reports:
        raise BadInput(f"{out} holds no <sku>/result.json: not a catalogue folder, or nothing finished yet")
    summary = FolderFidelity()
    problems: list[str] = []
    for report_path in reports:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        sku = str(report.get("sku", report_path.parent.name))
        photo_path = photos.get(sku)
        if photo_path is None:
            problems.append(f"{sku}: no photo given for this SKU")
            continue
        for item in report.get("outputs", []):
            if item.get("status") != "done":
                continue
            files = item.get("files", {})
            exact_file = files.get("composite") or files.get("result")
            if not exact_file or not str(exact_file).endswith(".png") or "photo_alpha" not in files:
                problems.append(f"{sku} #{item.get('variant')}: no exact PNG composite and matte recorded")
                continue
            measured = product_fidelity(
                read_image(photo_path), read_image(out / exact_file), read_mask(out / files["photo_alpha"])
            )
            summary.outputs.append(
                {"sku": sku, "variant": item.get("variant"), "file": exact_file, **measured.to_json()}
            )
            if item.get("compliance"):
                summary.compliance_checked += 1
                summary.compliance_passed += item["compliance"] == "pass"
    if problems:
        raise BadInput(f"{out}: " + "; ".join(problems))
    return summary
