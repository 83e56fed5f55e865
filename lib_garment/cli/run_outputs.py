"""What ``run`` writes and prints: the preview (an earlier run's results removed first), the command that
generates, result.json's report, and with a preset the framed files with each one's compliance report."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.cli.run_inputs import DEFAULT_TIMEOUT_S, DEFAULT_WEBUI
from lib_garment.request import MAP_KINDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from lib_garment.client.remote import RemoteResult
    from lib_garment.client.webui import ServerInfo
    from lib_garment.generate.prepare import Prepared
    from lib_garment.presets.finish import FramedResult

PREVIEW = ("overlay.png", "mask.png", "alpha.png", "inpaint_mask.png", "maps/<kind>.png", "plan.json")
PLAIN_PREVIEW = ("overlay", "mask", "alpha")  # what a job with nothing to generate shows of its segmentation
# result-<n>.png (or the preset's format), result-<n>-alpha.png and composite-<n>.png: what run writes.
_RESULT_FILE = re.compile(r"(result-\d+(-alpha)?\.(png|jpg|webp|gif|tif))|(composite-\d+\.png)")
_VERDICT_ORDER = ("pass", "warn", "fail")


def _remove_old_results(out: Path) -> None:
    (out / "result.json").unlink(missing_ok=True)
    for path in out.iterdir():
        if _RESULT_FILE.fullmatch(path.name) and path.is_file():
            path.unlink()


def write_preview_fresh(prepared: Prepared, out: Path) -> list[Path]:
    from lib_garment.generate.outputs import write_preview

    out.mkdir(parents=True, exist_ok=True)
    _remove_old_results(out)
    return write_preview(prepared, out)


def how_to_generate(args: argparse.Namespace, prepared: Prepared, out: Path) -> str:
    """What to do next, after a preview: the WebUI it needs and the exact command that generates."""
    from lib_garment.generate.controlnet_models import SUGGESTED

    lines = [f"preview written to {out} (plan.json: the units and settings)."]
    by_model: dict[tuple[str, str], list[str]] = {}
    for kind in dict.fromkeys(unit.kind for unit in prepared.plan.units):
        by_model.setdefault((SUGGESTED["sd15"][kind], SUGGESTED["sdxl"][kind]), []).append(kind)
    if by_model:
        lines.append(
            "To generate, start the WebUI with --api, with sd-webui-controlnet (built into Forge) and a ControlNet "
            "model for each unit in its models/ControlNet folder:"
        )
        lines += [f"  {', '.join(kinds)}: {sd15} (SDXL: {sdxl})" for (sd15, sdxl), kinds in by_model.items()]
        lines.append("then run:")
    else:
        lines.append("To generate, start the WebUI with --api, then run:")
    lines.append(f"  {command_line(args, DEFAULT_WEBUI)}")
    return "\n".join(lines)


# (flag, attribute) in the order the command line is rebuilt; the photo comes first.
_REBUILT = (
    ("--task", "task"),
    ("--keep", "keep"),
    ("--mask", "mask"),
    ("--prompt", "prompt"),
    ("--negative-prompt", "negative_prompt"),
    ("--units", "units"),
    ("--request", "request"),
    ("--steps", "steps"),
    ("--cfg", "cfg"),
    ("--sampler", "sampler"),
    ("--seed", "seed"),
    ("--batch-count", "batch_count"),
    ("--width", "width"),
    ("--height", "height"),
    ("--denoising", "denoising"),
    ("--preset", "preset"),
    ("--background", "background"),
    ("--shadow", "shadow"),
    ("--out", "out"),
    ("--models-dir", "models_dir"),
    ("--device", "device"),
)


def command_line(args: argparse.Namespace, webui: str) -> str:
    """This command as typed (canonical order), with ``--webui`` added: what generates the previewed job."""
    words = ["python", "-m", "lib_garment", "run"]
    words += [args.image] if args.image is not None else ["--sample", args.sample]
    for flag, attr in _REBUILT:
        value = getattr(args, attr)
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for item in args.maps or ():
        words += ["--maps", item]
    if args.offline:
        words.append("--offline")
    if args.timeout != DEFAULT_TIMEOUT_S:
        words += ["--timeout", f"{args.timeout:g}"]
    words += ["--webui", webui]
    if args.api_auth is not None:
        words += ["--api-auth", "USER:PASS"]  # never echo a password
    return shlex.join(words)


def result_report(
    args: argparse.Namespace,
    label: str,
    prepared: Prepared,
    info: ServerInfo,
    result: RemoteResult,
    timings: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    units = (
        [{"kind": unit.kind, "model": unit.model, "weight": unit.weight} for unit in prepared.plan.units]
        if result.units_sent
        else []
    )
    images = [
        {"file": f"result-{i + 1}.png", "seed": seed, "infotext": text, "kept": check.to_json()}
        for i, (seed, text, check) in enumerate(zip(result.seeds, result.infotexts, result.kept, strict=True))
    ]
    return {
        "image": label,
        "mask_input": str(Path(args.mask).resolve()) if args.mask else None,
        "exact": result.exact,
        "images": images,
        "server": info.to_json(),
        "controlnet": {"units": units, **result.controlnet_json()},
        "request": prepared.request.dict(),
        "mask_source": prepared.mask_source,
        "segmentation": prepared.segmentation.to_json(),
        "plan": prepared.plan.to_json(),
        "asked": result.asked,
        "server_info": result.info,
        "notes": [*prepared.notes, *result.notes],
        "warnings": result.warnings,
        "preview": list(PREVIEW),
        "timings": {**timings, "total_s": time.perf_counter() - started},
    }


# -- with a preset ---------------------------------------------------------------------------------------------------
def framed_files(i: int, framed: FramedResult) -> dict[str, str]:
    """The names of result ``i``'s files (1-based): the framed file in the preset's format and its matte."""
    return {"file": f"result-{i}{framed.encoded.suffix}", "alpha": f"result-{i}-alpha.png"}


def write_framed(
    framed: Sequence[FramedResult],
    out: Path,
    report: dict[str, Any],
    composites: Sequence[np.ndarray] = (),
) -> list[Path]:
    """composite-<n>.png (the exact composite, when something was generated), result-<n>.<format> (the framed
    file as the preset wants it), result-<n>-alpha.png (its product matte, for ``check --alpha``), then
    result.json (last: its presence means the set is complete)."""
    from lib_garment import imageio
    from lib_garment.segment.matte import alpha_to_uint8

    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)
    written = [imageio.write_png(out / f"composite-{i + 1}.png", image) for i, image in enumerate(composites)]
    for i, result in enumerate(framed, start=1):
        names = framed_files(i, result)
        written.append(imageio.write_bytes(out / names["file"], result.encoded.data))
        written.append(imageio.write_png(out / names["alpha"], alpha_to_uint8(result.alpha)))
    written.append(imageio.write_json(out / "result.json", report))
    for i, result in enumerate(framed, start=1):
        print(f"{framed_files(i, result)['file']}: {verdict_line(result)}", file=sys.stderr)
    return written


def write_plain(prepared: Prepared, framed: Sequence[FramedResult], out: Path, report: dict[str, Any]) -> list[Path]:
    """A job with nothing generated: overlay.png, mask.png, alpha.png (the segmentation), then the framed set.
    An earlier run's plan, inpaint mask and maps go first: they are no part of this job."""
    from lib_garment import imageio
    from lib_garment.generate.outputs import preview_images

    out.mkdir(parents=True, exist_ok=True)
    _remove_old_results(out)
    for stale in ("plan.json", "inpaint_mask.png", *(f"maps/{kind}.png" for kind in MAP_KINDS)):
        (out / stale).unlink(missing_ok=True)
    images = preview_images(prepared)
    written = [imageio.write_png(out / f"{name}.png", images[name]) for name in PLAIN_PREVIEW]
    return written + write_framed(framed, out, report)


def verdict_line(result: FramedResult) -> str:
    """``amazon-main: warn (longest-side-zoom: …)``: the verdict and every rule that failed."""
    failed = [r for r in result.report.results if r.status == "fail"]
    text = f"{result.report.preset}: {result.report.verdict}"
    return text + (f" ({'; '.join(f'{r.rule.id}: {r.detail}' for r in failed)})" if failed else "")


def _framed_json(framed: Sequence[FramedResult]) -> dict[str, Any]:
    verdicts = [result.report.verdict for result in framed]
    return {
        "preset": framed[0].report.preset,
        "verdict": max(verdicts, key=_VERDICT_ORDER.index),  # the worst image's
    }


def framed_report(
    report: dict[str, Any], framed: Sequence[FramedResult], timings: dict[str, Any], started: float
) -> dict[str, Any]:
    """The generation's result.json with each image's framed file, matte and compliance report."""
    images = [
        {**image, **framed_files(i, result), "composite": f"composite-{i}.png", "compliance": result.to_json()}
        for i, (image, result) in enumerate(zip(report["images"], framed, strict=True), start=1)
    ]
    total = {**timings, "total_s": time.perf_counter() - started}
    return {**report, **_framed_json(framed), "images": images, "timings": total}


def plain_report(
    args: argparse.Namespace,
    label: str,
    prepared: Prepared,
    framed: Sequence[FramedResult],
    timings: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """result.json of a job with nothing generated: the framed images with their compliance reports, the
    request and the segmentation."""
    return {
        "image": label,
        "mask_input": str(Path(args.mask).resolve()) if args.mask else None,
        "generated": False,
        **_framed_json(framed),
        "images": [{**framed_files(i, r), "compliance": r.to_json()} for i, r in enumerate(framed, start=1)],
        "request": prepared.request.dict(),
        "mask_source": prepared.mask_source,
        "segmentation": prepared.segmentation.to_json(),
        "notes": list(prepared.notes),
        "preview": [f"{name}.png" for name in PLAIN_PREVIEW],
        "timings": {**timings, "total_s": time.perf_counter() - started},
    }
