"""Check ``python -m lib_garment ablation`` against a running WebUI for both tasks, with the evaluation's and the
maps' models present as random-weight files in the users' formats.

Usage: python tools/check_webui_ablation.py --webui http://127.0.0.1:7860 [--work DIR] [--photos 8] [--side 128]
       [--steps 1] [--tasks background,model] [--features 2048]

No trained Inception, YOLOv8n-pose or Depth Anything is available offline, so the tool builds them with random
weights at their real sizes, in the files users download: torch-fidelity's FID Inception state dict
(tests/factories/inception.py), an optimizer-stripped ultralytics ``yolov8n-pose.pt`` (tests/factories/yolo.py) and a
transformers Depth Anything V2 Small folder (bench/model_maps.py; built in the model worker where the transformers
here is too old). They are linked under the registry's names in ``WORK/models`` and the registry in this process is
swapped for one that knows their sizes and SHA-256 (tests/factories/registry.py), so the production loaders find,
verify and load them exactly as they would the released files. The WebUI's own weights are random too: the
numbers are meaningless; what is checked is that every stage runs and is tabulated.

The photos are synthetic: a T-shirt on a grey dress form against a studio sweep, its mask beside it
(``<stem>.mask.png``), so no segmentation model is needed. The random pose model finds nobody in them, so the
model task's pose unit gets an empty map (each stage says so once; see the README's ablation section).

The WebUI needs a ControlNet per map kind of the stages: canny and normal (background), openpose and depth (model).
The harness (/work/hosts/a1111) has no normal one; as its others are random too, a random SD 1.5 ControlNet under
the normal model's name stands in, through the ControlNet extension's own extra folder (nothing in the harness
changes)::

    mkdir -p /tmp/cn && ln -s $A1111_HOME/webui/models/ControlNet/control_v11p_sd15_canny.safetensors \\
        /tmp/cn/control_v11p_sd15_normalbae.safetensors
    A1111_HOME=... launch_server.sh --controlnet-dir /tmp/cn

Checks per task: the command exits 0; the four stage folders hold one done result per photo; ablation.md, .csv,
.json and .png are written; the CSV's rows carry the paper's FIDs for the task (Tables 3–4) and every result's
kept pixels are exact (stages 2–4 keep the whole mask); the WebUI applied each stage's ControlNet units (read from
each result's infotext: none in stages 1–2, then mask outline / + normal, or pose / + depth). Prints the paths,
each ablation.md, and ALL OK or the problems; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# What each stage's units are, as the WebUI's ControlNet names its models in the infotext (by the map they take).
UNIT_MODELS = {
    "background": ((), (), ("canny",), ("canny", "normal")),
    "model": ((), (), ("openpose",), ("openpose", "depth")),
}
PROMPTS = {
    "background": "a t-shirt on a dress form in a bright photo studio, soft light",
    "model": "a young woman wearing a t-shirt, standing in a park, fashion photo",
}
SHIRT = (  # a T-shirt's outline on a unit square, clockwise from the left of the neckline
    (0.42, 0.30), (0.30, 0.34), (0.17, 0.50), (0.25, 0.56), (0.33, 0.47), (0.33, 0.86), (0.67, 0.86),
    (0.67, 0.47), (0.75, 0.56), (0.83, 0.50), (0.70, 0.34), (0.58, 0.30), (0.50, 0.36),
)  # fmt: skip


def offline_environment(work: Path) -> None:
    """Nothing is downloaded: the hub and ultralytics are offline, and a hub cache of this machine (which might hold
    a real Depth Anything) is not looked in. Set before anything imports huggingface_hub or ultralytics."""
    from tests.factories.yolo import ensure_yolo_environment

    os.environ.update(GARMENT_OFFLINE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_CACHE=str(work / "hub"))
    ensure_yolo_environment(work / "yolo-config")


def build_models(build: Path) -> dict[str, Path]:
    """The three random models at their real sizes (built once per work folder: a rebuilt file would have another
    hash, and the ablation's cached features are keyed by the weights)."""
    from lib_garment.maps.depth_models import DEPTH_REQUIREMENT
    from lib_garment.runtime import get_runtime
    from tests.factories.inception import FILE_NAME, make_random_inception
    from tests.factories.yolo import make_yolo

    inception = build / "inception" / FILE_NAME
    pose = build / "yolo" / "yolov8n-pose.pt"
    depth = build / "Depth-Anything-V2-Small-hf"
    started = time.perf_counter()
    if not inception.is_file():
        make_random_inception(inception.parent)
    if not pose.is_file():
        make_yolo(pose.parent, task="pose", filename=pose.name)
    if not (depth / "model.safetensors").is_file():
        # transformers 4.30.2 (AUTOMATIC1111's set) has no Depth Anything: built where the production code runs it.
        runtime = get_runtime(DEPTH_REQUIREMENT)
        runtime.call("bench.model_maps:build_depth_anything_small", str(depth))
    sizes = ", ".join(f"{p.name} {_size(p) / 1e6:.0f} MB" for p in (inception, pose, depth))
    print(f"models in {build} ({time.perf_counter() - started:.0f} s): {sizes}")
    return {"inception-2015-12-05": inception, "yolov8n-pose": pose, "Depth-Anything-V2-Small-hf": depth}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


def use_models(sources: dict[str, Path], models: Path) -> None:
    """Link the files under the registry's names and put a registry that knows them in place of the real one."""
    from lib_garment.models import registry
    from tests.factories.registry import place_models

    if models.exists():  # a rerun: the links are made again (the registry is this process's own)
        shutil.rmtree(models)
    registry.MODELS = place_models(models, sources)


def make_photos(folder: Path, count: int, side: int) -> None:
    """``count`` photos of a T-shirt on a grey dress form against a studio sweep, each with its shirt's mask."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None, None]
    for k in range(count):
        rng = np.random.default_rng(100 + k)
        top, bottom = rng.integers(150, 250, 3), rng.integers(40, 150, 3)
        sweep = top * (1 - ramp) + bottom * ramp + rng.normal(0, 4, (side, side, 3))
        photo = Image.fromarray(np.clip(np.broadcast_to(sweep, (side, side, 3)), 0, 255).astype(np.uint8))
        mask = Image.new("L", (side, side), 0)
        scale, dx, dy = rng.uniform(0.85, 1.05), rng.uniform(-0.06, 0.06), rng.uniform(-0.03, 0.04)

        def at(x: float, y: float, scale: float = scale, dx: float = dx, dy: float = dy) -> tuple[float, float]:
            return ((0.5 + (x - 0.5) * scale + dx) * side, (0.5 + (y - 0.5) * scale + dy) * side)

        draw = ImageDraw.Draw(photo)
        form = (150, 146, 140)  # the dress form: head, neck and stand, left of the mask
        draw.ellipse([*at(0.43, 0.08), *at(0.57, 0.26)], fill=form)
        draw.rectangle([*at(0.46, 0.24), *at(0.54, 0.33)], fill=form)
        draw.rectangle([*at(0.48, 0.85), *at(0.52, 0.97)], fill=(90, 80, 70))
        shirt = [at(x, y) for x, y in SHIRT]
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        draw.polygon(shirt, fill=colour)
        for stripe in range(int(rng.integers(0, 4))):  # some shirts striped, so the set is not all flat colours
            y = 0.50 + 0.09 * stripe
            draw.rectangle([*at(0.33, y), *at(0.67, y + 0.03)], fill=tuple(255 - c for c in colour))
        ImageDraw.Draw(mask).polygon(shirt, fill=255)  # the stripes lie inside the shirt: its outline is the mask
        photo.save(folder / f"TEE-{k:02d}.png")
        mask.save(folder / f"TEE-{k:02d}.mask.png")


def run_ablation(task: str, args: argparse.Namespace, photos: Path, models: Path) -> tuple[int, Path, float]:
    from lib_garment.cli import main as cli

    out = args.work / f"ablation-{task}"
    base = args.work / f"base-{task}.json"
    base.write_text(json.dumps({
        "prompt": PROMPTS[task], "generation": {"steps": args.steps, "width": args.side, "height": args.side},
    }))  # fmt: skip
    command = ["ablation", str(photos), "--webui", args.webui, "--task", task, "--out", str(out), "--request",
               str(base), "--models-dir", str(models), "--offline", "--device", "cpu", "--features", args.features,
               "--timeout", "1800"]  # fmt: skip
    print(f"\n== {task}: python -m lib_garment {' '.join(command)}", flush=True)
    started = time.perf_counter()
    try:
        code = cli.main(command)
    except SystemExit as exit_:  # argparse's and the command's own exits
        code = int(exit_.code or 0)
    return code, out, time.perf_counter() - started


def applied_units(infotext: str | None) -> tuple[str, ...]:
    """The map each ControlNet unit in a generation's infotext took, by its model's name."""
    models = re.findall(r"ControlNet \d+: \"[^\"]*?Model: ([^,\"]+)", infotext or "")
    kinds = []
    for model in models:
        found = [kind for kind in ("openpose", "depth", "normal", "canny") if kind in model]
        kinds.append(found[0] if found else model)
    return tuple(kinds)


def check_task(task: str, code: int, out: Path, count: int) -> list[str]:
    from lib_garment.evaluate.ablation import STAGES

    if code != 0:
        return [f"{task}: the ablation exited {code}"]
    stages = STAGES[task]
    folders = sorted(p.name for p in (out / "stages").iterdir())
    problems = [f"{task}: stage folders {folders}"] if folders != [s.folder for s in stages] else []
    names = ("ablation.md", "ablation.csv", "ablation.json", "ablation.png")
    problems += [
        f"{task}: {n} missing or empty" for n in names if not (out / n).is_file() or not (out / n).stat().st_size
    ]
    with (out / "ablation.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if [float(r["paper_fid"]) for r in rows] != [s.paper_fid for s in stages]:
        problems.append(f"{task}: paper FIDs {[r['paper_fid'] for r in rows]}")
    for row, stage in zip(rows, stages, strict=False):
        problems += [f"{task} stage {stage.number}: {p}" for p in check_row(row, stage.segmented, count)]
    for stage, expected in zip(stages, UNIT_MODELS[task], strict=True):
        seen = set()
        for report in sorted((out / "stages" / stage.folder).glob("*/result.json")):
            for output in json.loads(report.read_text())["outputs"]:
                seen.add(applied_units((output.get("generated") or {}).get("infotext")))
        print(f"{task} stage {stage.folder}: ControlNet units applied (from the infotexts): {sorted(seen)}")
        if seen != {expected}:
            problems.append(f"{task} stage {stage.folder}: units {sorted(seen)}, expected {expected}")
    return problems


def check_row(row: dict[str, str], segmented: bool, count: int) -> list[str]:
    """One CSV row: every photo generated and its kept pixels exact, the whole mask kept, finite metrics."""
    problems = []
    if row["images"] != str(count) or row["exact_results"] != str(count):
        problems.append(f"{row['images']} images, {row['exact_results']} exact (expected {count})")
    if segmented and row["kept_share"] != "1.0":
        problems.append(f"kept share {row['kept_share']}")
    return problems + [f"{k} is {row[k]}" for k in ("fid", "kid_mean", "is_mean") if not np.isfinite(float(row[k]))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webui", required=True, metavar="URL")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one, kept)")
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--side", type=int, default=128, help="photo and generation side (a CPU WebUI: keep small)")
    parser.add_argument("--steps", type=int, default=1, help="sampling steps")
    parser.add_argument("--tasks", default="background,model")
    parser.add_argument("--features", default="2048", choices=("64", "192", "768", "2048"))
    args = parser.parse_args()
    args.work = (args.work or Path(tempfile.mkdtemp(prefix="garment-ablation-"))).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    offline_environment(args.work)

    from lib_garment.runtime import close_all

    started = time.perf_counter()
    problems: list[str] = []
    results: list[Path] = []
    try:
        use_models(build_models(args.work / "build"), args.work / "models")
        photos = args.work / "photos"
        make_photos(photos, args.photos, args.side)
        print(f"photos: {args.photos} × {args.side}² with masks in {photos}")
        for task in args.tasks.split(","):
            code, out, seconds = run_ablation(task, args, photos, args.work / "models")
            print(f"{task}: exit {code} in {seconds:.0f} s", flush=True)
            problems += check_task(task, code, out, args.photos)
            results.append(out)
    finally:
        with contextlib.suppress(Exception):  # the model worker (Depth Anything here) is not left running
            close_all()
    for out in results:
        print(f"\n== {out}")
        for path in sorted(out.glob("ablation.*")):
            print(f"  {path}")
        if (out / "ablation.md").is_file():
            print((out / "ablation.md").read_text())
    print(f"work folder: {args.work}; {time.perf_counter() - started:.0f} s in all")
    sys.path.insert(0, str(ROOT / "tools"))
    from check_webui_catalogue import verdict  # the sibling tools' verdict line

    return verdict(problems)


if __name__ == "__main__":
    raise SystemExit(main())
