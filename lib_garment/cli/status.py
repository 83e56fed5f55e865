"""``python -m lib_garment status --broker URL [--out DIR]``: the workers, their servers, the jobs queued /
running / done / failed, the catalogue's own counts with ``--out``, and an ETA (lib_garment/scale/status.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="workers, servers and jobs of a broker (many servers, one queue)",
        description="What the workers of a broker are doing: each worker's server, whether it takes jobs (and why "
        "not), its jobs done and failed and its pace; the jobs queued and running; an ETA. Needs the scale extra.",
    )  # fmt: skip
    parser.add_argument("--broker", required=True, metavar="URL", help="the Redis URL (redis:// or rediss://)")
    parser.add_argument(
        "--out", metavar="DIR",
        help="the catalogue's folder (batch --out): its done / failed / left jobs from batch.sqlite, and the ETA of "
        "what is left there (read only; without it the ETA counts the broker's queued jobs)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lib_garment.scale.broker import parse_broker
    from lib_garment.scale.extra import require_celery

    broker = parse_broker(args.broker)
    require_celery()
    from lib_garment.scale.status import describe_status, read_status

    found = read_status(broker, Path(args.out) if args.out is not None else None)
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
    else:
        print("\n".join(describe_status(found, broker.shown)))
    return 0
