"""Settings the host double writes before any other fake module is imported.

The real WebUI derives its paths from the launch directory and the command line at import time; the double
does the same from these values, which ``WebUIDouble`` sets first.
"""

from __future__ import annotations

from pathlib import Path

ROOT: Path | None = None
FLAVOUR: str = "a1111"
CMD_ARGS: list[str] = []
COMPONENTS_DIR: Path | None = None


def configure(root: Path, flavour: str, cmd_args: list[str], components_dir: Path) -> None:
    global ROOT, FLAVOUR, CMD_ARGS, COMPONENTS_DIR
    ROOT = Path(root)
    FLAVOUR = flavour
    CMD_ARGS = list(cmd_args)
    COMPONENTS_DIR = Path(components_dir)


def root() -> Path:
    if ROOT is None:
        raise RuntimeError("the fake `modules` package is only usable through tests.host_double.WebUIDouble")
    return ROOT


def is_forge() -> bool:
    return FLAVOUR == "forge"
