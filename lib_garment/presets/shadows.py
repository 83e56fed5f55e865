"""Shadows made from the product's matte: ``none``, ``contact`` (a soft ellipse where the product meets the floor)
or ``drop`` (the silhouette, shifted and blurred), as a darkening strength per pixel in [0, opacity].

A shadow never covers a pixel with α > 0: it darkens the background only, so the product's pixels (and its soft
edge's own colour) are the same with or without a shadow. With a depth map (larger = nearer, as Depth Anything
writes it) the drop shadow is cast mostly by the parts nearest the backdrop: a part near the camera stands
farther from the wall, so its shadow is fainter (weight 1 − depth/2, depth scaled to 0..1 over the product).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from lib_garment.errors import BadInput
from lib_garment.presets.framing import box_of, tight_box

ShadowKind = Literal["none", "contact", "drop"]


@dataclass(frozen=True)
class ShadowSpec:
    """``softness`` and ``distance`` are shares of the product's tight box height; ``direction`` is the angle
    the shadow falls towards, in degrees (0 = right, 90 = down, as image rows grow)."""

    kind: ShadowKind = "none"
    opacity: float = 0.35
    softness: float = 0.05
    direction: float = 60.0
    distance: float = 0.03

    def describe(self) -> str:
        if self.kind == "none":
            return "no shadow"
        text = f"{self.kind} shadow, opacity {self.opacity:g}, softness {self.softness:g}"
        return text + (f", direction {self.direction:g}°, distance {self.distance:g}" if self.kind == "drop" else "")


def shadow_strength(alpha: np.ndarray, spec: ShadowSpec, depth: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float32 darkening strength, 0 wherever α > 0."""
    strength = np.zeros(alpha.shape, np.float32)
    if spec.kind == "none" or spec.opacity <= 0:
        return strength
    box = tight_box(alpha)
    sigma = max(spec.softness * box.height / 2.0, 0.5)
    if spec.kind == "contact":
        source = _contact_footprint(alpha, box.y1, spec, box.height)
    else:
        weight = alpha if depth is None else alpha * _depth_weight(depth, alpha)
        angle = math.radians(spec.direction)
        shift_x = math.cos(angle) * spec.distance * box.height
        shift_y = math.sin(angle) * spec.distance * box.height
        matrix = np.float32([[1, 0, shift_x], [0, 1, shift_y]])
        source = cv2.warpAffine(
            weight.astype(np.float32, copy=False), matrix, alpha.shape[::-1], flags=cv2.INTER_LINEAR
        )
    strength = _blur(source, sigma) * np.float32(spec.opacity)
    strength[alpha > 0] = 0.0
    return np.clip(strength, 0.0, 1.0, out=strength)


def darken(background: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """The background with the shadow laid on it (multiplied towards black). Only the shadow's bounding box is
    multiplied, in place: a uint8 pixel times 1.0 is itself, so the rest is the background's copy."""
    background, strength = np.asarray(background), np.asarray(strength)
    if background.dtype != np.uint8 or strength.dtype != np.float32:  # as computed before, in their own types
        shaded = background.astype(np.float32) * (1.0 - strength[..., None])
        return np.clip(np.rint(shaded), 0, 255).astype(np.uint8)
    out = background.copy()
    area = box_of(strength != 0)
    if area is None:
        return out
    rows, cols = slice(area.y0, area.y1), slice(area.x0, area.x1)
    reached = out[rows, cols]
    shaded = reached.astype(np.float32)
    shaded *= (1.0 - strength[rows, cols])[..., None]
    np.rint(shaded, out=shaded)
    np.clip(shaded, 0, 255, out=shaded)
    reached[...] = shaded
    return out


def _contact_footprint(alpha: np.ndarray, bottom: int, spec: ShadowSpec, box_height: int) -> np.ndarray:
    """An ellipse under the product's lowest band (the bottom 5 % of its box), as wide as that band."""
    band_top = max(bottom - max(1, round(0.05 * box_height)), 0)
    columns = np.flatnonzero((alpha[band_top:bottom] >= 0.5).any(axis=0))
    footprint = np.zeros(alpha.shape, np.float32)
    centre = (int(round((columns[0] + columns[-1]) / 2)), bottom - 1)
    axes = (max(1, int(round((columns[-1] - columns[0] + 1) / 2))), max(1, int(round(spec.softness * box_height))))
    cv2.ellipse(footprint, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    return footprint


def _depth_weight(depth: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth, np.float32)
    if depth.shape != alpha.shape:
        raise BadInput(
            f"depth map is {depth.shape[1]}x{depth.shape[0]} but the matte is {alpha.shape[1]}x{alpha.shape[0]}"
        )
    inside = depth[alpha > 0]
    low, high = float(inside.min()), float(inside.max())
    near = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
    return 1.0 - 0.5 * np.clip(near, 0.0, 1.0)


def _blur(source: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; a wide one runs on a reduced copy (a soft shadow has no detail to lose) to stay fast."""
    factor = max(1, int(sigma // 4))
    if factor == 1:
        return cv2.GaussianBlur(source, (0, 0), sigma)
    height, width = source.shape
    small = cv2.resize(source, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
