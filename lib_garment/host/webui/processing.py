"""The WebUI's processing objects and script runners as Garment Studio uses them.

- :func:`new_img2img`: the one builder of our own img2img processing objects (a tab or REST generation, a
  nested restore pass): fresh conditioning caches, nothing saved by the WebUI (we save after the composite),
  and :data:`INNER_MARK`, so Garment Studio's always-on script stays out of it;
- :func:`controlnet_only_copy` / :func:`controlnet_only_runner`: a script runner reduced to ControlNet;
- :func:`sampler_names` / :func:`default_sampler`: the WebUI's visible samplers;
- :func:`to_array`: a PIL image as the engine's (H, W, 3) uint8 RGB array.
"""

from __future__ import annotations

from copy import copy
from typing import Any

import numpy as np
from modules import processing, shared

from lib_garment.generate.plan import DEFAULT_SAMPLER
from lib_garment.host.webui.controlnet import find_cn_script

INNER_MARK = "_garment_studio_inner"  # set on our own processing objects: the always-on script stays out


def to_array(image: Any) -> np.ndarray:
    """A PIL image (any mode) as (H, W, 3) uint8 RGB."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def new_img2img(init_image: Any, mask: Any | None = None, **fields: Any) -> Any:
    """A fresh ``StableDiffusionProcessingImg2Img`` of our own on ``init_image`` (one image, "Just resize"), with
    ``fields`` (prompt, seed, steps, size, …) as its constructor's keywords."""
    p = processing.StableDiffusionProcessingImg2Img(
        sd_model=shared.sd_model,
        init_images=[init_image],
        mask=mask,
        resize_mode=0,  # the output maps back onto its input pixel for pixel (the exact composite relies on it)
        batch_size=1,
        do_not_save_samples=True,  # saved by us after the composite: a saved file keeps the product too
        do_not_save_grid=True,
        **fields,
    )
    p.cached_c = [None, None]  # never a parent's conditionings (host-contract §3.5)
    p.cached_uc = [None, None]
    setattr(p, INNER_MARK, True)
    return p


def controlnet_only_copy(parent: Any) -> tuple[Any, Any]:
    """A shallow copy of a script runner with ControlNet as its only script (host-contract §3.6), and that script
    (None without ControlNet)."""
    runner = copy(parent)
    cn = find_cn_script(parent)
    runner.alwayson_scripts = [cn] if cn is not None else []
    runner.selectable_scripts = []
    runner.scripts = list(runner.alwayson_scripts)
    if hasattr(runner, "callback_map"):
        runner.callback_map = {}  # a shallow copy shares the ordered-hook cache; ours has other scripts
    return runner, cn


def controlnet_only_runner(parent: Any) -> tuple[Any, list[Any]]:
    """A copy of the img2img runner with ControlNet as its only script, and script args sized for it."""
    runner, _ = controlnet_only_copy(parent)
    args: list[Any] = [0] + [None] * max((s.args_to for s in runner.alwayson_scripts), default=0)
    return runner, args


def sampler_names() -> list[str]:
    """The WebUI's samplers that are not hidden in its settings (names; the WebUI lists records)."""
    try:
        from modules import sd_samplers
    except ImportError:
        return []
    visible = getattr(sd_samplers, "visible_samplers", None)
    items = visible() if callable(visible) else getattr(sd_samplers, "samplers", [])
    return [name for name in (getattr(item, "name", item) for item in items) if isinstance(name, str)]


def default_sampler() -> str:
    names = sampler_names()
    return DEFAULT_SAMPLER if DEFAULT_SAMPLER in names or not names else names[0]
