"""The exact composite: out = α·photo + (1−α)·generated at the photo's resolution.

Every pixel with α = 1 is the photographed pixel, bit for bit, whatever the VAE, the inpaint crop or a
resize did to it; every pixel with α = 0 is the generated one. Only the matte's soft band is mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lib_garment.errors import BadInput


@dataclass(frozen=True)
class KeptCheck:
    """How many pixels the matte keeps and how many of them differ from the photo (0 after a composite)."""

    kept_pixels: int
    differing: int

    @property
    def exact(self) -> bool:
        return self.differing == 0

    def to_json(self) -> dict[str, int | bool]:
        return {"kept_pixels": self.kept_pixels, "differing": self.differing, "exact": self.exact}

    def describe(self) -> str:
        state = "identical to the photo" if self.exact else f"{self.differing} differ from the photo"
        return f"{self.kept_pixels} kept pixels, {state}"


def _rgb(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise BadInput(f"{what} must be (H, W, 3) uint8 RGB, got {array.dtype} {array.shape}")
    return array


def fit_to(generated: np.ndarray, width: int, height: int) -> np.ndarray:
    """The generated image at the photo's size (the WebUI generates at multiples of 8)."""
    if generated.shape[1] == width and generated.shape[0] == height:
        return generated
    shrinking = generated.shape[1] > width
    return cv2.resize(generated, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def composite_kept(photo: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``generated`` with the kept pixels of ``photo`` put back through ``alpha`` ((H, W) floats in [0, 1])."""
    photo = _rgb(photo, "photo")
    generated = _rgb(generated, "generated image")
    alpha = np.asarray(alpha, dtype=np.float32)
    height, width = photo.shape[:2]
    if alpha.shape != (height, width):
        raise BadInput(f"alpha is {alpha.shape[1]}x{alpha.shape[0]} but the photo is {width}x{height}")
    generated = fit_to(generated, width, height)
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    mixed = a * photo.astype(np.float32) + (1.0 - a) * generated.astype(np.float32)
    out = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    # Floating point alone would already give these; written explicitly because this is the promise.
    keep = alpha >= 1.0
    out[keep] = photo[keep]
    drop = alpha <= 0.0
    out[drop] = generated[drop]
    return out


def check_kept(photo: np.ndarray, output: np.ndarray, alpha: np.ndarray) -> KeptCheck:
    """Count the α = 1 pixels of ``output`` that differ from ``photo`` (reported with every result)."""
    keep = np.asarray(alpha) >= 1.0
    if output.shape != photo.shape:
        return KeptCheck(int(keep.sum()), int(keep.sum()))
    differing = np.any(np.asarray(output)[keep] != np.asarray(photo)[keep], axis=-1)
    return KeptCheck(int(keep.sum()), int(differing.sum()))
