"""``segment``: cut the garment out of one photo by text (GroundingDINO → SAM) or from a coarse mask, and write
mask.png, trimap.png, alpha.png, overlay.png and result.json into a folder.

Everything the user typed and every input file is checked before any model is fetched or run (exit 2, nothing
written); a model that is missing while offline stops the job before anything is written (exit 3, the message
names the file and its folder). The outputs are computed first and then written, each atomically, result.json
last: a folder with result.json holds a complete set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lib_garment.cli.flags import out_folder
from lib_garment.errors import BadInput

# Repeated from lib_garment.segment.backends.assemble so that parsing arguments imports no model code.
DETECTORS = ("groundingdino-py", "transformers")
SAMS = ("vit_b", "vit_l", "vit_h", "vit_h_hq", "mobile")
OUTPUTS = ("mask.png", "trimap.png", "alpha.png", "overlay.png", "result.json")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="cut out the garment: mask, trimap, alpha matte and preview for an image",
        description="Segment IMAGE by --prompt (GroundingDINO boxes → SAM masks) or from --mask, clean the mask, "
        "build a trimap and refine it into an alpha matte. Writes DIR/mask.png (0/255), trimap.png (0/128/255), "
        "alpha.png (0-255), overlay.png and result.json, all at the image's size.",
    )
    parser.add_argument("image", metavar="IMAGE", help="the photo")
    parser.add_argument(
        "--prompt", metavar="TEXT", help='what to keep, dot-separated: "white t-shirt" or "dress . belt"'
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created if missing)")
    parser.add_argument(
        "--mask", metavar="COARSE.png", help="start from this coarse mask (any non-zero pixel is kept): no detection"
    )
    parser.add_argument(
        "--select", choices=("largest", "all", "topk"), help="boxes per phrase: the largest (default), all, top k"
    )
    parser.add_argument("--top-k", type=int, metavar="K", help="with --select topk: how many boxes per phrase")
    parser.add_argument("--min-area", type=int, metavar="PX", help="drop mask parts smaller than this (default 50)")
    parser.add_argument(
        "--trimap-size", type=int, metavar="K", help="trimap band half-width in px (default: 1%% of the short side)"
    )
    parser.add_argument(
        "--matte", choices=("vitmatte", "classic", "none"), help="alpha matte method (default vitmatte)"
    )
    parser.add_argument("--box-threshold", type=float, metavar="S", help="GroundingDINO box score threshold (0.35)")
    parser.add_argument("--text-threshold", type=float, metavar="S", help="GroundingDINO text score threshold (0.25)")
    parser.add_argument("--detector", choices=DETECTORS, default=DETECTORS[0], help="GroundingDINO implementation")
    parser.add_argument("--sam", choices=SAMS, default=SAMS[0], help="SAM model (default vit_b)")
    parser.add_argument(
        "--sam-checkpoint",
        metavar="FILE",
        help="your own SAM, SAM-HQ or MobileSAM checkpoint (any name; kind and size inferred)",
    )
    parser.add_argument(
        "--trust-unverified",
        action="store_true",
        help="load pickle checkpoints whose SHA-256 Garment Studio cannot check",
    )
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where models run (default: cuda if available)")
    parser.add_argument("--offline", action="store_true", help="never download: use only model files on disk")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # Deferred imports: the other commands (doctor above all) must work without OpenCV, numpy or torch.
    from lib_garment import imageio
    from lib_garment.models.progress import TqdmProgress
    from lib_garment.paths import models_root
    from lib_garment.segment.backends.assemble import ModelChoice, build_backends, run_segmentation
    from lib_garment.segment.coarse import read_coarse_mask
    from lib_garment.segment.matte import alpha_to_uint8
    from lib_garment.segment.phrases import parse_phrases

    options = _options(args)
    if args.mask is not None and options.phrases:
        print("note: --prompt is not used with --mask (the mask says what to keep)", file=sys.stderr)
        options = options.copy(update={"phrases": ""})
    if args.mask is None and not parse_phrases(options.phrases):
        raise BadInput(
            '--prompt: say what to keep, e.g. --prompt "white t-shirt" (several: "dress . belt"), or give --mask'
        )
    out = out_folder(args.out)
    if args.sam_checkpoint is not None and not Path(args.sam_checkpoint).is_file():
        raise BadInput(f"--sam-checkpoint {args.sam_checkpoint} does not exist")
    image = imageio.read_image(args.image)
    coarse = read_coarse_mask(args.mask, image.shape[:2]) if args.mask is not None else None
    device = args.device
    if device is not None and device.startswith("cuda"):
        from lib_garment.runtime.devices import resolve_device

        resolve_device(device)  # no GPU here: ModelUnavailable (exit 3) before any model is fetched
    read_s = time.perf_counter() - started

    progress = TqdmProgress(min_bytes=1 << 20)
    try:
        backends = build_backends(
            options,
            models_root(args.models_dir),
            device=device,
            offline=True if args.offline else None,
            progress=progress,
            from_mask=coarse is not None,
            choice=ModelChoice(
                detector=args.detector,
                sam=args.sam,
                sam_file=Path(args.sam_checkpoint) if args.sam_checkpoint else None,
                trust_unverified=True if args.trust_unverified else None,
            ),
        )
    finally:
        progress.close()
    setup_s = time.perf_counter() - started - read_s
    for note in backends.notes:
        print(f"note: {note}", file=sys.stderr)

    result = run_segmentation(image, options, backends, coarse)
    seg = result.segmentation
    for phrase in seg.missing:
        print(f"warning: nothing found for {phrase!r}", file=sys.stderr)

    write_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)  # an earlier run's must not vouch for a half-written set
    written = [
        imageio.write_png(out / "mask.png", seg.mask),
        imageio.write_png(out / "trimap.png", seg.trimap),
        imageio.write_png(out / "alpha.png", alpha_to_uint8(seg.alpha)),
        imageio.write_png(out / "overlay.png", seg.overlay(image)),
    ]
    report = _report(args, image.shape, options.dict(), result.to_json())
    report["timings"].update(read_s=read_s, setup_s=setup_s, write_s=time.perf_counter() - write_start)
    report["timings"]["total_s"] = time.perf_counter() - started
    written.append(imageio.write_json(out / "result.json", report))  # last: its presence means complete
    for path in written:
        print(path)
    return 0


def _options(args: argparse.Namespace) -> Any:
    from lib_garment.pydantic_compat import ValidationError
    from lib_garment.request import SegmentOptions

    given = {
        "phrases": args.prompt,
        "select": args.select,
        "top_k": args.top_k,
        "min_area": args.min_area,
        "trimap_size": args.trimap_size,
        "matte": args.matte,
        "box_threshold": args.box_threshold,
        "text_threshold": args.text_threshold,
    }
    try:
        return SegmentOptions(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as err:
        problems = []
        for problem in err.errors():
            field = str(problem["loc"][0]) if problem["loc"] else ""
            flag = "--prompt" if field == "phrases" else "--" + field.replace("_", "-")
            problems.append(f"{flag}: {problem['msg']}")
        raise BadInput("; ".join(problems)) from None


def _report(
    args: argparse.Namespace, shape: tuple[int, ...], options: dict[str, Any], run: dict[str, Any]
) -> dict[str, Any]:
    return {
        "image": str(Path(args.image).resolve()),
        "size": [int(shape[1]), int(shape[0])],
        "mask_input": str(Path(args.mask).resolve()) if args.mask else None,
        "options": options,
        **run,
        "outputs": list(OUTPUTS),
    }
