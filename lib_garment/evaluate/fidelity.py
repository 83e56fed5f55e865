"""Was the product kept? The α = 1 pixels of each result against the photo, the seam at the matte's edge, and
the compliance pass rate of a catalogue folder.

- **kept**: the pixels whose matte value is 255 (α = 1) must be identical, all three channels, to the photo's:
  the share that is (it must be 100 %) and how many differ.
- **seam**: the mean absolute difference (0–255, averaged over RGB) between each α = 1 pixel on the kept area's
  edge and its 4-neighbours outside it, in the result; the same figure on the photo is given beside it, so a seam
  the compositing made shows as a result figure well above the photo's.
- **compliance**: of the outputs with a marketplace preset, the share whose report's verdict is ``pass``.

A catalogue run measures its folder once, when it ends (``record_fidelity``: ``DIR/fidelity.json``); every entry
point (``batch``, the tab, REST) shows that file through ``fidelity_line`` and ``fidelity_alarm``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib_garment.errors import BadInput, GarmentError
from lib_garment.imageio import check_same_size, read_image, read_mask, write_json

if TYPE_CHECKING:
    from lib_garment.catalogue.jobs import Job

KEPT = 255
FIDELITY_FILE = "fidelity.json"
ALARM_NAMES = 10  # the changed results an alarm names; the rest are counted


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
    framed_only: int = 0  # done outputs with nothing generated: the photo itself framed, no kept grid to compare

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
                "compliance_passed": self.compliance_passed,
                "compliance_pass_rate": rate,
                "framed_only": self.framed_only,
            },
        }


def catalogue_fidelity(out: Path, photos: Mapping[str, Path], skus: Collection[str] | None = None) -> FolderFidelity:
    """Every done output of a catalogue folder (``<sku>/result.json``) against its photo (``photos``: sku → file);
    with ``skus`` only those SKUs' (a manifest's current ones: a SKU's folder left from a row since removed is
    not this catalogue's any more).

    The exact composite is checked (``composite``, else the ``result`` itself when no preset framed it), with the
    photo's matte ``<sku>/alpha.png``. A framed file is scaled, so its kept pixels are not the photo's grid: its
    figure is the composite's, and its compliance verdict is counted. An output with nothing generated (a plain
    background: the photo itself framed) has no composite to check; it is counted as ``framed_only``."""
    out = Path(out)
    reports = sorted(out.glob("*/result.json"))
    if not reports:
        raise BadInput(f"{out} holds no <sku>/result.json: not a catalogue folder, or nothing finished yet")
    summary = FolderFidelity()
    problems: list[str] = []
    for report_path in reports:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        sku = str(report.get("sku", report_path.parent.name))
        if skus is not None and sku not in skus:
            continue
        photo_path = photos.get(sku)
        if photo_path is None:
            problems.append(f"{sku}: no photo given for this SKU")
            continue
        photo: np.ndarray | None = None  # decoded once for all the SKU's variants, and only if one is measured
        for item in report.get("outputs", []):
            if item.get("status") != "done":
                continue
            if item.get("compliance"):
                summary.compliance_checked += 1
                summary.compliance_passed += item["compliance"] == "pass"
            files = item.get("files", {})
            if "generated" not in item and "composite" not in files:
                summary.framed_only += 1
                continue
            exact_file = files.get("composite") or files.get("result")
            if not exact_file or not str(exact_file).endswith(".png") or "photo_alpha" not in files:
                problems.append(f"{sku} #{item.get('variant')}: no exact PNG composite and matte recorded")
                continue
            if photo is None:
                photo = read_image(photo_path)
            measured = product_fidelity(photo, read_image(out / exact_file), read_mask(out / files["photo_alpha"]))
            summary.outputs.append(
                {"sku": sku, "variant": item.get("variant"), "file": exact_file, **measured.to_json()}
            )
    if problems:
        raise BadInput(f"{out}: " + "; ".join(problems))
    return summary


def record_fidelity(out: Path, jobs: Sequence[Job]) -> dict[str, Any] | None:
    """A catalogue run's end: ``out``'s done outputs of this manifest (``jobs``) measured against their photos
    and written to ``out/fidelity.json`` atomically; what was written. Once per run, not per look: reading every
    photo and result again on each refresh of a 500-SKU table would cost seconds each time.

    None, and no file, when none of ``jobs`` is done (an earlier file would describe results that are gone). A
    measurement that cannot be made (a photo moved away since, an unreadable output) is recorded as
    ``{"error": …}``: the figures report on a run, they never fail it. Never raises."""
    from lib_garment.catalogue.state import done_ids

    target = Path(out) / FIDELITY_FILE
    data: dict[str, Any]
    try:
        if not done_ids(Path(out)) & {job.id for job in jobs}:
            target.unlink(missing_ok=True)
            return None
        photos = {job.sku: job.image for job in jobs}
        data = catalogue_fidelity(Path(out), photos, skus=set(photos)).to_json()
    except (GarmentError, OSError, ValueError) as err:  # a file missing, unreadable or not an image
        data = {"error": str(err)}
    except Exception as err:  # noqa: BLE001 - a bug here must not fail the run it reports on
        data = {"error": f"internal error: {type(err).__name__}: {err}"}
    data["measured_at"] = time.time()
    try:
        write_json(target, data)
    except OSError as err:
        return {"error": f"could not write {target}: {err.strerror or err}", "measured_at": data["measured_at"]}
    return data


def read_fidelity(out: Path) -> dict[str, Any] | None:
    """``out/fidelity.json`` as :func:`record_fidelity` wrote it; None when there is none (a run still going, or
    a folder from before it was measured); ``{"error": …}`` when it cannot be read."""
    path = Path(out) / FIDELITY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        return {"error": f"{path} cannot be read: {err}"}
    if not isinstance(data, dict) or not ("error" in data or isinstance(data.get("overall"), dict)):
        return {"error": f"{path} is not a fidelity report"}  # hand-edited: said, not a traceback in every look
    return data


def _percent(part: int, whole: int) -> str:
    """``part / whole`` in percent with three decimals, rounded down in integers: one changed pixel in millions
    must never read as 100.000 %."""
    thousandths = 100_000 if whole == 0 else part * 100_000 // whole
    return f"{thousandths // 1000}.{thousandths % 1000:03d}"


def fidelity_line(data: Mapping[str, Any]) -> str:
    """One line for a seller: ``Product kept: 100.000 % of α=1 pixels identical (12/12 results exact) · seam 1.8 ·
    compliance 11/12 pass (92 %)``; or why the figures are missing."""
    if "error" in data:
        return f"Product fidelity not measured: {data['error']}"
    o = data["overall"]
    parts = []
    if o["results"]:
        parts.append(
            f"Product kept: {_percent(o['identical_pixels'], o['kept_pixels'])} % of α=1 pixels identical "
            f"({o['exact_results']}/{o['results']} results exact)"
        )
    if o.get("framed_only"):
        parts.append(f"{o['framed_only']} photo(s) framed as photographed, nothing generated")
    if o["seam_result_mean"] is not None:
        parts.append(f"seam {o['seam_result_mean']:.1f}")
    checked = o["compliance_checked"]
    if checked:
        passed = o["compliance_passed"]
        parts.append(f"compliance {passed}/{checked} pass ({100 * passed / checked:.0f} %)")
    return " · ".join(parts) or "Product fidelity: no done result to measure"


def fidelity_alarm(data: Mapping[str, Any]) -> str | None:
    """The loud message when any result's kept pixels differ from the photo (None when all are identical)."""
    changed = [o for o in data.get("outputs", []) if not o["exact"]]
    if not changed:
        return None
    shares = (_percent(o["identical_pixels"], o["kept_pixels"]) for o in changed[:ALARM_NAMES])
    named = ", ".join(f"{o['sku']} #{o['variant']} ({share} %)" for o, share in zip(changed, shares, strict=False))
    more = f" and {len(changed) - ALARM_NAMES} more" if len(changed) > ALARM_NAMES else ""
    return (
        f"KEPT PIXELS CHANGED in {len(changed)} of {len(data['outputs'])} result(s): {named}{more}. These do not "
        "show the product as photographed: delete their files and run the catalogue again to make them again."
    )
