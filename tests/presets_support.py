"""Test presets written as TOML into tmp folders (the real marketplace files ship on their own branch), and
synthetic product photos with exact, known edges."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '[[source]]\nid = "test-page"\ntitle = "A test page"\nurl = "https://example.com/rules"\nread = 2026-01-02\n'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def preset_text(name: str, canvas: dict[str, Any] | None = None, rules: list[dict[str, Any]] | None = None) -> str:
    lines = [f'name = "{name}"', 'title = "Test preset"', 'marketplace = "Test market"', 'description = "for tests"']
    lines += ['missing = ["nothing"]', SOURCE]
    if canvas:
        lines.append("[canvas]")
        lines += [f"{key} = {toml_value(value)}" for key, value in canvas.items()]
    for rule in rules or []:
        full = {"severity": "required", "source": "test-page", "note": "", **rule}
        lines.append("[[rule]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in full.items()]
    return "\n".join(lines) + "\n"


def write_preset(
    folder: Path, name: str, canvas: dict[str, Any] | None = None, rules: list[dict[str, Any]] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(preset_text(name, canvas, rules), encoding="utf8")
    return path


def write_test_shop(folder: Path) -> Path:
    """The command tests' user preset: test-shop, a 168 px square PNG canvas on white, product at half the side."""
    return write_preset(
        folder,
        "test-shop",
        {"width": 168, "height": 168, "fill": 0.5, "format": "png"},
        [
            {"id": "white", "kind": "background_colour", "value": "#FFFFFF"},
            {"id": "fill", "kind": "min_fill", "value": 0.5},
            {"id": "side", "kind": "min_longest_side", "value": 168},
            {"id": "png", "kind": "formats", "value": ["png"]},
        ],
    )


def product_photo(
    width: int = 200, height: int = 160, box: tuple[int, int, int, int] = (60, 40, 140, 120), soft: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """A textured product (so bit-exactness means something) on a green wall, and its matte: α = 1 inside
    ``box`` (x0, y0, x1, y1), a linear soft edge ``soft`` px wide outside it, 0 beyond."""
    rng = np.random.default_rng(7)
    photo = np.zeros((height, width, 3), np.uint8)
    photo[:] = (20, 200, 40)
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[0:height, 0:width]
    outside = np.maximum(np.maximum(x0 - xs, xs - (x1 - 1)), np.maximum(y0 - ys, ys - (y1 - 1))).clip(0)
    alpha = np.clip(1.0 - outside / (soft + 1), 0.0, 1.0).astype(np.float32)
    texture = rng.integers(60, 200, (height, width, 3), dtype=np.uint8)
    product = alpha > 0
    photo[product] = np.rint(
        alpha[product, None] * texture[product] + (1 - alpha[product, None]) * photo[product]
    ).astype(np.uint8)
    return photo, alpha


def run_cli(*args: object) -> subprocess.CompletedProcess[str]:
    """``python -m lib_garment ARGS`` in a new process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lib_garment", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
