"""What ``run`` writes and prints: the preview (an earlier run's results removed first), the command that
generates, and result.json's report."""

from __future__ import annotations

import argparse
import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.cli.run_inputs import DEFAULT_TIMEOUT_S, DEFAULT_WEBUI

if TYPE_CHECKING:
    from lib_garment.client.remote import RemoteResult
    from lib_garment.client.webui import ServerInfo
    from lib_garment.generate.prepare import Prepared

PREVIEW = ("overlay.png", "mask.png", "alpha.png", "inpaint_mask.png", "maps/<kind>.png", "plan.json")
_RESULT_FILE = re.compile(r"result-\d+\.png")


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
