"""``run``: the whole job for one photo. Segment the garment, make the control maps, build the generation plan
and write a preview; with ``--webui URL`` have that WebUI generate over its API and composite every image
exactly onto the photo.

Order, so that mistakes cost seconds: every flag, the request file, the photo and the mask are checked first
(exit 2, nothing written); then, with ``--webui``, the server: reachable, started with ``--api``, credentials,
ControlNet and a ControlNet model for every unit, the sampler (exit 3 or 2, nothing written); only then do the
local models run (downloaded on first use, with a progress bar; exit 3 when one is missing offline). The
preview is written before the generation call, result.json only after it succeeded: a folder with
result.json holds a complete set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.errors import BadInput
from lib_garment.request import MAP_KINDS

if TYPE_CHECKING:
    import numpy as np

    from lib_garment.client.remote import RemoteResult
    from lib_garment.client.webui import ServerInfo, WebUI
    from lib_garment.generate.prepare import Prepared
    from lib_garment.request import GarmentRequest

# lib_garment.samples.SAMPLES, repeated so that parsing arguments imports no numpy.
SAMPLES = ("astronaut",)
SAMPLE_KEEP = {"astronaut": "white suit"}
DEFAULT_WEBUI = "http://127.0.0.1:7860"
DEFAULT_TIMEOUT_S = 3600.0
CHECK_TIMEOUT_S = 15.0
PREVIEW = ("overlay.png", "mask.png", "alpha.png", "inpaint_mask.png", "maps/<kind>.png", "plan.json")
_RESULT_FILE = re.compile(r"result-\d+\.png")

DESCRIPTION = """\
The main job for one photo: keep the garment exactly as photographed and regenerate the rest.

It segments the garment (--keep TEXT: GroundingDINO + SAM + matte; or your own --mask), makes the control
maps the ControlNet units need, builds the generation plan and writes the preview into DIR:
overlay.png, mask.png, alpha.png, inpaint_mask.png (white = regenerated), maps/<kind>.png, plan.json.

Without --webui it stops there and prints the command that generates. With --webui URL a running WebUI
(AUTOMATIC1111 or Forge, started with --api; sd-webui-controlnet, built into Forge) inpaints the photo
with the plan's mask and ControlNet units; every image is composited onto the photo at full resolution
through the alpha matte, so the kept pixels are the photographed ones, and written as result-<n>.png with
result.json (plan, server, seeds, infotexts, kept-pixel check per image, timings).

Settings come from --request REQUEST.json (the Garment Studio request, as the REST API takes it) and the
flags, which override the file. Default models download on first use (--offline: only files on disk).

--sample astronaut: NASA's portrait of astronaut Eileen Collins in her white spacesuit (public domain),
the photo scikit-image ships as skimage.data.astronaut(); nothing is downloaded, and the suit is the
garment (default --keep "white suit")."""

EPILOG = """\
examples:
  python -m lib_garment run --sample astronaut --out out/
  python -m lib_garment run photo.jpg --keep "white t-shirt" --prompt "on a beach" --out out/ \\
      --webui http://127.0.0.1:7860
  python -m lib_garment run mannequin.jpg --task model --mask keep.png --units pose,mask_canny:0.8,depth:0.6 \\
      --seed 7 --batch-count 4 --out out/ --webui http://127.0.0.1:7860

exit codes: 0 ok; 2 bad input (flags, request file, photo, mask, credentials: nothing written, no model
run); 3 something missing (the WebUI unreachable or without --api, ControlNet or a ControlNet model not
installed, a model file missing offline, no GPU for --device cuda); 1 the WebUI failed or timed out during
generation (the preview stays, result.json is not written)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the main job: segment, control maps, plan and preview; with --webui URL generate on a WebUI",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="the photo (or --sample NAME)")
    parser.add_argument("--sample", choices=SAMPLES, help="a bundled public-domain photo instead of IMAGE")
    parser.add_argument("--task", choices=("background", "model"), help="background (default) or model")
    parser.add_argument("--keep", metavar="TEXT", help='what to keep, dot-separated: "white t-shirt", "dress . belt"')
    parser.add_argument("--mask", metavar="KEEP.png", help="keep this region (any non-zero pixel) instead of --keep")
    parser.add_argument("--prompt", metavar="TEXT", help="what to generate around the garment")
    parser.add_argument("--negative-prompt", metavar="TEXT", help="what to avoid")
    parser.add_argument(
        "--units",
        metavar="KIND[:WEIGHT[:START:END]],...",
        help=f"ControlNet units, e.g. mask_canny,normal or pose:1,mask_canny:0.8,depth:0.6:0:0.5 (kinds: "
        f"{', '.join(MAP_KINDS)}; START and END: the share of the steps the unit acts in, default 0 and 1); none "
        "for no units. Default: the task's (background: mask_canny:1,normal:0.6; model: pose:1,mask_canny:0.8,"
        "depth:0.6)",
    )
    parser.add_argument(
        "--maps",
        action="append",
        metavar="KIND=FILE.png",
        help="a control map of your own for a unit, the photo's size, used instead of making it (repeat the flag, "
        "or separate with commas: --maps pose=pose.png,depth=depth.png)",
    )
    parser.add_argument("--request", metavar="REQUEST.json", help="a Garment Studio request; flags override it")
    parser.add_argument("--steps", type=int, metavar="N", help="sampling steps (default: the server's)")
    parser.add_argument("--cfg", type=float, metavar="X", help="CFG scale (default: the server's)")
    parser.add_argument("--sampler", metavar="NAME", help="sampler name (default: the server's)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed (-1: random)")
    parser.add_argument("--batch-count", type=int, metavar="N", help="how many images (default 1)")
    parser.add_argument("--width", type=int, metavar="W", help="generation width (default: photo fitted in 1024)")
    parser.add_argument("--height", type=int, metavar="H", help="generation height")
    parser.add_argument("--denoising", type=float, metavar="X", help="denoising strength (default 1.0)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created if missing)")
    parser.add_argument("--webui", metavar="URL", help=f"generate on this WebUI's API, e.g. {DEFAULT_WEBUI}")
    parser.add_argument("--api-auth", metavar="USER:PASS", help="credentials of a WebUI started with --api-auth")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"longest wait for the generation call (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where local models run (default: cuda if any)")
    parser.add_argument("--offline", action="store_true", help="never download: use only model files on disk")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # 1. Everything the user gave, before any network or model.
    request, photo, label, mask, maps, server = _inputs(args)
    out = Path(args.out)
    timings: dict[str, Any] = {"read_s": time.perf_counter() - started}

    # 2. The server, before the local models: reachable, --api, ControlNet and its models, the sampler.
    info = models = None
    if server is not None:
        check_start = time.perf_counter()
        info, models = _check_server(server, request)
        timings["check_s"] = time.perf_counter() - check_start

    # 3. Segment, maps, plan (models fetched with a progress bar on first use).
    prepared = _prepare(args, request, photo, mask, maps, models)
    timings["prepare"] = prepared.timings

    # 4. The preview (an earlier run's results go first: they must not pass for this run's).
    write_start = time.perf_counter()
    written = _write_preview(prepared, out)
    timings["preview_write_s"] = time.perf_counter() - write_start
    if server is None:
        for path in written:
            print(path)
        print(how_to_generate(args, prepared, out), file=sys.stderr)
        return 0

    # 5. Generation on the server, exact composite, results.
    from lib_garment.client.remote import generate
    from lib_garment.generate.outputs import write_results

    print(f"generating {prepared.plan.batch_count} image(s) on {server.url} ...", file=sys.stderr)
    result = generate(server, info, prepared.plan, models, args.timeout)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    timings.update(result.timings)
    report = _report(args, label, prepared, info, result, timings, started)
    written += write_results(result.images, out, report)  # result.json last: its presence means complete
    for path in written:
        print(path)
    for i, check in enumerate(result.kept):
        print(f"result-{i + 1}.png: {check.describe()}", file=sys.stderr)
    return 0


# -- the request -----------------------------------------------------------------------------------------------
# Which flag sets which request field (for messages that name the flag the user typed).
FLAG_FIELDS = {
    "task": "task",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "keep": "segment.phrases",
    "steps": "generation.steps",
    "cfg": "generation.cfg_scale",
    "sampler": "generation.sampler",
    "seed": "seed",
    "batch_count": "generation.batch_count",
    "width": "generation.width",
    "height": "generation.height",
    "denoising": "generation.denoising_strength",
    "units": "control",
}


def build_request(args: argparse.Namespace) -> GarmentRequest:
    """--request's JSON with the flags laid over it, validated; BadInput naming the flag or the file's field."""
    from lib_garment.pydantic_compat import ValidationError
    from lib_garment.request import GarmentRequest, describe_problems, validation_problems

    data = read_request_file(args.request) if args.request else {}
    flags: dict[str, str] = {}  # dotted field → flag
    for attr, path in FLAG_FIELDS.items():
        value = getattr(args, attr)
        if value is None:
            continue
        if attr == "units":
            value = parse_units(value)
        set_field(data, path, value)
        flags[path] = "--" + attr.replace("_", "-")
    if args.mask is not None:
        set_field(data, "segment.mask_source", "mask")
        if args.keep is not None:
            print("note: --keep is not used with --mask (the mask says what to keep)", file=sys.stderr)
    elif args.keep is not None:
        set_field(data, "segment.mask_source", "phrase")
    elif args.sample is not None and not _get(data, "segment.phrases"):
        set_field(data, "segment.phrases", SAMPLE_KEEP[args.sample])
    try:
        return GarmentRequest.parse_obj(data)
    except ValidationError as err:

        def where(path: str) -> str:
            return flag_for(flags, path) or f"{args.request}: {path or 'request'}"

        raise BadInput(describe_problems(validation_problems(err), where)) from None


def flag_for(flags: dict[str, str], path: str) -> str | None:
    """The flag that set the field at ``path`` (or a field above it), if a flag did."""
    return next((flag for field, flag in flags.items() if path == field or path.startswith(field + ".")), None)


def parse_units(text: str) -> list[dict[str, Any]]:
    """``mask_canny,normal``, ``pose:1,mask_canny:0.8`` or ``depth:0.6:0:0.5`` (weight, guidance start and
    end); ``none`` for no units."""
    if text.strip().lower() == "none":
        return []
    units = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, *numbers = (piece.strip() for piece in part.split(":"))
        if kind not in MAP_KINDS:
            raise BadInput(f"--units: unknown kind {kind!r} (choose from {', '.join(MAP_KINDS)}, or none)")
        if len(numbers) not in (0, 1, 3):
            raise BadInput(f"--units: {part!r}: give KIND, KIND:WEIGHT or KIND:WEIGHT:START:END")
        unit: dict[str, Any] = {"kind": kind}
        for name, number in zip(("weight", "guidance_start", "guidance_end"), numbers, strict=False):
            unit[name] = _number(number, f"--units: the {name.replace('_', ' ')} of {kind}")
        units.append(unit)
    if not units:
        raise BadInput("--units: name at least one unit (e.g. mask_canny,normal), or none")
    return units


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"{what} must be a number, got {text!r}") from None


def read_request_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"--request {path}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"--request {path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as err:
        raise BadInput(f"--request {path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--request {path}: must hold a JSON object (the Garment Studio request)")
    return data


def set_field(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {} if child is None else child
        if not isinstance(child, dict):  # the file has a non-object here: let validation name it
            return
        node = child
    node[last] = value


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


# -- inputs ------------------------------------------------------------------------------------------------------
def _inputs(
    args: argparse.Namespace,
) -> tuple[GarmentRequest, np.ndarray, str, np.ndarray | None, dict[str, np.ndarray], WebUI | None]:
    """The request, photo, mask, the user's maps and the server client, every one checked (BadInput, exit 2)
    before anything runs."""
    from lib_garment.generate.prepare import check_inputs
    from lib_garment.segment.phrases import parse_phrases

    request = build_request(args)
    photo, label = _photo(args)
    mask = _mask(args, photo)
    maps = _maps(args, request)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a folder")
    if mask is None and request.segment.mask_source != "mask" and not parse_phrases(request.segment.phrases):
        raise BadInput('say what to keep: --keep "white t-shirt" (several: "dress . belt"), or --mask KEEP.png')
    try:
        check_inputs(request, photo, mask, maps)
    except BadInput as err:
        if err.loc[:1] != ("maps",):
            raise
        raise BadInput(f"--maps {err.loc[1]}: {err}") from None
    if not args.timeout > 0:
        raise BadInput(f"--timeout must be more than 0 seconds, got {args.timeout:g}")
    server = _server(args)
    if args.device is not None and args.device.startswith("cuda"):
        from lib_garment.runtime.devices import resolve_device

        resolve_device(args.device)  # no GPU here: ModelUnavailable (exit 3) before anything runs
    return request, photo, label, mask, maps, server


def _photo(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    from lib_garment import imageio

    if args.image is not None and args.sample is not None:
        raise BadInput("give IMAGE or --sample NAME, not both")
    if args.sample is not None:
        from lib_garment.samples import load_sample

        return load_sample(args.sample), f"sample:{args.sample}"
    if args.image is None:
        raise BadInput("give the photo (IMAGE) or --sample astronaut")
    return imageio.read_image(args.image), str(Path(args.image).resolve())


def _maps(args: argparse.Namespace, request: GarmentRequest) -> dict[str, np.ndarray]:
    """--maps KIND=FILE (repeated or comma-separated) read as RGB, by kind; every file checked now."""
    from lib_garment import imageio
    from lib_garment.generate.tasks import map_kinds

    maps: dict[str, np.ndarray] = {}
    for item in (piece.strip() for text in args.maps or () for piece in text.split(",")):
        if not item:
            continue
        kind, equals, path = (part.strip() for part in item.partition("="))
        if not equals or not path:
            raise BadInput(f"--maps: {item!r}: give KIND=FILE.png, e.g. pose=pose.png")
        if kind not in MAP_KINDS:
            raise BadInput(f"--maps: unknown kind {kind!r} (choose from {', '.join(MAP_KINDS)})")
        if kind in maps:
            raise BadInput(f"--maps: {kind} is given twice")
        maps[kind] = imageio.read_image(path)
    unused = sorted(set(maps) - set(map_kinds(request)))
    if unused:
        raise BadInput(f"--maps {', '.join(unused)}: no such unit (add it to --units, or leave the map out)")
    return maps


def _mask(args: argparse.Namespace, photo: np.ndarray) -> np.ndarray | None:
    if args.mask is None:
        return None
    from lib_garment.segment.coarse import read_coarse_mask

    return read_coarse_mask(args.mask, photo.shape[:2])


def _server(args: argparse.Namespace) -> WebUI | None:
    from lib_garment.client.http import parse_auth
    from lib_garment.client.webui import WebUI

    auth = parse_auth(args.api_auth)
    if args.webui is None:
        return None
    return WebUI.connect(args.webui, auth, timeout=CHECK_TIMEOUT_S)


def _check_server(server: WebUI, request: GarmentRequest) -> tuple[ServerInfo, list[str] | None]:
    from lib_garment.generate.tasks import control_units

    info = server.check()
    wanted = [(unit.kind, unit.model) for unit in control_units(request)]
    models = server.resolve_models(info, wanted, request.allow_without_controlnet)
    if request.generation.sampler:
        server.check_sampler(request.generation.sampler)
    cn = info.controlnet
    found = f"ControlNet: {cn.flavour}" if cn is not None else "no ControlNet"
    print(f"{server.url}: checkpoint {info.checkpoint or 'unknown'} ({info.base}), {found}", file=sys.stderr)
    return info, models


def _prepare(
    args: argparse.Namespace,
    request: GarmentRequest,
    photo: np.ndarray,
    mask: np.ndarray | None,
    maps: dict[str, np.ndarray],
    models: list[str] | None,
) -> Prepared:
    """The engine's prepare() with the CLI's model folder, device and download policy; the plan's units carry
    the server's model titles when there is a server."""
    from lib_garment.generate.prepare import prepare
    from lib_garment.models.progress import TqdmProgress
    from lib_garment.models.settings import ModelSettings
    from lib_garment.paths import models_root

    progress = TqdmProgress(min_bytes=1 << 20)
    env = ModelSettings(
        models_root=models_root(args.models_dir),
        device=args.device,
        offline=True if args.offline else None,
        progress=progress,
    )
    try:
        prepared = prepare(request, photo, env, mask=mask, supplied_maps=maps)
    finally:
        progress.close()
    for note in prepared.notes:
        print(f"note: {note}", file=sys.stderr)
    if not models:
        return prepared
    units = tuple(
        dataclasses.replace(unit, model=model) for unit, model in zip(prepared.plan.units, models, strict=True)
    )
    return dataclasses.replace(prepared, plan=dataclasses.replace(prepared.plan, units=units))


# -- outputs -----------------------------------------------------------------------------------------------------
def _remove_old_results(out: Path) -> None:
    (out / "result.json").unlink(missing_ok=True)
    for path in out.iterdir():
        if _RESULT_FILE.fullmatch(path.name) and path.is_file():
            path.unlink()


def _write_preview(prepared: Prepared, out: Path) -> list[Path]:
    from lib_garment.generate.outputs import write_preview

    out.mkdir(parents=True, exist_ok=True)
    _remove_old_results(out)
    return write_preview(prepared, out)


def how_to_generate(args: argparse.Namespace, prepared: Prepared, out: Path) -> str:
    """What to do next, after a preview: the WebUI it needs and the exact command that generates."""
    from lib_garment.generate.controlnet_models import SUGGESTED

    lines = [f"preview written to {out} (plan.json: the units and settings)."]
    by_model: dict[tuple[str, str], list[str]] = {}
    for kind in dict.fromkeys(unit.kind for unit in prepared.plan.units):
        by_model.setdefault((SUGGESTED["sd15"][kind], SUGGESTED["sdxl"][kind]), []).append(kind)
    if by_model:
        lines.append(
            "To generate, start the WebUI with --api, with sd-webui-controlnet (built into Forge) and a ControlNet "
            "model for each unit in its models/ControlNet folder:"
        )
        lines += [f"  {', '.join(kinds)}: {sd15} (SDXL: {sdxl})" for (sd15, sdxl), kinds in by_model.items()]
        lines.append("then run:")
    else:
        lines.append("To generate, start the WebUI with --api, then run:")
    lines.append(f"  {command_line(args, DEFAULT_WEBUI)}")
    return "\n".join(lines)


# (flag, attribute) in the order the command line is rebuilt; the photo comes first.
_REBUILT = (
    ("--task", "task"),
    ("--keep", "keep"),
    ("--mask", "mask"),
    ("--prompt", "prompt"),
    ("--negative-prompt", "negative_prompt"),
    ("--units", "units"),
    ("--request", "request"),
    ("--steps", "steps"),
    ("--cfg", "cfg"),
    ("--sampler", "sampler"),
    ("--seed", "seed"),
    ("--batch-count", "batch_count"),
    ("--width", "width"),
    ("--height", "height"),
    ("--denoising", "denoising"),
    ("--out", "out"),
    ("--models-dir", "models_dir"),
    ("--device", "device"),
)


def command_line(args: argparse.Namespace, webui: str) -> str:
    """This command as typed (canonical order), with ``--webui`` added: what generates the previewed job."""
    words = ["python", "-m", "lib_garment", "run"]
    words += [args.image] if args.image is not None else ["--sample", args.sample]
    for flag, attr in _REBUILT:
        value = getattr(args, attr)
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for item in args.maps or ():
        words += ["--maps", item]
    if args.offline:
        words.append("--offline")
    if args.timeout != DEFAULT_TIMEOUT_S:
        words += ["--timeout", f"{args.timeout:g}"]
    words += ["--webui", webui]
    if args.api_auth is not None:
        words += ["--api-auth", "USER:PASS"]  # never echo a password
    return shlex.join(words)


def _report(
    args: argparse.Namespace,
    label: str,
    prepared: Prepared,
    info: ServerInfo,
    result: RemoteResult,
    timings: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    units = (
        [{"kind": unit.kind, "model": unit.model, "weight": unit.weight} for unit in prepared.plan.units]
        if result.units_sent
        else []
    )
    images = [
        {"file": f"result-{i + 1}.png", "seed": seed, "infotext": text, "kept": check.to_json()}
        for i, (seed, text, check) in enumerate(zip(result.seeds, result.infotexts, result.kept, strict=True))
    ]
    return {
        "image": label,
        "mask_input": str(Path(args.mask).resolve()) if args.mask else None,
        "exact": result.exact,
        "images": images,
        "server": info.to_json(),
        "controlnet": {"units": units, **result.controlnet_json()},
        "request": prepared.request.dict(),
        "mask_source": prepared.mask_source,
        "segmentation": prepared.segmentation.to_json(),
        "plan": prepared.plan.to_json(),
        "asked": result.asked,
        "server_info": result.info,
        "notes": [*prepared.notes, *result.notes],
        "warnings": result.warnings,
        "preview": list(PREVIEW),
        "timings": {**timings, "total_s": time.perf_counter() - started},
    }
