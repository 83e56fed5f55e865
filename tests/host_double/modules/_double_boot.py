"""Settings the host double writes before any other fake module is imported.

The real WebUI derives its paths from the launch directory and the command line at import time; the double
does the same from these values, which ``WebUIDouble`` sets first.
"""

from __future__ import annotations

from pathlib import Path


class _Boot:
    root: Path | None = None
    flavour: str = "a1111"
    cmd_args: tuple[str, ...] = ()
    components_dir: Path | None = None


def configure(root: Path, flavour: str, cmd_args: list[str], components_dir: Path) -> None:
    _Boot.root = Path(root)
    _Boot.flavour = flavour
    _Boot.cmd_args = tuple(cmd_args)
    _Boot.components_dir = Path(components_dir)


def root() -> Path:
    if _Boot.root is None:
        raise RuntimeError("the fake `modules` package is only usable through tests.host_double.WebUIDouble")
    return _Boot.root


def flavour() -> str:
    return _Boot.flavour


def is_forge() -> bool:
    return _Boot.flavour == "forge"


def cmd_args() -> list[str]:
    return list(_Boot.cmd_args)


def components_dir() -> Path:
    return _Boot.components_dir or root() / ".host_double"
