"""How Garment Studio talks in the WebUI console: one prefix, so users can grep their logs."""

from __future__ import annotations

import sys

PREFIX = "[Garment Studio]"


def warn(message: str) -> None:
    print(f"{PREFIX} {message}", file=sys.stderr)


def say(message: str) -> None:
    """A progress line for the console (stdout, as the WebUI's own progress lines): what a job is doing."""
    print(f"{PREFIX} {message}", flush=True)
