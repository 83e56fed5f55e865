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
import sys
import time
from pathlib import Path
from typing import Any, get_args

from lib_garment.cli.run_inputs import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_WEBUI,
    Inputs,
    check_server,
    finish_each,
    prepare_locally,
    read_inputs,
)
from lib_garment.cli.run_outputs import (
    framed_report,
    how_to_generate,
    plain_report,
    result_report,
    write_framed,
    write_plain,
    write_preview_fresh,
)
from lib_garment.cli.run_request import SAMPLES
from lib_garment.request import MAP_KINDS, ShadowKind

SHADOW_KINDS = get_args(ShadowKind)


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

With --preset NAME each result is framed on that marketplace preset's canvas, written in its format
(result-<n>.<format>, result-<n>-alpha.png; the exact composite as composite-<n>.png) and checked against
its rules: result.json holds each image's compliance report. With --background white (or #RRGGBB) too,
the photographed product is framed on that plain colour: nothing is generated, so no --webui is needed.

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
  python -m lib_garment run shirt.jpg --keep "white shirt" --preset amazon-main --background white \\
      --shadow contact --out out/
  python -m lib_garment run mannequin.jpg --task model --mask keep.png --units pose,mask_canny:0.8,depth:0.6 \\
      --seed 7 --batch-count 4 --out out/ --webui http://127.0.0.1:7860

exit codes: 0 ok (with --preset whatever the verdict: result.json and the last lines say it); 2 bad input
(flags, request file, an unknown preset, a shadow it forbids, photo, mask, credentials: nothing written, no
model run); 3 something missing (the WebUI unreachable or without --api, ControlNet or a ControlNet model not
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
    parser.add_argument(
        "--preset",
        metavar="NAME",
        help="frame each result for this marketplace preset and check it against the preset's rules "
        "(python -m lib_garment presets lists them); written in the preset's format, its report in result.json",
    )
    parser.add_argument(
        "--background",
        metavar="COLOUR",
        help='with --preset: "white" or "#RRGGBB": the photographed product on that plain colour, nothing '
        "generated (no --webui needed); without it the generated picture is framed",
    )
    parser.add_argument(
        "--shadow", choices=SHADOW_KINDS, help="with --preset: a shadow under the product (default none)"
    )
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
    # 1. Everything the user gave, before any network or model (the preset too: its name, shadow, colour).
    inputs = read_inputs(args)
    out = Path(args.out)
    timings: dict[str, Any] = {"read_s": time.perf_counter() - started}
    if not inputs.generate:
        return _run_plain(args, inputs, out, timings, started)
    server = inputs.server

    # 2. The server, before the local models: reachable, --api, ControlNet and its models, the sampler.
    info = models = None
    if server is not None:
        check_start = time.perf_counter()
        info, models = check_server(server, inputs.request)
        timings["check_s"] = time.perf_counter() - check_start

    # 3. Segment, maps, plan (models fetched with a progress bar on first use).
    prepared = prepare_locally(args, inputs.request, inputs.photo, inputs.mask, inputs.maps, models)
    timings["prepare"] = prepared.timings

    # 4. The preview (an earlier run's results go first: they must not pass for this run's).
    write_start = time.perf_counter()
    written = write_preview_fresh(prepared, out)
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
    report = result_report(args, inputs.label, prepared, info, result, timings, started)
    if inputs.request.preset is None:
        written += write_results(result.images, out, report)  # result.json last: its presence means complete
    else:  # 6. Each exact composite framed on the preset's canvas and checked against its rules.
        framed = finish_each(inputs, prepared, result.images, timings)
        written += write_framed(framed, out, framed_report(report, framed, timings, started), result.images)
    for path in written:
        print(path)
    name = "result" if inputs.request.preset is None else "composite"
    for i, check in enumerate(result.kept):
        print(f"{name}-{i + 1}.png: {check.describe()}", file=sys.stderr)
    return 0


def _run_plain(args: argparse.Namespace, inputs: Inputs, out: Path, timings: dict[str, Any], started: float) -> int:
    """A preset and output.background: segment (or take the mask), matte, and frame the photographed product
    on the plain colour. Nothing is generated, so no WebUI is asked and no control map is made."""
    if inputs.server is not None:
        print(
            f"note: --webui {inputs.server.url} is not used: output.background puts the photographed product on a "
            "plain colour, nothing is generated",
            file=sys.stderr,
        )
    no_units = inputs.request.copy(update={"control": []})  # no generation, so no control map is worth making
    prepared = prepare_locally(args, no_units, inputs.photo, inputs.mask, {}, None)
    prepared = dataclasses.replace(prepared, request=inputs.request)
    timings["prepare"] = prepared.timings
    framed = finish_each(inputs, prepared, [None], timings)
    report = plain_report(args, inputs.label, prepared, framed, timings, started)
    written = write_plain(prepared, framed, out, report)
    for path in written:
        print(path)
    return 0
