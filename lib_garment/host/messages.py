"""How Garment Studio talks in the WebUI console: one prefix, so users can grep their logs."""

from __future__ import annotations

import sys

PREFIX = "[Garment Studio]"


def warn(message: str) -> None:
    print(f"{PREFIX} {message}", file=sys.stderr)
