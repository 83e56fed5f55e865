"""The ``restore`` command's flags and ``--request`` file as one Garment Studio request.

``--request REQUEST.json`` is the request the REST API takes: its ``restore`` options say what to restore and
how, its ``prompt``/``negative_prompt`` are the image's own (``[PROMPT]``, and the prompt of passes without one
of their own), its ``seed`` the first pass's. Every flag overrides its field; a bad value is reported by the flag
the user typed (or by the file's field), never as a traceback.
"""

from __future__ import annotations

import argparse
from typing import Any

from lib_garment.cli.request_file import flag_for, read_request_file
from lib_garment.errors import BadInput
from lib_garment.request import RESTORE_MAP_KINDS, GarmentRequest, describe_problems, validation_problems
from lib_garment.request_data import set_field

# flag attribute → dotted request field; the flags that need a conversion are handled in build_restore_request
FLAG_FIELDS = {
    "detector": "restore.face_detector",
    "hand_detector": "restore.hand_detector",
    "prompt": "restore.prompt",
    "negative_prompt": "restore.negative_prompt",
    "face_prompt": "restore.face_prompt",
    "face_negative_prompt": "restore.face_negative_prompt",
    "hand_prompt": "restore.hand_prompt",
    "hand_negative_prompt": "restore.hand_negative_prompt",
    "main_prompt": "prompt",
    "main_negative_prompt": "negative_prompt",
    "denoising": "restore.denoising_strength",
    "confidence": "restore.confidence",
    "top_k": "restore.top_k",
    "rank_by": "restore.rank_by",
    "sort": "restore.sort",
    "classes": "restore.classes",
    "min_ratio": "restore.min_ratio",
    "max_ratio": "restore.max_ratio",
    "crop_size": "restore.crop_size",
    "padding": "restore.padding",
    "mask_blur": "restore.mask_blur",
    "matte": "restore.matte",
    "blend": "restore.blend",
    "skin_model": "restore.skin_model",
    "controlnet": "restore.controlnet",
    "steps": "restore.steps",
    "cfg": "restore.cfg_scale",
    "sampler": "restore.sampler",
    "seed": "seed",
}


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every restore option (default None: the request file's value, else the option's default)."""
    add = parser.add_argument
    add("--request", metavar="REQUEST.json", help="a Garment Studio request (its restore options); flags override it")
    faces = "face_yolov8n (default), face_yolov8s, mediapipe_face_short, mediapipe_face_full, haar, or a .pt file"
    add("--detector", metavar="NAME", help=f"face detector: {faces}")
    add("--hand-detector", metavar="NAME", help="hand detector: hand_yolov8n (default), mediapipe_hands or a .pt file")
    add("--no-faces", action="store_true", help="leave faces alone")
    add("--no-hands", action="store_true", help="leave hands alone")
    add("--prompt", metavar="TEXT", help="restore prompt for every detection ([SEP] list; empty: --main-prompt)")
    add("--negative-prompt", metavar="TEXT", help="restore negative prompt")
    add("--face-prompt", metavar="TEXT", help="faces' prompts ([SEP] list, [PROMPT], [SKIP])")
    add("--face-negative-prompt", metavar="TEXT", help="faces' negative prompts")
    add("--hand-prompt", metavar="TEXT", help="hands' prompts ([SEP] list, [PROMPT], [SKIP])")
    add("--hand-negative-prompt", metavar="TEXT", help="hands' negative prompts")
    add("--main-prompt", metavar="TEXT", help="the image's own prompt ([PROMPT] in restore prompts)")
    add("--main-negative-prompt", metavar="TEXT", help="the image's own negative prompt")
    add("--denoising", type=float, metavar="X", help="denoising strength of each pass (0.4)")
    add("--confidence", type=float, metavar="X", help="least detection score (0.3; below 0.25 is honoured)")
    add("--top-k", type=int, metavar="N", help="restore at most N of each kind (faces and hands apart)")
    add("--rank-by", choices=("area", "confidence"), help="what --top-k keeps: the largest (default) or surest")
    add("--sort", choices=("none", "left_to_right", "center_out", "area"), help="order of the passes")
    add("--classes", metavar="A,B", help="model class names to keep (comma-separated)")
    add("--min-ratio", type=float, metavar="X", help="least detection area as a share of the image")
    add("--max-ratio", type=float, metavar="X", help="largest detection area as a share of the image")
    add("--crop-size", type=int, metavar="PX", help="side of the regenerated square crop (512)")
    add("--padding", type=float, metavar="X", help="context around a detection, share of its longer side (0.25)")
    add("--mask-blur", type=int, metavar="PX", help="blur of the skin mask in each pass (4)")
    add(
        "--matte",
        choices=("classic", "none", "model"),
        help="skin matte edge: classic (default), none, model (ViTMatte)",
    )
    add("--blend", choices=("normal", "mixed", "alpha"), help="Poisson (normal, default; mixed) or alpha paste")
    add("--skin-model", metavar="colour|FILE", help="colour rules (default) or an FCN-ResNet101 skin state dict")
    unit = f"a ControlNet unit per pass, its map made from the crop ({', '.join(RESTORE_MAP_KINDS)}), e.g. depth:0.8"
    add("--controlnet", metavar="KIND[:WEIGHT]", help=unit)
    add("--controlnet-model", metavar="TITLE", help="its model (default: picked by kind from the server's list)")
    add("--steps", type=int, metavar="N", help="sampling steps (default: the request's, else the server's)")
    add("--cfg", type=float, metavar="X", help="CFG scale (default: the request's, else the server's)")
    add("--sampler", metavar="NAME", help="sampler (default: the request's, else the server's)")
    add("--seed", type=int, metavar="N", help="seed of the first detection, +1 per detection (-1: random)")


def parse_controlnet(text: str, model: str | None) -> dict[str, Any]:
    """``depth`` or ``depth:0.8`` (with ``--controlnet-model``) as the request's ``restore.controlnet``."""
    kind, colon, weight = text.partition(":")
    kind = kind.strip()
    if kind not in RESTORE_MAP_KINDS:
        raise BadInput(f"--controlnet: unknown kind {kind!r} (choose from {', '.join(RESTORE_MAP_KINDS)})")
    unit: dict[str, Any] = {"kind": kind}
    if colon:
        try:
            unit["weight"] = float(weight)
        except ValueError:
            raise BadInput(f"--controlnet: the weight must be a number, got {weight.strip()!r}") from None
    if model:
        unit["model"] = model
    return unit


def _flag_value(args: argparse.Namespace, attr: str, value: Any) -> Any:
    if attr == "classes":
        return [name.strip() for name in value.split(",") if name.strip()]
    if attr == "controlnet":
        return parse_controlnet(value, args.controlnet_model)
    return value


def build_restore_request(args: argparse.Namespace) -> GarmentRequest:
    """--request's JSON with the flags laid over it, validated; BadInput naming the flag or the file's field."""
    from lib_garment.pydantic_compat import ValidationError

    data = read_request_file(args.request) if args.request else {}
    flags: dict[str, str] = {}
    for attr, path in FLAG_FIELDS.items():
        value = getattr(args, attr)
        if value is None:
            continue
        if attr == "skin_model":
            fcn = value.strip().lower() != "colour"
            set_field(data, "restore.skin_model", "fcn" if fcn else "colour")
            set_field(data, "restore.skin_model_path", value if fcn else None)
            flags["restore.skin_model_path"] = "--skin-model"
        else:
            set_field(data, path, _flag_value(args, attr, value))
        flags[path] = "--" + attr.replace("_", "-")
    if args.controlnet_model and args.controlnet is None:
        raise BadInput("--controlnet-model needs --controlnet KIND")
    if args.no_faces:
        set_field(data, "restore.faces", False)
        flags["restore.faces"] = "--no-faces"
    if args.no_hands:
        set_field(data, "restore.hands", False)
        flags["restore.hands"] = "--no-hands"
    set_field(data, "restore.enabled", True)  # this command restores
    try:
        return GarmentRequest.parse_obj(data)
    except ValidationError as err:

        def where(path: str) -> str:
            flag = flag_for(flags, path)
            return f"{flag} ({path})" if flag else f"{args.request or 'restore option'}: {path or 'request'}"

        raise BadInput(describe_problems(validation_problems(err), where)) from None
