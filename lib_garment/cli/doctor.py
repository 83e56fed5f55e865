"""``doctor``: what this environment can run, what conflicts with the WebUI's pins, and which models are present."""

from __future__ import annotations

import argparse
import json

from lib_garment.environment import collect
from lib_garment.environment_view import render_text, to_dict

EXIT_NOT_USABLE = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="report versions, pin conflicts, runtimes, models and device")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--webui", help="the WebUI folder (default: the one this extension is installed in)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = collect(models_dir=args.models_dir, webui_dir=args.webui)
    print(json.dumps(to_dict(report), indent=2) if args.json else render_text(report))
    return 0 if report.usable else EXIT_NOT_USABLE
