"""Argument parsing and the error-to-exit-code policy shared by every sub-command."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from lib_garment import __version__
from lib_garment.cli import ablation, batch, doctor, evaluate, maps, presets, restore, run, segment, status, worker
from lib_garment.errors import GarmentError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3

Handler = Callable[[argparse.Namespace], int]

# Each sub-command module offers register(subparsers) -> None and sets its handler as ``func``.
COMMANDS = (doctor, maps, segment, run, restore, presets, batch, worker, status, evaluate, ablation)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2 as well; keep one message style
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lib_garment", description="Garment Studio command line.")
    parser.add_argument("--version", action="version", version=f"Garment Studio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except GarmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as err:  # noqa: BLE001 - the last line of defence: a message, not a traceback
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(err).__name__}: {err} (run with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL
