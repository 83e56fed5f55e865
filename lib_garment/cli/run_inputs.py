"""``run``'s inputs, every one checked before anything runs (BadInput, exit 2): the request and its marketplace
preset, the photo, the mask, the user's maps and the server; then the local preparation (segmentation, maps,
plan) with the server's model titles."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.cli.flags import out_folder, positive_seconds
from lib_garment.cli.run_request import build_request, field_label
from lib_garment.errors import BadInput
from lib_garment.request import MAP_KINDS

if TYPE_CHECKING:
    import numpy as np

    from lib_garment.client.webui import ServerInfo, WebUI
    from lib_garment.generate.prepare import Prepared
    from lib_garment.presets.finish import FramedResult
    from lib_garment.presets.load import PresetSet
    from lib_garment.request import GarmentRequest

DEFAULT_WEBUI = "http://127.0.0.1:7860"
DEFAULT_TIMEOUT_S = 3600.0
CHECK_TIMEOUT_S = 15.0


@dataclasses.dataclass(frozen=True, eq=False)
class Inputs:
    """Everything the user gave, checked. ``presets``: the presets found when the request names one (or asks
    for a background or shadow, which need one); ``generate``: whether the job needs a WebUI to generate."""

    request: GarmentRequest
    photo: np.ndarray
    label: str
    mask: np.ndarray | None
    maps: dict[str, np.ndarray]
    server: WebUI | None
    presets: PresetSet | None = None
    generate: bool = True


def read_inputs(args: argparse.Namespace) -> Inputs:
    """The request (and its preset), photo, mask, the user's maps and the server client, every one checked
    (BadInput, exit 2) before anything runs."""
    from lib_garment.generate.prepare import check_inputs
    from lib_garment.presets.preflight import needs_generation
    from lib_garment.segment.phrases import parse_phrases

    request = build_request(args)
    presets = _presets(args, request)
    photo, label = _photo(args)
    mask = _mask(args, photo)
    maps = _maps(args, request)
    out_folder(args.out)
    keeps_by_phrase = request.segment.mask_source not in ("mask", "none")  # none: nothing kept, on purpose
    if mask is None and keeps_by_phrase and not parse_phrases(request.segment.phrases):
        raise BadInput('say what to keep: --keep "white t-shirt" (several: "dress . belt"), or --mask KEEP.png')
    try:
        check_inputs(request, photo, mask, maps)
    except BadInput as err:
        if err.loc[:1] != ("maps",):
            raise
        raise BadInput(f"--maps {err.loc[1]}: {err}") from None
    positive_seconds(args.timeout)
    server = _server(args)
    generate = needs_generation(request)
    if request.preset is not None and generate and server is None:
        where = field_label(args)
        raise BadInput(
            f"{where('preset')} {request.preset} frames a generated picture, and only a WebUI generates: give "
            "--webui URL, or --background white (or #RRGGBB) to frame the photographed product on a plain colour "
            "with nothing generated"
        )
    if args.device is not None and args.device.startswith("cuda"):
        from lib_garment.runtime.devices import resolve_device

        resolve_device(args.device)  # no GPU here: ModelUnavailable (exit 3) before anything runs
    return Inputs(request, photo, label, mask, maps, server, presets, generate)


def _presets(args: argparse.Namespace, request: GarmentRequest) -> PresetSet | None:
    """The presets when the request asks for marketplace output, its preset, background and shadow checked
    against them; None (no preset file read) otherwise, so a job without a preset runs as it always did."""
    if request.preset is None and request.output.background is None and request.output.shadow in (None, "none"):
        return None
    from lib_garment.presets.load import load_presets
    from lib_garment.presets.preflight import check_preset_request

    presets = load_presets(args.models_dir)
    check_preset_request(request, presets, field_label(args))
    return presets


def _photo(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    from lib_garment import imageio

    if args.image is not None and args.sample is not None:
        raise BadInput("give IMAGE or --sample NAME, not both")
    if args.sample is not None:
        from lib_garment.samples import load_sample

        return load_sample(args.sample), f"sample:{args.sample}"
    if args.image is None:
        raise BadInput("give the photo (IMAGE) or --sample astronaut")
    return imageio.read_image(args.image), str(Path(args.image).resolve())


def _maps(args: argparse.Namespace, request: GarmentRequest) -> dict[str, np.ndarray]:
    """--maps KIND=FILE (repeated or comma-separated) read as RGB, by kind; every file checked now."""
    from lib_garment import imageio
    from lib_garment.generate.tasks import map_kinds

    maps: dict[str, np.ndarray] = {}
    for item in (piece.strip() for text in args.maps or () for piece in text.split(",")):
        if not item:
            continue
        kind, equals, path = (part.strip() for part in item.partition("="))
        if not equals or not path:
            raise BadInput(f"--maps: {item!r}: give KIND=FILE.png, e.g. pose=pose.png")
        if kind not in MAP_KINDS:
            raise BadInput(f"--maps: unknown kind {kind!r} (choose from {', '.join(MAP_KINDS)})")
        if kind in maps:
            raise BadInput(f"--maps: {kind} is given twice")
        maps[kind] = imageio.read_image(path)
    unused = sorted(set(maps) - set(map_kinds(request)))
    if unused:
        raise BadInput(f"--maps {', '.join(unused)}: no such unit (add it to --units, or leave the map out)")
    return maps


def _mask(args: argparse.Namespace, photo: np.ndarray) -> np.ndarray | None:
    if args.mask is None:
        return None
    from lib_garment.segment.coarse import read_coarse_mask

    return read_coarse_mask(args.mask, photo.shape[:2])


def _server(args: argparse.Namespace) -> WebUI | None:
    from lib_garment.client.http import parse_auth
    from lib_garment.client.webui import WebUI

    auth = parse_auth(args.api_auth)
    if args.webui is None:
        return None
    return WebUI.connect(args.webui, auth, timeout=CHECK_TIMEOUT_S)


def check_server(server: WebUI, request: GarmentRequest) -> tuple[ServerInfo, list[str] | None]:
    from lib_garment.generate.tasks import control_units

    info = server.check()
    wanted = [(unit.kind, unit.model) for unit in control_units(request)]
    models = server.resolve_models(info, wanted, request.allow_without_controlnet)
    if request.generation.sampler:
        server.check_sampler(request.generation.sampler)
    cn = info.controlnet
    found = f"ControlNet: {cn.flavour}" if cn is not None else "no ControlNet"
    print(f"{server.url}: checkpoint {info.checkpoint or 'unknown'} ({info.base}), {found}", file=sys.stderr)
    return info, models


def prepare_locally(
    args: argparse.Namespace,
    request: GarmentRequest,
    photo: np.ndarray,
    mask: np.ndarray | None,
    maps: dict[str, np.ndarray],
    models: list[str] | None,
) -> Prepared:
    """The engine's prepare() with the CLI's model folder, device and download policy; the plan's units carry
    the server's model titles when there is a server."""
    from lib_garment.generate.prepare import prepare
    from lib_garment.models.progress import TqdmProgress
    from lib_garment.models.settings import ModelSettings
    from lib_garment.paths import models_root

    progress = TqdmProgress(min_bytes=1 << 20)
    env = ModelSettings(
        models_root=models_root(args.models_dir),
        device=args.device,
        offline=True if args.offline else None,
        progress=progress,
    )
    try:
        prepared = prepare(request, photo, env, mask=mask, supplied_maps=maps)
    finally:
        progress.close()
    for note in prepared.notes:
        print(f"note: {note}", file=sys.stderr)
    if not models:
        return prepared
    units = tuple(
        dataclasses.replace(unit, model=model) for unit, model in zip(prepared.plan.units, models, strict=True)
    )
    return dataclasses.replace(prepared, plan=dataclasses.replace(prepared.plan, units=units))


def finish_each(
    inputs: Inputs, prepared: Prepared, composites: Sequence[np.ndarray | None], timings: dict[str, Any]
) -> list[FramedResult]:
    """The engine's finish_for_preset on each result (None: nothing was generated, the photo is framed):
    framed on the preset's canvas, its background, edge and shadow, encoded and checked."""
    from lib_garment.presets.finish import finish_for_preset, shadow_spec

    started = time.perf_counter()
    depth = None
    if shadow_spec(inputs.request.output.shadow).kind == "drop" and "depth" in prepared.maps:
        depth = prepared.maps["depth"]  # the drop shadow is cast mostly by what is nearest the backdrop
        depth = depth[..., 0] if depth.ndim == 3 else depth
    framed = [
        finish_for_preset(
            prepared.photo,
            image,
            prepared.segmentation.alpha,
            inputs.request,
            presets=inputs.presets,
            depth=depth,
        )
        for image in composites
    ]
    timings["finish_s"] = time.perf_counter() - started
    return framed
