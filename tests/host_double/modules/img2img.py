"""``modules.img2img``: the UI "Generate" path of the img2img/inpaint tab, minus the gradio plumbing."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from modules import processing, scripts, shared
from modules.shared import opts


def img2img(script_args: tuple, **p_kwargs: Any) -> processing.Processed:
    """``p_kwargs`` are constructor fields (``init_images``, ``mask``, ``inpaint_full_res``, …)."""
    p = processing.StableDiffusionProcessingImg2Img(
        outpath_samples=opts.outdir_samples or opts.outdir_img2img_samples,
        outpath_grids=opts.outdir_grids or opts.outdir_img2img_grids,
        **p_kwargs,
    )
    p.scripts = scripts.scripts_img2img
    p.script_args = script_args
    with closing(p):
        processed = scripts.scripts_img2img.run(p, *p.script_args)
        if processed is None:
            processed = processing.process_images(p)
    shared.total_tqdm.clear()
    return processed
