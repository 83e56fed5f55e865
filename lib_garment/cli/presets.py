"""``presets``, ``check`` and ``frame``: marketplace presets on the command line.

- ``presets [NAME ...] [--full] [--json]``: every preset (shipped and the user's), one line each; with NAME or
  --full, each rule with its public source and what the preset does not cover.
- ``check IMAGE [--mask M | --alpha A] --preset NAME [--json]``: exit 0 when every rule passes, 1 when one fails
  (required or recommended; the verdict says which), 2 on bad input.
- ``frame IMAGE --mask M|--alpha A --preset NAME --out DIR``: the framed image in the preset's format, its matte
  (alpha.png, for a later ``check``) and compliance.json, each written atomically, compliance.json last; exit as
  ``check``; nothing written on bad input.

The work is lib_garment/presets/; these handlers read the arguments and the files, and print.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from lib_garment.cli.flags import out_folder
from lib_garment.errors import BadInput

SHADOW_KINDS = ("none", "contact", "drop")


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser(
        "presets",
        help="list the marketplace presets; NAME: its rules and their sources",
        description="List the shipped presets and the user's own (models/garment_studio/presets/*.toml; a user "
        "file with a shipped preset's name replaces it), one line each; with NAME (or --full), each rule with "
        "its public source and what the preset does not cover.",
    )
    listing.add_argument("names", nargs="*", metavar="NAME", help="show these presets in full")
    listing.add_argument("--full", action="store_true", help="show every preset in full")
    listing.add_argument("--json", action="store_true", help="print JSON (every preset, or the NAMEs)")
    _models_dir(listing)
    listing.set_defaults(func=run_presets)

    checking = subparsers.add_parser(
        "check",
        help="check an image against a marketplace preset's rules",
        description="Measure IMAGE (and its file) against every rule of --preset. Exit 0: every rule passes; "
        "1: a rule fails; 2: bad input.",
    )
    checking.add_argument("image", metavar="IMAGE")
    _matte_options(checking, required=False)
    checking.add_argument("--preset", required=True, metavar="NAME")
    checking.add_argument("--json", action="store_true", help="print the report as JSON")
    _models_dir(checking)
    checking.set_defaults(func=run_check)

    framing = subparsers.add_parser(
        "frame",
        help="frame a cut-out product on a marketplace preset's canvas and check it",
        description="Put the product of IMAGE (its matte from --mask or --alpha) on --preset's canvas, on a plain "
        "background, with an optional shadow; write DIR/framed.<format>, alpha.png and compliance.json. Exit as "
        "check does.",
    )
    framing.add_argument("image", metavar="IMAGE")
    _matte_options(framing, required=True)
    framing.add_argument("--preset", required=True, metavar="NAME")
    framing.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created if missing)")
    framing.add_argument("--background", metavar="COLOUR", help='"white" or "#RRGGBB" (default: the preset\'s)')
    framing.add_argument("--shadow", choices=SHADOW_KINDS, default="none", help="shadow kind (default none)")
    framing.add_argument("--shadow-opacity", type=float, metavar="X", help="0..1 (default 0.35)")
    framing.add_argument("--shadow-softness", type=float, metavar="X", help="share of the product's height")
    framing.add_argument("--shadow-direction", type=float, metavar="DEG", help="0 right, 90 down (default 60)")
    framing.add_argument("--shadow-distance", type=float, metavar="X", help="drop: share of the product's height")
    framing.add_argument("--json", action="store_true", help="print the report as JSON")
    _models_dir(framing)
    framing.set_defaults(func=run_frame)


def _models_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models-dir", help="the WebUI's models folder (user presets: garment_studio/presets)")


def _matte_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--mask", metavar="MASK", help="the product mask (white or opaque = product)")
    group.add_argument("--alpha", metavar="ALPHA", help="the product's alpha matte (0-255)")


def run_presets(args: argparse.Namespace) -> int:
    from lib_garment.presets.load import load_presets, user_dir

    found = load_presets(args.models_dir)
    chosen = [found.get(name, "presets NAME") for name in dict.fromkeys(args.names)] or list(found.presets.values())
    if args.json:
        print(json.dumps({"presets": [p.to_json() for p in chosen], "notes": list(found.notes)}, indent=1))
        return 0
    if args.names or args.full:
        for preset in chosen:
            _print_preset(preset)
    else:
        _print_table(chosen)
        print(f"\nyour own presets: {user_dir(args.models_dir)}/NAME.toml (one with a shipped name replaces it)")
        print("python -m lib_garment presets NAME: its rules, each with its public source; --full: every preset")
    for note in found.notes:
        print(f"note: {note}")
    return 0


def _print_table(presets: list[Any]) -> None:
    if not presets:
        print("no presets installed")
        return
    rows = [("NAME", "FOR", "RULES", "FILE", "CANVAS")]
    for preset in presets:
        required = sum(rule.severity == "required" for rule in preset.rules)
        rules = f"{required} + {len(preset.rules) - required}" if preset.rules else "none found"
        rows.append((preset.name + (" *" if preset.origin == "user" else ""), preset.title, rules,
                     _file_format(preset), _canvas(preset.canvas)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    print(
        "\nRULES: required + recommended; none found: no image rules published by the marketplace could be found, so "
        "the preset checks nothing (presets NAME says what was looked for). *: your own file."
    )


def _file_format(preset: Any) -> str:
    from lib_garment.presets.encode import output_format

    return output_format(preset)


def _canvas(canvas: Any) -> str:
    parts = []
    if canvas.width and canvas.height:
        parts.append(f"{canvas.width}x{canvas.height}")
    if canvas.fill:
        parts.append(f"product {canvas.fill:.0%} of the side")
    if canvas.background:
        parts.append(f"on {canvas.background}")
    return ", ".join(parts) or "the photo's own size"


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if value is True:
        return "yes"
    return str(value)


def _print_preset(preset: Any) -> None:
    print(f"\n{preset.name} ({preset.origin}): {preset.title} — {preset.marketplace}")
    if preset.description:
        print(f"  {preset.description}")
    if preset.path:
        print(f"  file: {preset.path}")
    print(f"  writes: {_file_format(preset)}, {_canvas(preset.canvas)}")
    titles = {source.id: source.title for source in preset.sources}
    if preset.rules:
        print("  rules:")
    for rule in preset.rules:
        print(f"    {rule.severity:<11} {rule.id}: {rule.kind} {_value(rule.value)} (source: {titles[rule.source]})")
        if rule.note:
            print(_wrapped(rule.note, "                "))
    if not preset.rules:
        print("  rules: none found; this preset checks nothing")
    if preset.sources:
        print("  sources:")
    for source in preset.sources:
        print(f"    {source.title}: {source.url} (read {source.read.isoformat()})")
    if preset.missing:
        print("  not covered:")
    for missing in preset.missing:
        print(_wrapped(missing, "      ", "    - "))


def _wrapped(text: str, indent: str, first: str | None = None) -> str:
    return textwrap.fill(text, width=118, initial_indent=first or indent, subsequent_indent=indent)


def run_check(args: argparse.Namespace) -> int:
    from lib_garment import imageio
    from lib_garment.presets.compliance import check
    from lib_garment.presets.load import load_presets

    preset = load_presets(args.models_dir).get(args.preset, "--preset")
    path = Path(args.image)
    imageio.open_image(path)  # the size and format limits, before the bytes are read
    matte = _read_matte(args)
    report = check(path.read_bytes(), matte, preset)
    _print_report(report.to_json(), as_json=args.json)
    return 0 if report.all_pass else 1


def run_frame(args: argparse.Namespace) -> int:
    from lib_garment import imageio
    from lib_garment.presets.background import parse_colour
    from lib_garment.presets.finish import finish
    from lib_garment.presets.load import load_presets
    from lib_garment.segment.matte import alpha_to_uint8

    preset = load_presets(args.models_dir).get(args.preset, "--preset")
    if args.background is not None:
        parse_colour(args.background, "--background")
    out = out_folder(args.out)
    image = imageio.read_image(args.image)
    matte = _read_matte(args)
    imageio.check_same_size(image, matte, "--mask" if args.mask else "--alpha")
    result = finish(image, None, matte, preset, background=args.background, shadow=_shadow(args))
    out.mkdir(parents=True, exist_ok=True)
    (out / "compliance.json").unlink(missing_ok=True)  # an earlier run's must not vouch for this set
    written = [
        imageio.write_bytes(out / f"framed{result.encoded.suffix}", result.encoded.data),
        imageio.write_png(out / "alpha.png", alpha_to_uint8(result.alpha)),
    ]
    report = result.to_json()
    written.append(imageio.write_json(out / "compliance.json", report))  # last: its presence means complete
    _print_report(report, as_json=args.json)
    if not args.json:
        for path in written:
            print(path)
    return 0 if result.report.all_pass else 1


def _read_matte(args: argparse.Namespace) -> Any:
    from lib_garment import imageio

    if args.mask:
        return imageio.read_mask(args.mask) >= 128  # a mask: product or not
    if args.alpha:
        return imageio.read_mask(args.alpha)  # a matte: 0..255 as opacity
    return None


def _shadow(args: argparse.Namespace) -> Any:
    from lib_garment.presets.shadows import ShadowSpec
    from lib_garment.pydantic_compat import ValidationError
    from lib_garment.request import ShadowOptions

    if args.shadow == "none":
        return ShadowSpec()
    given = {
        "opacity": args.shadow_opacity,
        "softness": args.shadow_softness,
        "direction": args.shadow_direction,
        "distance": args.shadow_distance,
    }
    try:  # the request's own limits, so the command line and a request refuse the same values
        options = ShadowOptions(kind=args.shadow, **{k: v for k, v in given.items() if v is not None})
    except ValidationError as err:
        problems = [f"--shadow-{p['loc'][0]}: {p['msg']}" for p in err.errors()]
        raise BadInput("; ".join(problems)) from None
    return ShadowSpec(**options.dict())


def _print_report(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=1))
        return
    print(f"{report['preset']}: {report['verdict']}")
    for rule in report["rules"]:
        print(f"  {rule['status']:<11} {rule['id']} ({rule['kind']}, {rule['severity']}): {rule['detail']}")
    for note in report["notes"] + report.get("done", []):
        print(f"  note: {note}")
