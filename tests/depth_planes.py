"""8-bit depth of planes and of a step, and what their normal maps must show (issue 10): a plane gives one
colour (each channel within 2 levels, frame included), a step between two flats one sharp edge.

Shared by the normal-map tests of every path: the engine function, compute_maps, ``maps --depth`` and a
request's own depth map.
"""

from __future__ import annotations

import numpy as np
import pytest

FACING = (128, 128, 255)
TOLERANCE = 2  # levels of a channel; 8-bit terraces gave steps of up to 8 and a std of 3.6 (issue 10)

# (height, width, levels per px along x, along y, level at the top-left pixel): slopes from 0.05 (a terrace
# every 20 px) to 2.5 levels/px, horizontal, vertical and diagonal, square and odd sizes; none reaches 0 or 255.
PLANES = [
    pytest.param(384, 384, 180 / 383, 0.0, 40.0, id="issue-ramp-40-220-across-384"),
    pytest.param(256, 192, 0.0, 0.47, 60.0, id="vertical"),
    pytest.param(200, 300, 0.37, -0.21, 120.0, id="diagonal-up-right"),
    pytest.param(97, 61, 1.1, 0.6, 30.0, id="diagonal-odd-size"),
    pytest.param(256, 384, 0.05, 0.0, 100.0, id="shallow-20-levels"),
    pytest.param(100, 90, 2.5, 0.0, 10.0, id="steep"),
    pytest.param(320, 320, 0.3, 0.3, 20.0, id="diagonal-45"),
]


def eight_bit_plane(height: int, width: int, dx: float, dy: float, start: float) -> np.ndarray:
    """The plane ``start + dx·x + dy·y`` as an 8-bit depth map would store it: rounded to whole levels."""
    y, x = np.mgrid[0:height, 0:width]
    values = np.rint(start + dx * x + dy * y)
    assert values.min() >= 0, "a clipped plane is no plane"
    assert values.max() <= 255, "a clipped plane is no plane"
    return values.astype(np.uint8)


def eight_bit_step(height: int, width: int, near: int = 200, far: int = 60) -> tuple[np.ndarray, int]:
    """Two flats, ``far`` on the left and ``near`` from column ``width // 2`` on, and that column."""
    depth = np.full((height, width), far, np.uint8)
    depth[:, width // 2 :] = near
    return depth, width // 2


def assert_one_colour(normal: np.ndarray) -> np.ndarray:
    """The plane's colour (the median), after checking every pixel is within TOLERANCE of it."""
    assert normal.dtype == np.uint8
    assert normal.ndim == 3
    colour = np.median(normal.reshape(-1, 3), axis=0)
    worst = np.abs(normal.astype(np.float64) - colour).max()
    spread = f"a plane's normals spread {worst} levels around {colour} (std {normal.std(axis=(0, 1))})"
    assert worst <= TOLERANCE, spread
    return colour


def assert_sharp_step(normal: np.ndarray, column: int) -> None:
    """Both flats face the camera up to 2 px from the step, and the step itself tilts hard to the left (red)."""
    facing = np.abs(normal.astype(int) - FACING).max(axis=2)
    assert facing[:, : column - 2].max() <= TOLERANCE
    assert facing[:, column + 2 :].max() <= TOLERANCE
    assert (normal[:, column - 1 : column + 1, 0] >= 200).all()  # nearer to the right: facing left
