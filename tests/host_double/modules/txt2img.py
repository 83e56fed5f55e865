"""``modules.txt2img``: the UI "Generate" path, minus the gradio plumbing (host-contract §3.2 "UI path")."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from modules import processing, scripts, shared
from modules.shared import opts


def txt2img_create_processing(script_args: tuple, **p_kwargs: Any) -> processing.StableDiffusionProcessingTxt2Img:
    p = processing.StableDiffusionProcessingTxt2Img(
        outpath_samples=opts.outdir_samples or opts.outdir_txt2img_samples,
        outpath_grids=opts.outdir_grids or opts.outdir_txt2img_grids,
        **p_kwargs,
    )
    p.scripts = scripts.scripts_txt2img
    p.script_args = script_args  # the tuple of every script component's value
    return p


def txt2img(script_args: tuple, **p_kwargs: Any) -> processing.Processed:
    p = txt2img_create_processing(script_args, **p_kwargs)
    with closing(p):
        processed = scripts.scripts_txt2img.run(p, *p.script_args)
        if processed is None:
            processed = processing.process_images(p)
    shared.total_tqdm.clear()
    return processed
