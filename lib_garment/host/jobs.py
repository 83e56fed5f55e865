"""Garment Studio jobs run by the WebUI: the host half every entry point shares.

- :func:`engine_environment`: the Settings page as the engine's ModelSettings;
- :func:`apply_plan`: a prepared plan put onto an img2img processing object (mask, inpaint options, units);
- :func:`run_plan`: a plan generated with a fresh img2img object of our own (tab, REST, client), ControlNet
  as the only script, then composited;
- :func:`finish_image`: the exact composite of one output.

No pipeline logic here: segmentation, maps and plans are the engine's (``lib_garment.generate``).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from copy import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from modules import processing, scripts, shared
from PIL import Image

from lib_garment.errors import BadInput, GarmentError
from lib_garment.generate.composite import KeptCheck, check_kept, composite_kept
from lib_garment.generate.plan import DEFAULT_CFG, DEFAULT_STEPS, GenerationPlan, UnitPlan
from lib_garment.generate.prepare import prepare
from lib_garment.generate.tasks import control_units
from lib_garment.host.controlnet import (
    INSTALL_HINT,
    ControlNetBridge,
    ControlNetMissing,
    Injected,
    find_cn_script,
    find_controlnet,
)
from lib_garment.host.messages import warn
from lib_garment.host.progress import webui_progress
from lib_garment.host.settings import current_settings
from lib_garment.models.settings import ModelSettings
from lib_garment.request import GarmentRequest

DEFAULT_SAMPLER = "DPM++ 2M"  # the WebUI's own default
INNER_MARK = "_garment_studio_inner"  # set on our own processing objects: the always-on script stays out
JOB_ATTR = "_garment_studio_job"  # the prepared plan riding on a processing object until its composite


def engine_environment(progress: Any = None) -> ModelSettings:
    settings = current_settings()
    return ModelSettings(
        models_root=settings.models_root(),
        device=None,
        offline=settings.offline_arg,
        trust_unverified=settings.trust_arg,
        runtime_policy=settings.policy_arg,
        progress=progress,
    )


def to_array(image: Any) -> np.ndarray:
    """A PIL image (any mode) as (H, W, 3) uint8 RGB."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def painted_area(image_mask: Any) -> np.ndarray:
    """Where the WebUI inpaints for this mask: as its create_binary_mask reads it (an RGBA mask that is not fully
    opaque by its alpha above 128, anything else by its grey value) and as its latent mask rounds grey (≥ 128)."""
    if image_mask.mode == "RGBA" and image_mask.getextrema()[-1] != (255, 255):
        return np.asarray(image_mask.getchannel("A")) > 128
    return np.asarray(image_mask.convert("L")) >= 128


def kept_mask_from_inpaint(image_mask: Any, invert: int | bool) -> np.ndarray:
    """What the user's inpaint mask keeps: the unpainted area, or the painted one with "Inpaint not masked"."""
    painted = painted_area(image_mask)
    keep = painted if invert else ~painted
    return (keep * 255).astype(np.uint8)


# What apply_plan changes on the caller's processing object. The WebUI reuses one object for every image of
# its img2img Batch tab, so these are put back after each run (restore_fields): the next image must see the
# user's mask and options, never our previous plan's.
PLAN_FIELDS = (
    "image_mask",
    "mask_blur_x",
    "mask_blur_y",
    "inpainting_fill",
    "inpaint_full_res",
    "inpaint_full_res_padding",
    "inpainting_mask_invert",
    "resize_mode",
    "script_args",
)
SAVED_ATTR = "_garment_studio_saved_fields"


def remember_fields(p: Any) -> None:
    """Note ``p``'s PLAN_FIELDS before a plan is applied (once per run; a nested call keeps the first note)."""
    if getattr(p, SAVED_ATTR, None) is None:
        setattr(p, SAVED_ATTR, {name: getattr(p, name) for name in PLAN_FIELDS if hasattr(p, name)})


def restore_fields(p: Any) -> None:
    """Put back what :func:`remember_fields` noted (nothing when nothing was noted)."""
    saved = getattr(p, SAVED_ATTR, None)
    if saved is None:
        return
    for name, value in saved.items():
        setattr(p, name, value)
    setattr(p, SAVED_ATTR, None)


@dataclass
class Unitless:
    """No ControlNet: the run goes on without units only when the request allows it."""

    note: str


def check_controlnet(runner: Any, request: GarmentRequest) -> ControlNetBridge | None:
    """The bridge for the units of a generation run by ``runner`` (``p.scripts``), every unit's model
    resolved, before any Garment Studio model runs.

    None when no unit is asked for, or when ControlNet is absent and the request allows running without it;
    otherwise ControlNetMissing / ModelUnavailable naming what to install."""
    wanted = [(unit.kind, unit.model) for unit in control_units(request)]
    if not wanted:
        return None
    bridge = find_controlnet()
    if bridge is None or find_cn_script(runner) is None:
        if request.allow_without_controlnet:
            return None
        raise ControlNetMissing(f"Garment Studio's units need ControlNet: {INSTALL_HINT}")
    bridge.resolve(wanted)
    return bridge


def inject_units(
    p: Any, units: tuple[UnitPlan, ...], bridge: ControlNetBridge | None, resize_mode: int = 0
) -> Injected | Unitless:
    """Our units into ``p``'s ControlNet slots (merged with the caller's), or a note why there are none."""
    if not units:
        return Unitless("no ControlNet units requested")
    if bridge is None:
        return Unitless("ControlNet is not installed: generated without control units")
    return bridge.inject(p, units, resize_mode)


def apply_plan(p: Any, plan: GenerationPlan, bridge: ControlNetBridge | None) -> Injected | Unitless:
    """Make an img2img ``p`` regenerate what the plan says: its inpaint mask and units, and the inpaint options
    the plan sets (None: ``p`` keeps its own, i.e. the user's img2img settings or the API request's)."""
    remember_fields(p)
    p.image_mask = Image.fromarray(plan.inpaint_mask, mode="L")
    if plan.mask_blur is not None:
        p.mask_blur = int(plan.mask_blur)
    if plan.inpainting_fill is not None:
        p.inpainting_fill = plan.inpainting_fill
    if plan.only_masked is not None:
        p.inpaint_full_res = plan.only_masked
    if plan.inpaint_padding is not None:
        p.inpaint_full_res_padding = plan.inpaint_padding
    p.inpainting_mask_invert = 0  # our mask is white where the WebUI regenerates
    p.resize_mode = 0  # "Just resize": the output maps back onto the photo for the exact composite
    return inject_units(p, plan.units, bridge)


def outcome_notes(outcome: Injected | Unitless) -> tuple[str, ...]:
    """What the user should read about the units: why there are none, or caller units left as they were."""
    return (outcome.note,) if isinstance(outcome, Unitless) else outcome.notes


def the_photo(p: Any) -> Any:
    """``p``'s one init image. The WebUI's Batch tab repeats one photo batch-size times; different photos in one
    generation (REST init_images) would share one inpaint mask, so they are refused."""
    first, *others = p.init_images
    pixels = np.asarray(first)
    for other in others:
        if other is not first and not np.array_equal(np.asarray(other), pixels):
            raise BadInput(
                f"Garment Studio prepares one photo per generation and img2img got {len(p.init_images)} different "
                "init images: send one per request (or use the img2img Batch tab, or Garment Studio's own "
                "/garment-studio/v1/generate route per photo)"
            )
    return first


def prepare_on_img2img(p: Any, request: GarmentRequest) -> tuple[str, ...]:
    """Prepare the job on ``p``'s init image and make ``p`` run it; returns notes for the user.

    The mask comes from the phrases or from what the user's inpaint mask keeps; ControlNet and its models are
    checked before any Garment Studio model runs. The prepared job rides on ``p`` (JOB_ATTR) until the
    always-on script composites each output."""
    if not getattr(p, "init_images", None):
        raise GarmentError("img2img has no init image")
    if request.restore.enabled:
        from lib_garment.host.restore_setup import check_restore

        check_restore(request.restore, p.scripts)  # bad restore options stop the job before any model runs
    photo = to_array(the_photo(p))
    user_mask = None
    if getattr(p, "image_mask", None) is not None and request.segment.mask_source != "phrase":
        user_mask = kept_mask_from_inpaint(p.image_mask, getattr(p, "inpainting_mask_invert", 0))
    bridge = check_controlnet(p.scripts, request)
    with webui_progress() as progress:
        prepared = prepare(request, photo, engine_environment(progress), mask=user_mask, units=bridge is not None)
    outcome = apply_plan(p, prepared.plan, bridge)
    setattr(p, JOB_ATTR, prepared)
    notes = list(prepared.notes)
    if isinstance(outcome, Injected):  # without units prepare() already said why
        notes += outcome.notes
    return tuple(notes)


def finish_image(plan: GenerationPlan, generated: Any) -> tuple[np.ndarray, KeptCheck]:
    """One generated image composited onto the photo at its resolution, and the check of the kept pixels."""
    out = composite_kept(plan.init_image, to_array(generated), plan.keep_alpha)
    return out, check_kept(plan.init_image, out, plan.keep_alpha)


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


@dataclass
class GenerationResult:
    images: list[np.ndarray]
    kept: list[KeptCheck]
    info: dict[str, Any] = field(default_factory=dict)


def _img2img(plan: GenerationPlan) -> Any:
    opts = shared.opts
    p = processing.StableDiffusionProcessingImg2Img(
        sd_model=shared.sd_model,
        outpath_samples=opts.data.get("outdir_samples") or opts.data.get("outdir_img2img_samples") or "",
        outpath_grids=opts.data.get("outdir_grids") or opts.data.get("outdir_img2img_grids") or "",
        prompt=plan.prompt,
        negative_prompt=plan.negative_prompt,
        init_images=[Image.fromarray(plan.init_image)],
        mask=None,
        resize_mode=0,
        denoising_strength=plan.denoising_strength,
        seed=plan.seed,
        sampler_name=plan.sampler or default_sampler(),
        batch_size=1,
        n_iter=plan.batch_count,
        steps=plan.steps or DEFAULT_STEPS,
        cfg_scale=plan.cfg_scale or DEFAULT_CFG,
        width=plan.width,
        height=plan.height,
        do_not_save_samples=True,  # saved by us after the composite: a saved file keeps the product too
        do_not_save_grid=True,
    )
    p.cached_c = [None, None]  # never the parent's conditionings (host-contract §3.5)
    p.cached_uc = [None, None]
    setattr(p, INNER_MARK, True)
    return p


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


RESULT_FORMAT = "png"  # lossless: a JPEG or WebP file would change the kept pixels the check vouches for
_session_folder: list[str] = []  # the temporary folder of this WebUI session, made on first use


def _temporary_folder() -> str:
    """One temporary folder for the session's unsaved results (still offered for download), removed at exit."""
    if not _session_folder:
        folder = tempfile.mkdtemp(prefix="garment_studio_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _session_folder.append(folder)
    return _session_folder[0]


def output_folder() -> tuple[str, str]:
    """Where results are saved and in which format: the WebUI's img2img folder (its own order of settings)
    when it saves samples, else the session's temporary folder; always PNG, whatever the WebUI's
    samples_format, so a saved or downloaded result keeps the product pixels it is checked for."""
    opts = shared.opts.data
    if opts.get("samples_save", True):
        folder = opts.get("outdir_samples") or opts.get("outdir_img2img_samples") or "outputs/img2img-images"
    else:
        folder = _temporary_folder()
    return str(folder), RESULT_FORMAT


def save_result(image: Image.Image, folder: tuple[str, str], seed: Any, prompt: str, infotext: str) -> str:
    """Save a composited result with the WebUI's own naming and infotext (as PNG); returns the path."""
    from modules import images

    path, _ = images.save_image(image, folder[0], "", seed=seed, prompt=prompt, extension=RESULT_FORMAT, info=infotext)
    return str(path)


def first_image(processed: Any) -> int:
    """Where the outputs start in ``processed.images`` (after a grid, when the WebUI made one)."""
    return int(getattr(processed, "index_of_first_image", 0) or 0)


def _generated(p: Any, processed: Any) -> list[Any]:
    """The images the WebUI generated, without what follows them (ControlNet appends its detected maps to
    ``processed.images`` but adds no infotext for them, while every output has one). The WebUI leaves one
    placeholder infotext when it stopped before the first batch: ``p.seeds`` is still None then."""
    if p.seeds is None:
        return []
    start = first_image(processed)
    count = min(len(getattr(processed, "infotexts", []) or []) - start, p.n_iter * p.batch_size)
    return list(processed.images[start : start + max(count, 0)])


def run_plan(plan: GenerationPlan, request: GarmentRequest, *, save: bool = False) -> GenerationResult:
    """Generate ``plan`` with the WebUI (current checkpoint) and composite every output."""
    plan = plan.with_inpaint_defaults()  # no user img2img settings stand behind our own processing object
    p = _img2img(plan)
    runner, args = controlnet_only_runner(scripts.scripts_img2img)
    p.scripts = runner
    p.script_args = args
    with contextlib.closing(p):
        outcome = apply_plan(p, plan, check_controlnet(p.scripts, request))
        p.seeds = None  # stays None when no batch started (see _generated)
        processed = processing.process_images(p)
    generated = _generated(p, processed)
    interrupted = bool(shared.state.interrupted)
    if not generated and not interrupted:
        raise GarmentError("the WebUI returned no image (the generation failed: see the console)")
    count = len(generated)
    seeds = list(getattr(processed, "all_seeds", []))[:count]
    infotexts = list(getattr(processed, "infotexts", []))[first_image(processed) :][:count]
    images, kept, files = [], [], []
    folder = output_folder() if save else None
    restore_lines: list[str] = []
    for k, image in enumerate(generated):
        out, check = finish_image(plan, image)
        if request.restore.enabled:  # restoration after the composite, as the always-on script does it
            out, check = _restored(p, k, out, plan, request, infotexts, restore_lines)
        images.append(out)
        kept.append(check)
        if folder is not None:
            text = f"{infotexts[k] if k < len(infotexts) else ''}, Garment Studio kept: {check.describe()}"
            files.append(
                save_result(Image.fromarray(out), folder, seeds[k] if k < len(seeds) else None, plan.prompt, text)
            )
    info = {
        "seeds": seeds,
        "infotexts": infotexts,
        "files": files,
        "controlnet": outcome.describe() if isinstance(outcome, Injected) else outcome.note,
        "kept": [check.to_json() for check in kept],
        "interrupted": interrupted,
        "notes": list(outcome.notes) if isinstance(outcome, Injected) else [],
    }
    if request.restore.enabled:
        info["restore"] = restore_lines
    if interrupted:
        info["notes"].append(f"interrupted: {count} of {plan.batch_count} images made")
    if isinstance(outcome, Unitless) and plan.units:
        warn(outcome.note)
    return GenerationResult(images, kept, info)


def _restored(
    p: Any,
    k: int,
    out: np.ndarray,
    plan: GenerationPlan,
    request: GarmentRequest,
    infotexts: list[str],
    lines: list[str],
) -> tuple[np.ndarray, KeptCheck]:
    """Output ``k`` restored (:mod:`lib_garment.host.restore_run`), its line recorded in ``lines`` and in its
    infotext, and the kept pixels checked again on the restored image."""
    from lib_garment.host.restore_pass import RESTORE_KEY
    from lib_garment.host.restore_run import restore_output

    out, line = restore_output(p, k, out, plan.keep_alpha, request)
    lines.append(line)
    if k < len(infotexts):
        infotexts[k] = f"{infotexts[k]}, {RESTORE_KEY}: {_quoted(line)}"
    return out, check_kept(plan.init_image, out, plan.keep_alpha)


def _quoted(value: str) -> str:
    """An infotext value as the WebUI writes it (quoted when it holds a comma, colon or quote)."""
    try:
        from modules import infotext_utils
    except ImportError:
        return value
    return infotext_utils.quote(value)
