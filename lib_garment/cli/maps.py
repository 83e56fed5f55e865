"""``maps``: compute ControlNet control maps for one image and write them as PNG (and pose JSON) into a folder."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from lib_garment.cli.flags import out_folder
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.request import MAP_KINDS

if TYPE_CHECKING:
    from lib_garment.maps.compute import DepthEstimator, MapSettings, MapSources, PoseEstimator
    from lib_garment.maps.depth_fm import DepthFmParams
    from lib_garment.models.progress import TqdmProgress

# lib_garment.maps.depth_models.DEPTH_MODEL_NAMES and pose_model.POSE_MODEL_NAMES, repeated so that parsing
# arguments needs no OpenCV.
DEPTH_MODELS = ("depth-anything-v2-small", "depth-fm")
POSE_MODELS = ("yolov8n-pose", "yolov8s-pose")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "maps",
        help=f"write control maps ({', '.join(MAP_KINDS)}) for an image",
        description="Write control maps for IMAGE into DIR: canny.png, mask_canny.png, lines.png, pose.png + "
        "pose.json, depth.png, normal.png. Every map has the image's full size.",
    )
    parser.add_argument("image", metavar="IMAGE", help="the photo")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the maps (created if missing)")
    parser.add_argument("--mask", metavar="MASK.png", help="product mask or cut-out (same size): for mask_canny")
    parser.add_argument(
        "--only",
        type=_names,
        metavar="NAMES",
        help=f"comma-separated maps to write (default: all; mask_canny when --mask is given): {','.join(MAP_KINDS)}",
    )
    parser.add_argument("--keypoints", metavar="POSE.json", help="OpenPose JSON to draw the pose map from")
    parser.add_argument("--depth", metavar="DEPTH.png", help="a depth map (near = bright, or colour-mapped)")
    parser.add_argument(
        "--canny", type=_numbers(2, "LOW,HIGH"), metavar="LOW,HIGH", help="Canny thresholds (default 100,200)"
    )
    parser.add_argument(
        "--lines",
        type=_numbers(3, "VOTES,MIN_LENGTH,MAX_GAP"),
        metavar="VOTES,MIN_LENGTH,MAX_GAP",
        help="Hough line thresholds in votes and pixels (default 50 and 24,4 px scaled from 512 px)",
    )
    parser.add_argument(
        "--pose-threshold", type=float, metavar="CONF", help="keypoint confidence threshold (default 0.5)"
    )
    parser.add_argument(
        "--normal-background",
        metavar="mask|DEPTH",
        help="cut the normal map's background: by the mask, or where the depth map is darker than DEPTH (0..1)",
    )
    parser.add_argument(
        "--pose-model",
        default=POSE_MODELS[0],
        metavar="NAME|FILE.pt",
        help=f"pose model for the pose map without --keypoints: {' or '.join(POSE_MODELS)} (default "
        f"{POSE_MODELS[0]}), or an ultralytics pose .pt of your own (needs --trust-unverified)",
    )
    parser.add_argument(
        "--person-threshold",
        type=float,
        metavar="CONF",
        help="least person confidence for the pose model (default 0.25)",
    )
    parser.add_argument(
        "--depth-model",
        default=DEPTH_MODELS[0],
        metavar="NAME|DIR|FILE.ckpt",
        help=f"depth model without --depth: {' or '.join(DEPTH_MODELS)} (default {DEPTH_MODELS[0]}), a "
        "Depth Anything folder in transformers format, or a DepthFM checkpoint of your own",
    )
    parser.add_argument(
        "--depth-steps", type=int, default=2, metavar="N", help="depth-fm: Euler steps of the flow (default 2)"
    )
    parser.add_argument(
        "--depth-ensemble",
        type=int,
        default=1,
        metavar="N",
        help="depth-fm: predictions averaged, each from its own noise (default 1; 4 is smoother, 4x slower)",
    )
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where models run (default: cuda if available)")
    parser.add_argument(
        "--trust-unverified",
        action="store_true",
        default=None,
        help="load model files whose SHA-256 is not known (a .pt of your own); they are pickles and can run "
        "code, so only for files you trust (same as GARMENT_TRUST_UNVERIFIED=1)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Deferred: importing OpenCV here keeps every other command (doctor above all) working without it.
    from lib_garment import imageio as images
    from lib_garment.maps.compute import MapSources, compute_maps
    from lib_garment.maps.depth import depth_from_pixels
    from lib_garment.maps.pose_format import pose_to_json, read_pose_json

    settings = _settings(args)
    image = images.read_image(args.image)
    size = images.image_size(image)
    mask = images.read_mask(args.mask) if args.mask else None
    if mask is not None and images.image_size(mask) != size:
        raise BadInput(f"mask {args.mask} is {mask.shape[1]}x{mask.shape[0]} but the image is {size[0]}x{size[1]}")
    pose = read_pose_json(args.keypoints, size) if args.keypoints else None
    depth = depth_from_pixels(images.read_depth_pixels(args.depth), f"depth map {args.depth}") if args.depth else None
    kinds = args.only or tuple(k for k in MAP_KINDS if k != "mask_canny" or mask is not None)
    if mask is None and ("mask_canny" in kinds or ("normal" in kinds and settings.normal_uses_mask)):
        what = "mask_canny" if "mask_canny" in kinds else "--normal-background mask"
        raise BadInput(f"{what} needs --mask MASK.png")
    out = out_folder(args.out)
    sources = MapSources(image, mask, pose, depth)
    pose_estimator, depth_estimator, progress = _estimators(kinds, sources, args)
    try:
        result = compute_maps(sources, kinds, settings, pose_estimator=pose_estimator, depth_estimator=depth_estimator)
    finally:
        progress.close()
    out.mkdir(parents=True, exist_ok=True)
    written = [images.write_png(out / f"{kind}.png", array) for kind, array in result.maps.items()]
    if result.pose is not None:
        written.append(images.write_json(out / "pose.json", pose_to_json(result.pose, settings.pose.threshold)))
    for path in written:
        print(path)
    return 0


def _estimators(
    kinds: tuple[str, ...], sources: MapSources, args: argparse.Namespace
) -> tuple[PoseEstimator | None, DepthEstimator | None, TqdmProgress]:
    """The models the requested maps need and the inputs do not replace, found (or downloaded) and verified
    before any work. When one cannot be had, ModelUnavailable names every missing one, what to put where,
    and how to do without."""
    from lib_garment.maps.depth_models import depth_estimator
    from lib_garment.maps.pose_model import PoseModelParams, pose_estimator
    from lib_garment.models.progress import TqdmProgress
    from lib_garment.paths import models_root

    needs_pose = "pose" in kinds and sources.pose is None
    needs_depth = bool({"depth", "normal"} & set(kinds)) and sources.depth is None
    root = models_root(args.models_dir)
    progress = TqdmProgress(min_bytes=1 << 20)  # bars for weights, not for config files
    common = {"device": args.device, "progress": progress, "trust_unverified": args.trust_unverified}
    pose_model = depth_model = None
    problems: list[str] = []
    if needs_pose:
        params = PoseModelParams() if args.person_threshold is None else PoseModelParams(conf=args.person_threshold)
        try:
            pose_model = pose_estimator(args.pose_model, root, params=params, **common)
        except ModelUnavailable as err:
            problems.append(
                f"the pose map needs the pose model: {err}\n"
                "Or draw it from OpenPose JSON with --keypoints POSE.json (ControlNet's pose editor saves one)"
            )
    if needs_depth:
        try:
            depth_model = depth_estimator(args.depth_model, root, depth_fm=_depth_fm_params(args), **common)
        except ModelUnavailable as err:
            problems.append(
                f"the depth and normal maps need the depth model: {err}\n"
                "Or give a depth map with --depth DEPTH.png (near = bright, or colour-mapped)"
            )
    if problems:
        progress.close()
        unavailable = ({"pose"} if needs_pose and pose_model is None else set()) | (
            {"depth", "normal"} if needs_depth and depth_model is None else set()
        )
        rest = [k for k in kinds if k not in unavailable]
        hint = f"\nOr leave them out: --only {','.join(rest)}" if rest else ""
        raise ModelUnavailable("\n".join(problems) + hint)
    return pose_model, depth_model, progress


def _depth_fm_params(args: argparse.Namespace) -> DepthFmParams:
    from lib_garment.maps.depth_fm import DepthFmParams

    return DepthFmParams(steps=args.depth_steps, ensemble=args.depth_ensemble)


def _settings(args: argparse.Namespace) -> MapSettings:
    from lib_garment.maps.compute import MapSettings
    from lib_garment.maps.edges import CannyParams
    from lib_garment.maps.lines import LineParams
    from lib_garment.maps.normal import NormalParams
    from lib_garment.maps.pose_format import PoseParams

    canny = CannyParams(*args.canny) if args.canny else CannyParams()
    lines = LineParams(canny=canny)
    if args.lines:
        votes, min_length, max_gap = args.lines
        if votes != int(votes):
            raise BadInput(f"--lines votes must be a whole number, got {votes}")
        lines = LineParams(votes=int(votes), min_length=min_length, max_gap=max_gap, canny=canny)
    pose = PoseParams() if args.pose_threshold is None else PoseParams(args.pose_threshold)
    normal, by_mask = NormalParams(), False
    if args.normal_background == "mask":
        by_mask = True
    elif args.normal_background is not None:
        normal = NormalParams(background_depth=_number(args.normal_background, "--normal-background"))
    return MapSettings(canny=canny, lines=lines, pose=pose, normal=normal, normal_uses_mask=by_mask)


def _names(text: str) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MAP_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown map {', '.join(unknown)} (choose from {', '.join(MAP_KINDS)})")
    if not names:
        raise argparse.ArgumentTypeError("no map named")
    return tuple(dict.fromkeys(names))


def _numbers(count: int, form: str) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        parts = text.split(",")
        if len(parts) != count:
            raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
        try:
            return tuple(_number(part, form) for part in parts)
        except BadInput as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise BadInput(f"{what}: {text.strip()!r} is not a finite number")
    return value
