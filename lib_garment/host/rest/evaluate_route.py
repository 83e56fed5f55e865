"""``POST /garment-studio/v1/evaluate``: FID, KID and IS of two image folders on the server.

The body (:class:`EvaluateBody`) names a real and a generated folder, each relative to the catalogue folder of the
Settings page or absolute inside it (:func:`lib_garment.catalogue.paths.confined`: anything else is a 422 naming
the field, so an API caller cannot read images elsewhere on the server). The answer is
:class:`lib_garment.evaluate.image_sets.SetMetrics`' JSON, as ``python -m lib_garment evaluate --json`` prints it:
``fid``, ``kid_mean``/``kid_std`` (with ``kid_subset_size`` and ``kid_subsets``), ``is_mean``/``is_std``
(``is_splits``), the sets' sizes and formats, the weights, the resize rule and notes.

KID's subset size and IS's splits default to torch-fidelity's (1000, 10) shrunk to the sets' sizes (reported in
the answer). An empty or missing folder, an undecodable file, a set smaller than a given subset size: 422; the
Inception weights missing: 424 naming the file and folder. The Inception runs in a worker thread under the
WebUI's queue lock (as the other model-running routes), never in the event loop.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lib_garment.errors import BadInput
from lib_garment.host.rest.answers import JSON_OBJECT_BODY, answer, body_problems, invalid, json_object
from lib_garment.pydantic_compat import Field, StrictStr, ValidationError
from lib_garment.request import StrictModel


class EvaluateBody(StrictModel):
    """The body of ``POST evaluate``."""

    real: StrictStr = Field(..., description="The real images' folder on the server, under the catalogue folder.")
    generated: StrictStr = Field(..., description="The generated images' folder, under the catalogue folder.")
    features: Literal["64", "192", "768", "2048"] = Field(
        "2048", description="Inception pool layer of FID and KID (2048: the published one)."
    )
    kid_subset_size: int | None = Field(
        None, ge=2, le=100_000, description="Images per KID subset; None: 1000 or the smaller set's size."
    )
    kid_subsets: int = Field(100, ge=1, le=10_000, description="KID subsets.")
    is_splits: int | None = Field(None, ge=1, le=1000, description="IS splits; None: 10 or the generated set's size.")
    seed: int = Field(2020, ge=0, le=2**31 - 1, description="KID subsets and IS shuffle (torch-fidelity's default).")


def parse_evaluate_body(raw: bytes) -> EvaluateBody:
    data = json_object(raw)
    try:
        return EvaluateBody.parse_obj(data)
    except ValidationError as err:
        raise invalid(body_problems(err)) from None


def _folder_images(value: str, root: Path, field: str) -> list[Path]:
    """The folder's image files, confined to ``root``; BadInput at ``field`` otherwise."""
    from lib_garment.catalogue.paths import confined
    from lib_garment.evaluate.images import list_images

    folder = confined(value, root, field, loc=(field,))
    try:
        return list_images(folder, field)
    except BadInput as err:
        raise BadInput(str(err), loc=(field,)) from None


def evaluate_job(raw: bytes) -> dict[str, Any]:
    from lib_garment.evaluate.image_sets import MetricOptions, check_counts, evaluate_sets, fitted_options
    from lib_garment.evaluate.images import read_set
    from lib_garment.evaluate.inception import load_inception
    from lib_garment.host.webui.queue import queued
    from lib_garment.host.webui.settings import current_settings, model_settings

    started = time.perf_counter()
    body = parse_evaluate_body(raw)
    root = current_settings().catalogue_root()
    real_files = _folder_images(body.real, root, "real")
    generated_files = _folder_images(body.generated, root, "generated")
    fitted = fitted_options(len(real_files), len(generated_files), body.features, body.kid_subsets)
    options = MetricOptions(
        kid_subset_size=body.kid_subset_size or fitted.kid_subset_size,
        kid_subsets=body.kid_subsets,
        is_splits=body.is_splits or fitted.is_splits,
        seed=body.seed,
        layer=body.features,
    )
    check_counts(len(real_files), len(generated_files), options)  # before decoding a file or loading a model
    real = read_set(real_files, "real")
    generated = read_set(generated_files, "generated")
    env = model_settings()
    timings: dict[str, float] = {}
    with queued(timings):
        net = load_inception(env.models_root, offline=env.offline, device=env.device, layer=body.features)
        report = evaluate_sets(real, generated, net, options).to_json()
    report["timings"] = {**timings, "total_s": time.perf_counter() - started}
    return report


async def evaluate(request: Request) -> Response:
    raw = await request.body()
    return await run_in_threadpool(answer, lambda: evaluate_job(raw))


EVALUATE_BODY_DOC = (
    'JSON body: {"real": "shoot" (a folder under the catalogue folder), "generated": "out/SKU-1" (likewise), '
    '"features": "2048", "kid_subset_size": null, "kid_subsets": 100, "is_splits": null, "seed": 2020}'
)
EVALUATE_ROUTE = (
    "POST",
    "evaluate",
    evaluate,
    "FID, KID and IS of a generated image folder against a real one (folders on the server)",
    EVALUATE_BODY_DOC,
    JSON_OBJECT_BODY,
)
