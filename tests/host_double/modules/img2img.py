"""``modules.img2img``: the UI "Generate" path of the img2img/inpaint tab, minus the gradio plumbing, and the
Batch tab's loop (``process_batch``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Any

from modules import processing, scripts, shared
from modules.shared import opts, state


def _processing(**p_kwargs: Any) -> processing.StableDiffusionProcessingImg2Img:
    return processing.StableDiffusionProcessingImg2Img(
        outpath_samples=opts.outdir_samples or opts.outdir_img2img_samples,
        outpath_grids=opts.outdir_grids or opts.outdir_img2img_grids,
        **p_kwargs,
    )


def img2img(script_args: tuple, **p_kwargs: Any) -> processing.Processed:
    """``p_kwargs`` are constructor fields (``init_images``, ``mask``, ``inpaint_full_res``, …)."""
    p = _processing(**p_kwargs)
    p.scripts = scripts.scripts_img2img
    p.script_args = script_args
    with closing(p):
        processed = scripts.scripts_img2img.run(p, *p.script_args)
        if processed is None:
            processed = processing.process_images(p)
    shared.total_tqdm.clear()
    return processed


def process_batch(
    p: processing.StableDiffusionProcessingImg2Img,
    pictures: Sequence[Any],
    args: tuple,
    masks: Sequence[Any] | None = None,
) -> list[processing.Processed]:
    """The Batch tab: **one** processing object for every picture. Per picture the WebUI sets
    ``p.init_images = [picture] * p.batch_size`` and, with an inpaint batch mask folder, ``p.image_mask`` to the
    picture's mask (nothing else of ``p`` is reset), then runs the selected script's ``run(p, *args)`` or
    ``process_images(p)``. Reading folders and writing the output folder are not modelled: each picture's
    Processed is returned."""
    processing.fix_seed(p)
    state.job_count = len(pictures) * p.n_iter
    results = []
    for i, picture in enumerate(pictures):
        state.job = f"{i + 1} out of {len(pictures)}"
        if state.skipped:
            state.skipped = False
        if state.interrupted or state.stopping_generation:
            break
        p.init_images = [picture] * p.batch_size
        if masks is not None:
            p.image_mask = masks[i]
        processed = scripts.scripts_img2img.run(p, *args)
        if processed is None:
            processed = processing.process_images(p)
        results.append(processed)
    return results


def img2img_batch(
    script_args: tuple, pictures: Sequence[Any], masks: Sequence[Any] | None = None, **p_kwargs: Any
) -> list[processing.Processed]:
    """Press "Generate" on the Batch tab (``pictures`` stand for the input folder, ``masks`` for the inpaint
    batch mask folder)."""
    p = _processing(init_images=[pictures[0]], **p_kwargs)
    p.scripts = scripts.scripts_img2img
    p.script_args = script_args
    with closing(p):
        results = process_batch(p, pictures, script_args, masks)
    shared.total_tqdm.clear()
    return results
