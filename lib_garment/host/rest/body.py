"""The body of the POST routes, checked and decoded in one go.

``{"request": {...}, "image": b64, "mask": b64|null, "maps": {kind: b64}|null, "save_images": false,
"exact_matte": false}``. The body is parsed here, not by FastAPI, and validated with the pydantic-v1-API models
(``lib_garment.pydantic_compat``), so a request behaves the same on AUTOMATIC1111 (pydantic 1) and Forge
(pydantic 2). Every bad field and every image that does not decode are reported in one 422.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np

from lib_garment.b64images import decode_image
from lib_garment.errors import BadInput
from lib_garment.host.rest.answers import body_problems, invalid, json_object, problem
from lib_garment.imageio import image_to_mask, image_to_rgb
from lib_garment.pydantic_compat import Field, StrictBool, StrictStr, ValidationError
from lib_garment.request import GarmentRequest, MapKind, StrictModel


class RouteBody(StrictModel):
    """The body of ``segment``, ``maps`` and ``generate`` (types checked as strictly as the request's)."""

    request: GarmentRequest = Field(default_factory=GarmentRequest, description="The Garment Studio request.")
    image: StrictStr = Field(..., description="The photo: base64, bare or as a data URL.")
    mask: StrictStr | None = Field(
        None, description="The product mask (white = keep), same size as the photo; base64 or a data URL."
    )
    maps: dict[MapKind, StrictStr] | None = Field(
        None, description="Control maps you made yourself, by kind, same size as the photo; used instead of ours."
    )
    save_images: StrictBool = Field(False, description="generate: the WebUI saves the outputs as for img2img.")
    exact_matte: StrictBool = Field(
        False,
        description="generate: also answer `matte` (the photo's float matte, exact) and `depth` (the depth map a "
        "drop shadow is weighted by, or null), for a caller that frames the composite itself.",
    )


@dataclass
class RouteJob:
    """A validated body with its images decoded: the photo RGB, the mask (H, W) uint8, maps by kind."""

    request: GarmentRequest
    photo: np.ndarray
    mask: np.ndarray | None
    maps: dict[str, np.ndarray]
    save_images: bool
    exact_matte: bool = False


REFERENCE_ONLY = (
    "{} belongs to the txt2img section's reference photo; these routes work on the body's image and mask "
    "(send them there)"
)


def _images_of(data: dict[str, Any]) -> list[tuple[list[str], Callable[[Any, str], np.ndarray], Any]]:
    """Every image the body carries, with its location and how it is decoded (the raw values: a wrong type is
    validation's to report)."""
    found: list[tuple[list[str], Callable[[Any, str], np.ndarray], Any]] = [
        (["image"], image_to_rgb, data.get("image"))
    ]
    if data.get("mask") is not None:
        found.append((["mask"], image_to_mask, data["mask"]))
    maps = data.get("maps")
    if isinstance(maps, dict):
        kinds = get_args(MapKind)  # an unknown kind is validation's to report
        found += [(["maps", kind], image_to_rgb, text) for kind, text in maps.items() if kind in kinds]
    return found


def _decode_all(data: dict[str, Any], flagged: set[tuple[Any, ...]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each string image decoded, by dotted location, and a problem for each one that does not decode; images
    already reported by validation (wrong type, unknown map kind) are left to that report."""
    decoded, problems = {}, []
    for loc, convert, value in _images_of(data):
        if not isinstance(value, str) or any(tuple(loc[: len(f)]) == f for f in flagged if f):
            continue
        name = ".".join(loc)
        try:
            decoded[name] = convert(decode_image(value, name), name)
        except BadInput as err:
            problems.append(problem(["body", *loc], str(err), "value_error.image"))
    return decoded, problems


def parse_body(raw: bytes) -> RouteJob:
    """The request body checked and decoded, or Refused(422) naming every bad field and every bad image at once."""
    data = json_object(raw)
    problems: list[dict[str, Any]] = []
    body = None
    try:
        body = RouteBody.parse_obj(data)
    except ValidationError as err:
        problems = body_problems(err)
    request = data.get("request")
    for name in ("reference_image", "reference_mask"):
        if isinstance(request, dict) and request.get(name) is not None:
            problems.append(problem(["body", "request", name], REFERENCE_ONLY.format(name), "value_error.unused"))
    flagged = {tuple(found["loc"][1:3]) for found in problems}
    decoded, bad_images = _decode_all(data, flagged)
    problems += bad_images
    if problems or body is None:
        raise invalid(problems)
    maps = {kind: decoded[f"maps.{kind}"] for kind in body.maps or {}}
    return RouteJob(body.request, decoded["image"], decoded.get("mask"), maps, body.save_images, body.exact_matte)


def unused_notes(job: RouteJob, route: str) -> list[str]:
    """What ``route`` took but does not use (the body is the same for every POST route)."""
    notes = []
    if job.maps and route in ("segment", "restore"):
        notes.append("maps are used by /maps and /generate only")
    if job.save_images:
        notes.append(f"save_images is used by /generate only; /{route} saved nothing")
    if job.exact_matte:
        notes.append(f"exact_matte is used by /generate only; /{route} answers its own fields")
    return notes
