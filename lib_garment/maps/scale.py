"""Sizes given at ControlNet's 512 px working scale, for an image of any size.

ControlNet's annotators run with the short side at 512 px (its default processor resolution), and the models
learned line widths and dot sizes at that scale; sizes given "at 512" grow with the image.
"""

from __future__ import annotations

REFERENCE_SIDE = 512


def size_scale(height: int, width: int) -> float:
    """How much bigger than the 512 px reference the image's short side is."""
    return min(height, width) / REFERENCE_SIDE


def scaled_size(size_at_512: float, height: int, width: int) -> int:
    """A line width or radius given at 512 px, for an image of this size (at least 1 px)."""
    return max(1, round(size_at_512 * size_scale(height, width)))
