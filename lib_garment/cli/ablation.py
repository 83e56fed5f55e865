"""``ablation PHOTOS --webui URL --task background|model --out DIR``: the paper's four stages per task on a
seller's own photos, each a resumable catalogue run, evaluated (FID / KID / IS and product fidelity) and
tabulated beside the paper's numbers. The stages and files: lib_garment/evaluate/ablation.py.

Order, so that mistakes cost seconds: the flags, the base request, every row of every stage and the real set
are checked first (exit 2, nothing written); then the Inception weights (exit 3 naming the file and folder);
then every server, for every stage's units (exit 3); only then is ``DIR`` written and anything generated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lib_garment.cli.flags import out_folder, positive_seconds
from lib_garment.errors import BadInput

DESCRIPTION = """\
The paper's ablation (Kong & Wu 2024, Tables 3-4) on your own photos, with fixed seeds:
  background: 1 no segmentation, no ControlNet (the whole photo regenerated, nothing kept) / 2 segmentation only /
              3 + Canny of the mask (mask_canny) / 4 + normal map
  model:      1 no segmentation / 2 segmentation only / 3 + pose / 4 + pose and depth
Each stage is a catalogue run in DIR/stages/<n>-<name>/ (as `batch` makes: resumable, done jobs skipped), then
evaluated against the real set (default: the input photos). Written: DIR/ablation.md, .csv, .json and .png
(FID and KID per stage, ours beside the paper's)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ablation",
        help="the paper's four-stage ablation on your photos: FID / KID / IS per stage, beside the paper's",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("photos", metavar="PHOTOS", help="a folder of photos (<stem>.mask.png beside one: its mask), "
                        "or a .csv/.jsonl manifest as `batch` takes")  # fmt: skip
    parser.add_argument("--webui", action="append", required=True, metavar="URL", help="a WebUI (repeat for several)")
    parser.add_argument("--task", required=True, choices=("background", "model"), help="which of the paper's tables")
    parser.add_argument("--out", required=True, metavar="DIR", help="the ablation's folder (created if missing)")
    parser.add_argument("--real", metavar="DIR", help="the real set to compare with (default: the input photos)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="outputs per photo and stage (default 1)")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="the first seed (default 1; same per stage)")
    parser.add_argument("--keep", metavar="TEXT", help="what to keep, for photos without a mask (stages 2-4)")
    parser.add_argument("--prompt", metavar="TEXT", help="the prompt of every stage")
    parser.add_argument("--request", metavar="BASE.json", help="the base request (no control: the stages set it)")
    parser.add_argument("--api-auth", metavar="USER:PASS", help="credentials of WebUIs started with --api-auth")
    parser.add_argument(
        "--features", choices=("64", "192", "768", "2048"), default="2048",
        help="Inception pool layer of FID and KID (2048, the paper's)",
    )  # fmt: skip
    parser.add_argument("--kid-subsets", type=int, default=100, metavar="N", help="KID subsets (100)")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="longest generation wait")
    parser.add_argument("--device", default="auto", help="the Inception's device: cpu, cuda … (default: cuda if any)")
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--offline", action="store_true", help="never download: use only model files on disk")
    parser.set_defaults(func=run)


def _base(args: argparse.Namespace) -> dict[str, Any]:
    from lib_garment.cli.request_file import read_request_file
    from lib_garment.request_data import set_field

    data = read_request_file(args.request) if args.request else {}
    if args.keep is not None:  # mask source stays auto: a photo's own mask wins, else the phrase
        set_field(data, "segment.phrases", args.keep)
    if args.prompt is not None:
        set_field(data, "prompt", args.prompt)
    set_field(data, "seed", args.seed)  # over the file's: every stage must share it
    set_field(data, "generation.batch_count", args.seeds)
    return data


def _check_flags(args: argparse.Namespace) -> Path:
    if not 1 <= args.seeds <= 64:
        raise BadInput(f"--seeds must be 1 to 64, got {args.seeds}")
    if args.seed < 0:
        raise BadInput(f"--seed must be 0 or more (fixed seeds are the point), got {args.seed}")
    if args.kid_subsets < 1:
        raise BadInput(f"--kid-subsets must be at least 1, got {args.kid_subsets}")
    positive_seconds(args.timeout)
    return out_folder(args.out)


def _real_set(args: argparse.Namespace, photos: dict[str, Path], per_stage: int) -> tuple[Any, str]:
    """The real set, decoded now: an undecodable file is named before anything is generated."""
    from lib_garment.evaluate.images import list_images, read_set

    if args.real is not None:
        paths, source = list_images(args.real, "--real"), f"--real {args.real}"
    else:
        paths, source = sorted(set(photos.values())), f"the input photos ({args.photos})"
    if min(len(paths), per_stage) < 2:
        raise BadInput(
            f"FID and KID need at least 2 images per set: the real set has {len(paths)}, each stage makes "
            f"{per_stage} (add photos, or --seeds 2 or more)"
        )
    return read_set(paths, "the real set"), source


def run(args: argparse.Namespace) -> int:
    from lib_garment.catalogue.manifest import read_manifest
    from lib_garment.cli.batch import _servers
    from lib_garment.evaluate.ablation import evaluate_stages, plan_stages, write_reports
    from lib_garment.evaluate.inception import load_inception
    from lib_garment.paths import models_root

    out = _check_flags(args)
    manifest = read_manifest(args.photos)
    planned = plan_stages(manifest, _base(args), args.task, out, models_dir=args.models_dir)
    photos = {row.sku: row.image for row in manifest.rows}
    per_stage = len(planned[0].jobs)
    real, real_source = _real_set(args, photos, per_stage)
    net = load_inception(models_root(args.models_dir), offline=True if args.offline else None,
                         device=args.device, layer=args.features)  # fmt: skip
    servers = _servers(args, [job for item in planned for job in item.jobs])
    print(f"{manifest.source}: {len(manifest.rows)} photo(s) × {args.seeds} seed(s), 4 stages of the {args.task} "
          f"task: {per_stage} job(s) each", file=sys.stderr)  # fmt: skip
    code = _run_stages(args, planned, servers, out)
    if code != 0:
        return code
    report = evaluate_stages(planned, real, net, photos, args.kid_subsets)
    report.update(task=args.task, photos=len(manifest.rows), seeds=args.seeds, seed=args.seed,
                  real_source=real_source)  # fmt: skip
    for path in write_reports(out, report):
        print(path)
    for row in report["stages"]:
        print(f"stage {row['stage']} {row['name']}: FID {row['fid']:.2f}, KID {row['kid_mean']:.4f} ± "
              f"{row['kid_std']:.4f}, IS {row['is_mean']:.3f} ± {row['is_std']:.3f}", file=sys.stderr)  # fmt: skip
    return 0


def _run_stages(args: argparse.Namespace, planned: list[Any], servers: list[Any], out: Path) -> int:
    """Every stage's run; the exit code of the first that did not finish (0 when all did)."""
    from lib_garment.catalogue.runner import RunOptions
    from lib_garment.cli.batch import _environment, _Progress
    from lib_garment.evaluate.ablation import run_stages

    # The local models (segmentation, maps) run where the Inception does; "auto" is theirs by default.
    local = argparse.Namespace(device=None if args.device == "auto" else args.device, models_dir=args.models_dir,
                               offline=args.offline)  # fmt: skip
    progress: list[_Progress] = []

    def events(stage: Any) -> _Progress:
        if progress:
            progress[-1].close()
        print(f"stage {stage.number}: {stage.label} → {out / 'stages' / stage.folder}", file=sys.stderr)
        progress.append(_Progress())
        return progress[-1]

    try:
        summaries = run_stages(
            planned, servers, _environment(local), options=RunOptions(timeout=args.timeout), events=events,
            on_notes=lambda notes: [print(f"note: {n}", file=sys.stderr) for n in notes],
        )  # fmt: skip
    finally:
        if progress:
            progress[-1].close()
    stage, last = summaries[-1]
    if last.exit_code == 0:
        return 0
    for record in last.failed:
        print(f"failed: {record.sku} #{record.variant}: {record.error}", file=sys.stderr)
    print(f"stage {stage.number} ({stage.label}) did not finish: {last.stopped or 'some jobs failed'}; run the "
          "same command again to resume (done jobs are skipped)", file=sys.stderr)  # fmt: skip
    return last.exit_code
