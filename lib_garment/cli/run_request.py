"""``run``'s request: the ``--request`` file with the flags laid over it, validated (BadInput names the flag or
the file's field), and the ``--units`` text as the request's control units."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lib_garment.cli.request_file import flag_for, read_request_file
from lib_garment.errors import BadInput
from lib_garment.request import MAP_KINDS
from lib_garment.request_data import get_field, set_field

if TYPE_CHECKING:
    from lib_garment.request import GarmentRequest

# lib_garment.samples.SAMPLES, repeated so that parsing arguments imports no numpy.
SAMPLES = ("astronaut",)
SAMPLE_KEEP = {"astronaut": "white suit"}

# Which flag sets which request field (for messages that name the flag the user typed).
FLAG_FIELDS = {
    "task": "task",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "keep": "segment.phrases",
    "steps": "generation.steps",
    "cfg": "generation.cfg_scale",
    "sampler": "generation.sampler",
    "seed": "seed",
    "batch_count": "generation.batch_count",
    "width": "generation.width",
    "height": "generation.height",
    "denoising": "generation.denoising_strength",
    "units": "control",
    "preset": "preset",
    "background": "output.background",
    "shadow": "output.shadow",
}


def build_request(args: argparse.Namespace) -> GarmentRequest:
    """--request's JSON with the flags laid over it, validated; BadInput naming the flag or the file's field."""
    from lib_garment.pydantic_compat import ValidationError
    from lib_garment.request import GarmentRequest, describe_problems, validation_problems

    data = read_request_file(args.request) if args.request else {}
    for attr, path in FLAG_FIELDS.items():
        value = getattr(args, attr)
        if value is None:
            continue
        if attr == "units":
            value = parse_units(value)
        set_field(data, path, value)
    if args.mask is not None:
        set_field(data, "segment.mask_source", "mask")
        if args.keep is not None:
            print("note: --keep is not used with --mask (the mask says what to keep)", file=sys.stderr)
    elif args.keep is not None:
        set_field(data, "segment.mask_source", "phrase")
    elif args.sample is not None and not get_field(data, "segment.phrases"):
        set_field(data, "segment.phrases", SAMPLE_KEEP[args.sample])
    try:
        return GarmentRequest.parse_obj(data)
    except ValidationError as err:
        raise BadInput(describe_problems(validation_problems(err), field_label(args))) from None


def field_label(args: argparse.Namespace) -> Callable[[str], str]:
    """A request field's dotted path → what the user typed: the flag that set it, else the request file's field."""
    given = (attr for attr in FLAG_FIELDS if getattr(args, attr) is not None)
    flags = {FLAG_FIELDS[attr]: "--" + attr.replace("_", "-") for attr in given}

    def where(path: str) -> str:
        flag = flag_for(flags, path)
        if flag is not None:
            return flag
        return f"{args.request}: {path or 'request'}" if args.request else path or "request"

    return where


def parse_units(text: str) -> list[dict[str, Any]]:
    """``mask_canny,normal``, ``pose:1,mask_canny:0.8`` or ``depth:0.6:0:0.5`` (weight, guidance start and
    end); ``none`` for no units."""
    if text.strip().lower() == "none":
        return []
    units = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, *numbers = (piece.strip() for piece in part.split(":"))
        if kind not in MAP_KINDS:
            raise BadInput(f"--units: unknown kind {kind!r} (choose from {', '.join(MAP_KINDS)}, or none)")
        if len(numbers) not in (0, 1, 3):
            raise BadInput(f"--units: {part!r}: give KIND, KIND:WEIGHT or KIND:WEIGHT:START:END")
        unit: dict[str, Any] = {"kind": kind}
        for name, number in zip(("weight", "guidance_start", "guidance_end"), numbers, strict=False):
            unit[name] = _number(number, f"--units: the {name.replace('_', ' ')} of {kind}")
        units.append(unit)
    if not units:
        raise BadInput("--units: name at least one unit (e.g. mask_canny,normal), or none")
    return units


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"{what} must be a number, got {text!r}") from None
