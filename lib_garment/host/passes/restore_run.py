"""Restoration outside the always-on hooks: after a tab or REST generation, and on its own (a finished image).

- :func:`restore_output`: one composited output of :func:`lib_garment.host.passes.generation.run_plan` restored
  with the nested passes of :mod:`lib_garment.host.passes.restore_pass`, the finished processing object standing
  in as the parent (its seeds, prompts, sampler and ControlNet-only runner; the output's index picks its seed and
  prompt);
- :func:`restore_standalone`: an image restored with no generation before it (``POST /garment-studio/v1/restore``
  and the tab's "Restore this image"): a :class:`StandaloneParent` carries what a parent generation would — the
  request's prompts, seed (a random one fixed up front, so the seeds can be reported), sampler, steps, CFG, and
  img2img's runner reduced to ControlNet.

Both keep the garment's α = 1 pixels (``keep_alpha``) exact and return the line the infotext records.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from modules import scripts
from PIL import Image

from lib_garment.generate.composite import check_kept
from lib_garment.generate.plan import DEFAULT_CFG, DEFAULT_STEPS
from lib_garment.host.passes.checks import CHECKS_ATTR, JobChecks
from lib_garment.host.passes.restore_pass import restore_processed_image
from lib_garment.host.webui.processing import controlnet_only_runner, default_sampler, to_array
from lib_garment.request import GarmentRequest

SEED_RANGE = 2**32 - 1024  # room for +1 per detection


def restore_output(
    p: Any, k: int, image: np.ndarray, keep_alpha: np.ndarray | None, request: GarmentRequest
) -> tuple[np.ndarray, str]:
    """Output ``k`` of the finished generation ``p`` restored (its seed and prompt are the k-th)."""
    batch = max(int(getattr(p, "batch_size", 1) or 1), 1)
    p.iteration, p.batch_index = divmod(k, batch)  # the index restore_processed_image reads seeds and prompts by
    out, line = restore_processed_image(p, Image.fromarray(image), keep_alpha, request, rehook=False)
    return to_array(out), line


@dataclass
class StandaloneParent:
    """What a parent generation would give the nested passes (see the module docstring)."""

    prompt: str
    negative_prompt: str
    seed: int
    sampler_name: str
    steps: int
    cfg_scale: float
    scripts: Any
    script_args: list[Any]
    iteration: int = 0
    batch_index: int = 0
    batch_size: int = 1
    n_iter: int = 1
    is_api: bool = True
    extra_generation_params: dict[str, Any] = field(default_factory=dict)

    @property
    def all_seeds(self) -> list[int]:
        return [self.seed]

    @property
    def all_prompts(self) -> list[str]:
        return [self.prompt]

    @property
    def all_negative_prompts(self) -> list[str]:
        return [self.negative_prompt]


def standalone_parent(request: GarmentRequest, checks: JobChecks, *, is_api: bool = True) -> StandaloneParent:
    """The stand-in parent for ``request``: restore's own steps/CFG/sampler, else the generation's, else the UI's;
    it carries the job's up-front ``checks`` as a generation's processing object would."""
    options, generation = request.restore, request.generation
    runner, args = controlnet_only_runner(scripts.scripts_img2img)
    seed = request.seed if request.seed >= 0 else random.randrange(SEED_RANGE)
    parent = StandaloneParent(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        seed=seed,
        sampler_name=options.sampler or generation.sampler or default_sampler(),
        steps=int(options.steps or generation.steps or DEFAULT_STEPS),
        cfg_scale=float(options.cfg_scale or generation.cfg_scale or DEFAULT_CFG),
        scripts=runner,
        script_args=args,
        is_api=is_api,
    )
    setattr(parent, CHECKS_ATTR, checks)
    return parent


@dataclass
class StandaloneRestore:
    image: np.ndarray
    line: str
    info: dict[str, Any]


def restore_standalone(
    image: np.ndarray, keep: np.ndarray | None, request: GarmentRequest, checks: JobChecks, *, is_api: bool = True
) -> StandaloneRestore:
    """``image`` ((H, W, 3) uint8) restored as the request's ``restore`` options say; ``keep``: (H, W) keep mask
    (non-zero = exact) or None. ``checks``: the job's up-front check (:func:`~.checks.check_restoring`)."""
    started = time.perf_counter()
    parent = standalone_parent(request, checks, is_api=is_api)
    keep_alpha = None if keep is None else (np.asarray(keep) > 0).astype(np.float32)
    out, line = restore_processed_image(parent, Image.fromarray(image), keep_alpha, request, rehook=False)
    restored = to_array(out)
    info: dict[str, Any] = {
        "restore": line,
        "seed": parent.seed,
        "prompt": parent.prompt,
        "steps": parent.steps,
        "cfg_scale": parent.cfg_scale,
        "sampler": parent.sampler_name,
        "request": request.dict(),
        "timings": {"total_s": time.perf_counter() - started},
    }
    if keep_alpha is not None:
        info["kept"] = check_kept(image, restored, keep_alpha).to_json()
    return StandaloneRestore(restored, line, info)
