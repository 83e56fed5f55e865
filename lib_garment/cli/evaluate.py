"""``evaluate`` and ``evaluate-masks``: the paper's image-set metrics and mask quality on the command line.

- ``evaluate --real DIR --generated DIR [--json] [--features-out FILE.npz]``: FID, KID (mean ± std over
  subsets of a stated size) and IS (mean ± std over splits) of the generated set against the real set.
- ``evaluate-masks --pred DIR --truth DIR [--json]``: IoU, boundary F, MAE, S-measure, E-measure and weighted F,
  per image and overall.
- ``evaluate-fidelity DIR --photos MANIFEST_OR_FOLDER [--json]``: a catalogue folder's kept pixels against the
  photos (exit 1 when one differs), the seam at the matte's edge and the compliance pass rate.

Every input is checked before the Inception network is loaded: a missing or empty folder, an undecodable file
(named), a set smaller than the KID subset size or the IS splits (with the number needed) exit 2; missing
weights exit 3 naming the file and the folder to put it in. The work is lib_garment/evaluate/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput


def register(subparsers: argparse._SubParsersAction) -> None:
    sets = subparsers.add_parser(
        "evaluate",
        help="FID, KID and IS of a generated image set against a real one",
        description="FID, KID (mean ± std over --kid-subsets random subsets of --kid-subset-size images) and IS "
        "(of the generated set, mean ± std over --is-splits splits), computed by torch-fidelity with the FID "
        "Inception weights (models/garment_studio/evaluate/). Images: the folder's own .png/.jpg/.webp/.bmp/.tif "
        "files, converted to 8-bit RGB (alpha dropped), each resized to 299x299 (TF1-compatible bilinear, no crop).",
    )
    sets.add_argument("--real", required=True, metavar="DIR", help="the real images (e.g. the product photos)")
    sets.add_argument("--generated", required=True, metavar="DIR", help="the generated images")
    sets.add_argument("--json", action="store_true", help="print the report as JSON")
    sets.add_argument("--features-out", metavar="FILE.npz", help="also save the Inception features used")
    sets.add_argument("--kid-subset-size", type=int, default=1000, metavar="N", help="images per KID subset (1000)")
    sets.add_argument("--kid-subsets", type=int, default=100, metavar="N", help="KID subsets (100)")
    sets.add_argument("--is-splits", type=int, default=10, metavar="N", help="IS splits (10)")
    sets.add_argument(
        "--features",
        choices=("64", "192", "768", "2048"),
        default="2048",
        help="Inception pool layer of FID and KID (2048, the published one; narrower layers for small sets)",
    )
    sets.add_argument("--seed", type=int, default=2020, help="KID subsets and IS shuffle (2020, torch-fidelity's)")
    sets.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 … (default: cuda when there is one)")
    sets.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    sets.add_argument("--offline", action="store_true", help="never download; a missing file is named")
    sets.set_defaults(func=run_evaluate)

    masks = subparsers.add_parser(
        "evaluate-masks",
        help="mask quality against ground truth: IoU, boundary F, MAE, S-, E-measure, weighted F",
        description="Compare each mask in --pred with the ground-truth mask of the same file stem in --truth "
        "(same size; truth is foreground above 128). Scores per image and overall (means over images).",
    )
    masks.add_argument("--pred", required=True, metavar="DIR", help="predicted masks or mattes")
    masks.add_argument("--truth", required=True, metavar="DIR", help="ground-truth masks")
    masks.add_argument("--json", action="store_true", help="print the report as JSON")
    masks.set_defaults(func=run_evaluate_masks)

    kept = subparsers.add_parser(
        "evaluate-fidelity",
        help="product fidelity of a catalogue folder: kept pixels identical to the photo, seam, compliance",
        description="For every done output of a catalogue folder (batch or ablation stage): the share of α = 1 "
        "pixels identical to the photo (must be 100 %%), the seam at the matte's edge (mean |difference| across "
        "it, 0-255, result beside photo) and the compliance pass rate of the preset outputs. Exit 1 when any "
        "kept pixel differs from the photo.",
    )
    kept.add_argument("folder", metavar="DIR", help="the catalogue folder (holds <sku>/result.json)")
    kept.add_argument("--photos", required=True, metavar="MANIFEST_OR_FOLDER", help="the manifest or photo folder "
                      "the catalogue was made from (each SKU's photo)")  # fmt: skip
    kept.add_argument("--json", action="store_true", help="print the report as JSON")
    kept.set_defaults(func=run_evaluate_fidelity)


def run_evaluate(args: argparse.Namespace) -> int:
    from lib_garment.evaluate.image_sets import MetricOptions, check_counts, evaluate_sets
    from lib_garment.evaluate.images import list_images, read_set
    from lib_garment.evaluate.inception import load_inception
    from lib_garment.paths import models_root

    options = MetricOptions(args.kid_subset_size, args.kid_subsets, args.is_splits, args.seed, args.features)
    options.check()
    real_files = list_images(args.real, "--real")
    generated_files = list_images(args.generated, "--generated")
    check_counts(len(real_files), len(generated_files), options)  # before decoding a single file
    features_out = _features_path(args.features_out)
    real = read_set(real_files, "--real")
    generated = read_set(generated_files, "--generated")
    net = load_inception(
        models_root(args.models_dir), offline=True if args.offline else None, device=args.device, layer=args.features
    )
    report = evaluate_sets(real, generated, net, options, features_out).to_json()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(format_sets(report))
    return 0


def _features_path(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if path.suffix != ".npz":
        raise BadInput(f"--features-out must name a .npz file, got {value}")
    if path.is_dir():
        raise BadInput(f"--features-out {value} is a folder")
    return path


def format_sets(report: dict[str, Any]) -> str:
    lines = [
        f"FID {report['fid']:.4f} (Inception pool {report['features']})",
        f"KID {report['kid_mean']:.6f} ± {report['kid_std']:.6f} "
        f"({report['kid_subsets']} subsets of {report['kid_subset_size']} images)",
        f"IS  {report['is_mean']:.4f} ± {report['is_std']:.4f} ({report['is_splits']} splits, generated set)",
        f"real: {_describe(report['real'])}; generated: {_describe(report['generated'])}",
        f"resize: {report['resize']}",
        f"weights: {report['weights']}",
    ]
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def _describe(info: dict[str, Any]) -> str:
    sizes = ", ".join(f"{k} ×{v}" for k, v in info["sizes"].items())
    formats = ", ".join(f"{k} ×{v}" for k, v in info["formats"].items())
    return f"{info['count']} images ({sizes}; {formats})"


def run_evaluate_masks(args: argparse.Namespace) -> int:
    from lib_garment.evaluate.masks import METRICS, evaluate_masks

    report = evaluate_masks(Path(args.pred), Path(args.truth)).to_json()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    header = ["name", *METRICS]
    print("\t".join(header))
    for row in report["images"]:
        print("\t".join([row["name"], *(f"{row[m]:.4f}" for m in METRICS)]))
    overall = report["overall"]
    print("\t".join(["overall", *(f"{overall[m]:.4f}" for m in METRICS)]))
    print(f"pooled IoU over all pixels: {overall['pooled_iou']:.4f} ({overall['images']} images)", file=sys.stdout)
    return 0


def run_evaluate_fidelity(args: argparse.Namespace) -> int:
    from lib_garment.catalogue.manifest import read_manifest
    from lib_garment.evaluate.fidelity import catalogue_fidelity

    folder = Path(args.folder)
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder")
    manifest = read_manifest(args.photos)
    if manifest.problems:
        raise BadInput(f"--photos {args.photos}: " + "; ".join(manifest.problems))
    measured = catalogue_fidelity(folder, {row.sku: row.image for row in manifest.rows})
    report = measured.to_json()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(format_fidelity(report))
    if not measured.all_exact:
        changed = [f"{o['sku']} #{o['variant']}" for o in report["outputs"] if not o["exact"]]
        print(f"error: kept pixels differ from the photo in {', '.join(changed)}", file=sys.stderr)
        return 1
    return 0


def format_fidelity(report: dict[str, Any]) -> str:
    lines = ["sku\tvariant\tkept pixels\tidentical\tseam result\tseam photo"]
    for o in report["outputs"]:
        seams = [("-" if o[k] is None else f"{o[k]:.2f}") for k in ("seam_result", "seam_photo")]
        lines.append(
            f"{o['sku']}\t{o['variant']}\t{o['kept_pixels']}\t{100 * o['kept_share']:.4f} %\t" + "\t".join(seams)
        )
    overall = report["overall"]
    seam = overall["seam_result_mean"]
    rate = overall["compliance_pass_rate"]
    lines += [
        f"kept pixels identical to the photo: {100 * overall['kept_share']:.4f} % of {overall['kept_pixels']} "
        f"({overall['exact_results']}/{overall['results']} results exact; must be 100 %)",
        f"seam at the matte's edge (mean over results): {'-' if seam is None else f'{seam:.2f}'}",
        "compliance pass rate: "
        + ("- (no preset output)" if rate is None else f"{100 * rate:.1f} % of {overall['compliance_checked']}"),
    ]
    return "\n".join(lines)
