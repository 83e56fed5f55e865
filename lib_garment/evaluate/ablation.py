"""The paper's ablation (Kong & Wu 2024, Tables 3–4, Figures 16–17) on a seller's own photos: four stages per
task, each a catalogue run (:func:`lib_garment.catalogue.runner.run_catalogue`, so resumable job by job) with
the same photos and fixed seeds, each evaluated against the real set, and the table written beside the paper's.

The stages, as requests (everything else is the caller's base request):

- **background**: (1) no segmentation, no ControlNet — ``segment.mask_source`` ``none`` and no units: the whole
  photo is inpainted (an all-white inpaint mask, the request's denoising strength) and nothing is composited
  back, so the product is regenerated too, as the paper's "no seg" row; (2) segmentation only — the product is
  segmented and kept (inpaint everything the matte does not fully keep, composite the kept pixels back), no units;
  (3) + Canny of the mask's outline (``mask_canny``); (4) + the normal map (``mask_canny`` + ``normal``, the
  task's default units and weights).
- **model**: (1) no segmentation (as above); (2) segmentation only; (3) + pose; (4) + pose and depth.

Every stage uses the same seed per output (``seed`` + variant − 1), so the stages differ only in what the
stage changes. Folders: ``DIR/stages/<n>-<name>/`` (a catalogue folder each: batch.sqlite, <sku>/, results.csv,
index.html), then ``DIR/ablation.md``, ``.csv``, ``.json`` and ``.png`` (matplotlib, which both WebUIs already
install: gradio and ultralytics depend on it).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment import imageio
from lib_garment.catalogue.jobs import Job, plan_jobs
from lib_garment.catalogue.manifest import Manifest
from lib_garment.errors import BadInput, ModelUnavailable

if TYPE_CHECKING:
    from lib_garment.catalogue.generators import Generator
    from lib_garment.catalogue.runner import Events, RunOptions, RunSummary
    from lib_garment.evaluate.images import ImageSet
    from lib_garment.evaluate.inception import InceptionNet
    from lib_garment.models.settings import ModelSettings

TASKS = ("background", "model")
DEFAULT_SEED = 1  # one fixed seed for every stage, so only the stage's change differs between them
STAGES_DIR = "stages"


@dataclass(frozen=True)
class Stage:
    """One row of the paper's table: what the request changes, and the paper's FID, KID and IS for it."""

    number: int
    slug: str
    label: str
    units: tuple[tuple[str, float], ...]  # (kind, weight) of each ControlNet unit
    segmented: bool  # False: segment.mask_source none (nothing kept)
    paper_fid: float
    paper_kid: float
    paper_is: float

    @property
    def folder(self) -> str:
        return f"{self.number}-{self.slug}"


# The paper's numbers: Table 3 (background) and Table 4 (model), as printed. Unit weights: the tasks' defaults
# (lib_garment/generate/tasks.py DEFAULT_UNITS).
STAGES: dict[str, tuple[Stage, ...]] = {
    "background": (
        Stage(1, "no-seg", "no segmentation, no ControlNet", (), False, 376.4, 1.302, 1.01),
        Stage(2, "seg", "segmentation only", (), True, 343.1, 1.148, 1.1),
        Stage(3, "seg-canny", "+ Canny of the mask", (("mask_canny", 1.0),), True, 22.8, 0.337, 1.62),
        Stage(
            4,
            "seg-canny-normal",
            "+ Canny + normal map",
            (("mask_canny", 1.0), ("normal", 0.6)),
            True,
            9.1,
            0.201,
            1.86,
        ),
    ),  # fmt: skip
    "model": (
        Stage(1, "no-seg", "no segmentation", (), False, 478.2, 5.332, 1.12),
        Stage(2, "seg", "segmentation only", (), True, 361.5, 3.041, 1.71),
        Stage(3, "seg-pose", "+ pose", (("pose", 1.0),), True, 45.9, 0.801, 2.21),
        Stage(4, "seg-pose-depth", "+ pose and depth", (("pose", 1.0), ("depth", 0.6)), True, 13.6, 0.379, 3.31),
    ),
}


def stage_base(base: dict[str, Any], task: str, stage: Stage) -> dict[str, Any]:
    """The base request of one stage: the caller's, with the task, the stage's units and (stage 1) nothing kept."""
    data = copy.deepcopy(base)
    data["task"] = task
    data["control"] = [{"kind": kind, "weight": weight} for kind, weight in stage.units]
    if data.get("seed", -1) == -1:  # a derived seed would hash the stage's request: each stage would get its own
        data["seed"] = DEFAULT_SEED
    if not stage.segmented:
        segment = data.setdefault("segment", {})
        segment["mask_source"] = "none"
        segment.pop("phrases", None)  # nothing is segmented; phrases would only be ignored
    return data


def check_base(base: dict[str, Any], task: str) -> None:
    """BadInput for a base request that fights the stages: its own units, another task, a preset or a plain
    background (the stages compare generated scenes), or a mask source (each stage sets its own)."""
    problems = []
    if "control" in base:
        problems.append("control: the ablation sets each stage's ControlNet units; leave control out of --request")
    if base.get("task", task) != task:
        problems.append(f"task: the request says {base['task']!r} but --task is {task!r}")
    if base.get("preset") is not None or (base.get("output") or {}).get("background") is not None:
        problems.append("preset/output.background: the stages compare generated scenes; leave them out")
    if isinstance(base.get("segment"), dict) and "mask_source" in base["segment"]:
        problems.append("segment.mask_source: each stage sets its own (none for stage 1); leave it out")
    if problems:
        raise BadInput("--request: " + "; ".join(problems))


def stage_manifest(manifest: Manifest, stage: Stage) -> Manifest:
    """The rows as the stage sees them: without masks and keep phrases when the stage segments nothing (a mask
    column would otherwise set the mask source back to the mask)."""
    if stage.segmented:
        return manifest
    rows = tuple(
        dataclasses.replace(row, mask=None, fields={k: v for k, v in row.fields.items() if k != "keep"})
        for row in manifest.rows
    )
    return dataclasses.replace(manifest, rows=rows)


@dataclass(frozen=True)
class PlannedStage:
    stage: Stage
    jobs: list[Job]
    folder: Path


def plan_stages(
    manifest: Manifest, base: dict[str, Any], task: str, out: Path, *, models_dir: str | None = None
) -> list[PlannedStage]:
    """Every stage's jobs (ManifestProblems naming every bad row of any stage); nothing is written."""
    if task not in TASKS:
        raise BadInput(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    check_base(base, task)
    planned = []
    for stage in STAGES[task]:
        jobs = plan_jobs(stage_manifest(manifest, stage), stage_base(base, task, stage), models_dir=models_dir)
        planned.append(PlannedStage(stage, jobs, out / STAGES_DIR / stage.folder))
    return planned


def run_stages(
    planned: Sequence[PlannedStage],
    generators: Sequence[Generator],
    env: ModelSettings,
    *,
    options: RunOptions | None = None,
    events: Callable[[Stage], Events] | None = None,
    on_notes: Callable[[list[str]], None] | None = None,
) -> list[tuple[Stage, RunSummary]]:
    """Each stage's catalogue run in turn (done jobs skipped); stops after the first stage that did not finish
    every job (its summary last), so the table is never made from a partial stage."""
    from lib_garment.catalogue.runner import run_catalogue

    summaries = []
    for item in planned:
        summary = run_catalogue(item.jobs, item.folder, generators, env, options=options,
                                events=events(item.stage) if events else None, on_notes=on_notes)  # fmt: skip
        summaries.append((item.stage, summary))
        if summary.exit_code != 0:
            break
    return summaries


def stage_outputs(folder: Path) -> list[Path]:
    """The result files of a stage's done jobs, in manifest order (from its database)."""
    from lib_garment.catalogue.reports import output
    from lib_garment.catalogue.state import BatchState

    state = BatchState(folder)
    try:
        records = state.records()
    finally:
        state.close()
    missing = [f"{r.sku} #{r.variant}" for r in records if r.status != "done"]
    if missing:
        raise BadInput(f"{folder}: not every job is done ({', '.join(missing[:8])}): run the ablation again")
    return [folder / str(output(r, "result")) for r in records]


def evaluate_stages(
    planned: Sequence[PlannedStage], real: ImageSet, net: InceptionNet, photos: dict[str, Path], kid_subsets: int
) -> dict[str, Any]:
    """Every stage's FID, KID, IS (torch-fidelity, real features extracted once) and product fidelity."""
    from lib_garment.evaluate.fidelity import catalogue_fidelity
    from lib_garment.evaluate.image_sets import extract_features, fitted_options, metrics_from_features
    from lib_garment.evaluate.images import read_set

    real_features = extract_features(net, real.images)
    rows: list[dict[str, Any]] = []
    options = None
    for item in planned:
        files = stage_outputs(item.folder)
        features = cached_features(item.folder, files, net)
        if features is None:
            generated = read_set(files, f"stage {item.stage.folder}")
            features = extract_features(net, generated.images)
            save_cached_features(item.folder, files, net, features)
        options = fitted_options(len(real.images), len(files), net.layer, kid_subsets)
        numbers = metrics_from_features(real_features, features, options)
        fidelity = catalogue_fidelity(item.folder, photos).to_json()["overall"]
        stage = item.stage
        rows.append({
            "stage": stage.number, "name": stage.label, "folder": str(item.folder), "images": len(files),
            **numbers,
            "paper_fid": stage.paper_fid, "paper_kid": stage.paper_kid, "paper_is": stage.paper_is,
            "segmented": stage.segmented, **{f"fidelity_{k}": v for k, v in fidelity.items()},
        })  # fmt: skip
    assert options is not None
    return {
        "stages": rows,
        "real": real.describe(),
        "features": net.layer,
        "kid_subset_size": options.kid_subset_size,
        "kid_subsets": options.kid_subsets,
        "is_splits": options.is_splits,
        "seed_metrics": options.seed,
        "weights": f"{net.path} ({net.basis})",
    }


FEATURES_CACHE = "inception-features.npz"


def _features_key(files: Sequence[Path], net: InceptionNet) -> str:
    """What a stage's features depend on: the result files' bytes, the weights (the registry pins the file at
    its path by SHA-256) and the layer."""
    import hashlib

    from lib_garment.models.verify import sha256_file

    digest = hashlib.sha256(f"{net.path}\0{net.basis}\0{net.layer}".encode())
    for path in files:
        digest.update(f"\0{path.name}\0{sha256_file(path)}".encode())
    return digest.hexdigest()


def cached_features(folder: Path, files: Sequence[Path], net: InceptionNet) -> dict[str, Any] | None:
    """A stage's features from its last evaluation when nothing they depend on changed (a re-run of a finished
    ablation re-tabulates without running the Inception over every stage again); None otherwise."""
    import numpy as np

    from lib_garment.evaluate.inception import LOGITS

    path = folder / FEATURES_CACHE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["key"]) != _features_key(files, net):
                return None
            return {net.layer: saved["pool"], LOGITS: saved["logits"]}
    except (OSError, KeyError, ValueError):  # a damaged cache is recomputed, never trusted
        return None


def save_cached_features(folder: Path, files: Sequence[Path], net: InceptionNet, features: dict[str, Any]) -> None:
    import numpy as np

    from lib_garment.evaluate.inception import LOGITS

    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(_features_key(files, net)), pool=features[net.layer], logits=features[LOGITS])
    imageio.write_bytes(folder / FEATURES_CACHE, buffer.getvalue())


CSV_COLUMNS = (
    "stage", "name", "images", "fid", "kid_mean", "kid_std", "is_mean", "is_std", "paper_fid", "paper_kid",
    "paper_is", "kept_share", "exact_results", "results", "seam_result_mean", "compliance_pass_rate",
)  # fmt: skip


def _csv_row(row: dict[str, Any]) -> list[Any]:
    fidelity = {
        "kept_share": row["fidelity_kept_share"] if row["segmented"] else "",  # nothing kept: no share to give
        "exact_results": row["fidelity_exact_results"],
        "results": row["fidelity_results"],
        "seam_result_mean": _blank(row["fidelity_seam_result_mean"]),
        "compliance_pass_rate": _blank(row["fidelity_compliance_pass_rate"]),
    }
    return [fidelity[c] if c in fidelity else row[c] for c in CSV_COLUMNS]


def _blank(value: Any) -> Any:
    return "" if value is None else value


def ablation_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["stages"]:
        writer.writerow(_csv_row(row))
    return buffer.getvalue()


def ablation_markdown(report: dict[str, Any]) -> str:
    task, rows = report["task"], report["stages"]
    table = "Table 3 (background task)" if task == "background" else "Table 4 (model task)"
    n_real = report["real"]["count"]
    lines = [
        f"# Ablation, {task} task",
        "",
        f"{report['photos']} photo(s) × {report['seeds']} seed(s) per stage (seed {report['seed']} onwards, the "
        f"same in every stage); real set: {report['real_source']} ({n_real} images). Stages' folders: "
        f"`{STAGES_DIR}/<n>-<name>/` (catalogue folders: open each index.html).",
        "",
        "| stage | FID ↓ | KID ↓ (mean ± std) | IS ↑ (mean ± std) | paper FID | paper KID | paper IS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['stage']}. {row['name']} | {row['fid']:.2f} | {row['kid_mean']:.4f} ± {row['kid_std']:.4f} | "
        f"{row['is_mean']:.3f} ± {row['is_std']:.3f} | {row['paper_fid']} | {row['paper_kid']} | {row['paper_is']} |"
        for row in rows
    ]
    lines += [
        "",
        "Product fidelity (the α = 1 pixels of each result against the photo; the seam at the matte's edge, 0–255):",
        "",
        "| stage | kept pixels identical | exact results | seam (mean) | compliance pass rate |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        kept = f"{100 * row['fidelity_kept_share']:.2f} %" if row["segmented"] else "— (nothing kept)"
        seam = row["fidelity_seam_result_mean"]
        rate = row["fidelity_compliance_pass_rate"]
        lines.append(
            f"| {row['stage']}. {row['name']} | {kept} | {row['fidelity_exact_results']}/{row['fidelity_results']} | "
            f"{'—' if seam is None else f'{seam:.2f}'} | {'— (no preset)' if rate is None else f'{100 * rate:.0f} %'} |"
        )
    lines += [
        "",
        "How it was measured: torch-fidelity with the FID Inception of the model registry "
        f"({report['weights']}); FID and KID on the {report['features']}-wide pool layer; KID over "
        f"{report['kid_subsets']} random subsets of {report['kid_subset_size']} images; IS of each stage over "
        f"{report['is_splits']} split(s); every image resized to 299 × 299 (TF1-compatible bilinear, no crop); "
        f"KID subsets and IS shuffle seeded with {report['seed_metrics']}.",
        "",
        "How to read it: lower FID and KID mean the stage's images are distributed more like the real set; higher "
        "IS means more confident, more varied Inception classes. The paper's columns are its own numbers on its "
        f"own data ({table}), printed for the shape of the trend, not as a target.",
        "",
    ]
    if min(n_real, rows[0]["images"]) < 2048:
        lines.append(
            "**Small sets**: with fewer than a few thousand images FID is biased upwards (its covariance is "
            "estimated from few samples), so these FIDs are not comparable with the paper's or with a run on a set "
            "of another size; compare stages with each other. KID is unbiased, but its spread is wide on few images."
        )
    if report["features"] != "2048":
        lines.append(f"FID and KID on the {report['features']}-wide layer are not comparable to published numbers.")
    lines.append("")
    return "\n".join(lines)


def ablation_plot(report: dict[str, Any]) -> bytes:
    """FID and KID per stage, ours against the paper's (its own axis: the scales differ), as Figures 16–17."""
    try:
        import matplotlib
    except ImportError as err:  # both WebUIs install it (gradio needs it); a bare environment may not
        raise ModelUnavailable(
            f"the plot needs matplotlib ({err}): pip install matplotlib; ablation.md, .csv and .json are written"
        ) from None

    matplotlib.use("Agg", force=False)  # no display on a server; the WebUI may have chosen Agg already
    from matplotlib.figure import Figure

    rows = report["stages"]
    x = [row["stage"] for row in rows]
    names = [f"{row['stage']}. {row['name']}" for row in rows]
    figure = Figure(figsize=(11, 4.2), dpi=100)
    for index, (metric, title) in enumerate((("fid", "FID ↓"), ("kid", "KID ↓"))):
        axes = figure.add_subplot(1, 2, index + 1)
        ours = [row[metric if metric == "fid" else "kid_mean"] for row in rows]
        spread = None if metric == "fid" else [row["kid_std"] for row in rows]
        axes.errorbar(x, ours, yerr=spread, marker="o", color="tab:blue", capsize=3, label="ours")
        axes.set_ylabel(f"{title} (ours)", color="tab:blue")
        paper = axes.twinx()
        paper.plot(x, [row[f"paper_{metric}"] for row in rows], marker="s", linestyle="--", color="tab:orange")
        paper.set_ylabel(f"{title} (paper, {report['task']} task)", color="tab:orange")
        axes.set_xticks(x)
        axes.set_xticklabels(names, rotation=15, ha="right", fontsize=8)
        axes.set_title(f"{title} per stage")
    figure.suptitle(f"Ablation, {report['task']} task: {report['photos']} photo(s) × {report['seeds']} seed(s)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_reports(out: Path, report: dict[str, Any]) -> list[Path]:
    """DIR/ablation.md, .csv, .json and .png, each written atomically."""
    return [
        imageio.write_bytes(out / "ablation.md", ablation_markdown(report).encode("utf-8")),
        imageio.write_bytes(out / "ablation.csv", ablation_csv(report).encode("utf-8")),
        imageio.write_bytes(out / "ablation.json", json.dumps(report, indent=1, default=str).encode("utf-8")),
        imageio.write_bytes(out / "ablation.png", ablation_plot(report)),
    ]
