"""The GenerationPlan: everything a backend (the WebUI, a remote WebUI's API) needs to run one inpaint pass.

A plan is data only. The backend turns it into its own processing object; the composite afterwards uses the
plan's ``keep_alpha`` so the kept product pixels are the photographed ones whatever the backend did.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

# What a plan leaves open (None) is filled with these, as the WebUI's UI would; the API's own defaults differ.
DEFAULT_STEPS = 20
DEFAULT_CFG = 7.0
# The WebUI's own default sampler. Every path sends it when the request names none — the WebUI in-process, and
# its API from outside, whose own default (Euler) would make another picture of the same seed.
DEFAULT_SAMPLER = "DPM++ 2M"
# The WebUI's inpainting_fill values (host-contract §3.5), by the request's names.
INPAINT_FILL = {"fill": 0, "original": 1, "latent noise": 2, "latent nothing": 3}
# The inpaint options a plan leaves open (None) where no user setting stands in for them: a generation of our
# own (tab, REST /generate, a remote WebUI's API). The always-on section and the img2img script keep the
# user's img2img settings instead.
INPAINT_DEFAULTS = {
    "mask_blur": 4,
    "inpaint_padding": 32,
    "inpainting_fill": INPAINT_FILL["original"],
    "only_masked": False,
}


@dataclass(frozen=True, eq=False)
class UnitPlan:
    """One ControlNet unit: a precomputed map at the photo's full size (ControlNet crops it itself)."""

    kind: str
    image: np.ndarray  # (H, W, 3) uint8
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = "balanced"
    model: str | None = None  # an exact title once resolved against the host's installed models

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "map": f"maps/{self.kind}.png",
            "weight": self.weight,
            "guidance_start": self.guidance_start,
            "guidance_end": self.guidance_end,
            "control_mode": self.control_mode,
            "model": self.model,
        }


@dataclass(frozen=True, eq=False)
class GenerationPlan:
    """One inpaint pass. ``inpaint_mask``: (H, W) uint8, 255 where the backend regenerates. ``keep_alpha``:
    (H, W) float32 matte of what is kept; pixels with alpha 1 are pasted back bit for bit afterwards.
    ``steps``/``cfg_scale``/``sampler`` None: the backend's current values."""

    task: str
    init_image: np.ndarray
    inpaint_mask: np.ndarray
    keep_alpha: np.ndarray
    units: tuple[UnitPlan, ...]
    prompt: str
    negative_prompt: str
    width: int
    height: int
    seed: int = -1
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str | None = None
    denoising_strength: float = 1.0
    mask_blur: int | None = None  # None: the backend's current value (see INPAINT_DEFAULTS)
    inpaint_padding: int | None = None
    inpainting_fill: int | None = None
    only_masked: bool | None = None
    batch_count: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)

    def with_inpaint_defaults(self) -> GenerationPlan:
        """This plan with INPAINT_DEFAULTS where it leaves an inpaint option open (for a generation of our own)."""
        return replace(self, **{name: value for name, value in INPAINT_DEFAULTS.items() if getattr(self, name) is None})

    @property
    def photo_size(self) -> tuple[int, int]:
        """(width, height) of the photo; the output is composited at this size."""
        return int(self.init_image.shape[1]), int(self.init_image.shape[0])

    def to_json(self) -> dict[str, Any]:
        """The plan without its arrays (saved as plan.json next to mask.png, alpha.png and maps/)."""
        width, height = self.photo_size
        return {
            "task": self.task,
            "photo_size": [width, height],
            "generation_size": [self.width, self.height],
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "sampler": self.sampler,
            "denoising_strength": self.denoising_strength,
            "mask_blur": self.mask_blur,
            "inpaint_padding": self.inpaint_padding,
            "inpainting_fill": self.inpainting_fill,
            "only_masked": self.only_masked,
            "batch_count": self.batch_count,
            "inpaint_mask": "inpaint_mask.png",
            "keep_alpha": "alpha.png",
            "kept_pixels": int(np.count_nonzero(self.keep_alpha >= 1.0)),
            "units": [unit.to_json() for unit in self.units],
            "notes": list(self.notes),
        }
