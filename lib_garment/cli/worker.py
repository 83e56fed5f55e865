"""``python -m lib_garment worker --broker redis://HOST:6379/0 --webui URL``: one Celery worker in front of one
WebUI server (lib_garment/scale/worker.py); needs the scale extra, no GPU and no models."""

from __future__ import annotations

import argparse

from lib_garment.cli.flags import positive_seconds

DESCRIPTION = """\
One worker per WebUI server: it takes one catalogue job at a time from the broker and asks its server to make it
through Garment Studio's /garment-studio/v1/generate route (the server needs Garment Studio and --api; this
machine needs no GPU and no models). Start one per server, anywhere that reaches both the broker and the server;
then run  python -m lib_garment batch MANIFEST --out DIR --broker URL  once, on the machine that holds the photos.

A worker whose server stops answering stops taking jobs, says why, and takes them again once it answers. A job
a worker was making when it died is made by another after the visibility timeout. Needs the scale extra:
pip install "celery[redis]>=5.5,<6" (never into the WebUI)."""

EPILOG = """\
examples:
  python -m lib_garment worker --broker redis://queue.lan:6379/0 --webui http://gpu1:7860 --name gpu1
  python -m lib_garment worker --broker rediss://:PASSWORD@queue.lan:6380/0 --webui https://gpu2 --api-auth u:p

exit codes: 0 stopped (SIGTERM, Ctrl-C); 2 a bad flag; 3 the broker, the server or the scale extra missing."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from lib_garment.cli.run_inputs import DEFAULT_TIMEOUT_S
    from lib_garment.scale.app import VISIBILITY_MARGIN_S

    parser = subparsers.add_parser(
        "worker", help="take catalogue jobs from a broker for one WebUI server (many servers, one queue)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--broker", required=True, metavar="URL", help="the Redis URL (redis:// or rediss://)")
    parser.add_argument("--webui", required=True, metavar="URL", help="this worker's WebUI server")
    parser.add_argument("--name", help="the worker's name in status (default: the server's host and port)")
    parser.add_argument("--api-auth", metavar="USER:PASS", help="the server's --api-auth credentials (never logged)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
        help=f"the longest one job may take on the server (default {DEFAULT_TIMEOUT_S:g})",
    )  # fmt: skip
    parser.add_argument(
        "--visibility-timeout", type=float, metavar="SECONDS",
        help="how long a job's message stays with this worker before another worker may take it; must be longer "
        f"than --timeout (default: --timeout + {VISIBILITY_MARGIN_S:g}). The same value on every worker and batch",
    )  # fmt: skip
    parser.add_argument("--health-interval", type=float, default=10.0, metavar="SECONDS",
                        help="how often the server is checked (default 10)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lib_garment.client.http import parse_auth
    from lib_garment.scale.app import check_timeouts, default_visibility
    from lib_garment.scale.broker import parse_broker
    from lib_garment.scale.extra import require_celery

    broker = parse_broker(args.broker)
    auth = parse_auth(args.api_auth)
    visibility = args.visibility_timeout if args.visibility_timeout is not None else default_visibility(args.timeout)
    check_timeouts(args.timeout, visibility)
    positive_seconds(args.health_interval, "--health-interval")
    require_celery()
    from lib_garment.scale.worker import WorkerOptions, default_name, serve

    name = args.name or default_name(args.webui)
    options = WorkerOptions(broker, args.webui, auth, name, args.timeout, visibility, args.health_interval,
                            restore_interval=min(5.0, max(0.5, visibility / 4)))  # fmt: skip
    return serve(options)
