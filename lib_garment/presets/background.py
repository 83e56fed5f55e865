"""Plain backgrounds without diffusion: ``white`` or ``#RRGGBB``, the product composited on exactly that colour."""

from __future__ import annotations

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.presets.schema import COLOUR_PATTERN

WHITE = "#FFFFFF"


def parse_colour(value: str, field: str = "background") -> tuple[int, int, int]:
    """``white`` or ``#RRGGBB`` → (r, g, b); BadInput naming ``field`` otherwise."""
    text = WHITE if value == "white" else value
    if not isinstance(text, str) or not COLOUR_PATTERN.match(text):
        raise BadInput(f'{field}: must be "white" or a colour "#RRGGBB", got {value!r}', loc=(field,))
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def plain(width: int, height: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """A (height, width, 3) uint8 canvas of exactly ``rgb``."""
    canvas = np.empty((height, width, 3), np.uint8)
    fill(canvas, rgb)
    return canvas


def fill(canvas: np.ndarray, rgb: tuple[int, int, int]) -> None:
    """Every pixel of the (height, width, 3) uint8 ``canvas`` set to ``rgb``: one row, then copied row by row
    (``canvas[:] = rgb`` broadcasts 3 values at a time, about 100 times slower on a 2000 x 2000 canvas)."""
    height, width = canvas.shape[:2]
    if canvas.flags.c_contiguous:
        canvas.reshape(height, width * 3)[:] = np.tile(np.asarray(rgb, np.uint8), width)
    else:
        canvas[:] = rgb
