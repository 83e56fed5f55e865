"""What Garment Studio writes into the WebUI's infotext (the parameters saved with each image) and reads back.

The keys are shared by the always-on script, the img2img script, the tab's saved results and the restore pass;
:func:`request_infotext` is what pasting an infotext back restores (the section's settings).
"""

from __future__ import annotations

import json

from lib_garment.presets.deliver import Delivered
from lib_garment.request import GarmentRequest

INFOTEXT_KEY = "Garment Studio"  # the request, as compact JSON
KEPT_KEY = "Garment Studio kept"  # the kept-pixel check
ERROR_KEY = "Garment Studio error"  # why a job did not run
RESTORE_KEY = "Garment Studio restore"  # the restore pass's line
COMPLIANCE_KEY = "Garment Studio compliance"  # a preset's check: "amazon-main pass (7/7)"
BACKGROUND_KEY = "Garment Studio background"  # a plain background: "plain #FFFFFF, no shadow"
EXCLUDED_FROM_INFOTEXT = {"reference_image", "reference_mask"}  # images: too big for a parameter line
OUR_KEYS = (INFOTEXT_KEY, KEPT_KEY, ERROR_KEY, RESTORE_KEY, COMPLIANCE_KEY, BACKGROUND_KEY)


def forget_params(params: dict[str, object]) -> None:
    """Drop what an earlier job wrote: the img2img Batch tab reuses one processing object, so without this the
    next image's file would carry the previous one's error, check or compliance line."""
    for key in OUR_KEYS:
        params.pop(key, None)


def request_infotext(request: GarmentRequest) -> str:
    """The request's non-default fields as compact JSON: what pasting the infotext back restores."""
    data = request.dict(exclude_defaults=True, exclude=EXCLUDED_FROM_INFOTEXT)
    data = {key: value for key, value in data.items() if value != {}}  # untouched option groups
    data["task"] = request.task
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def quoted(value: str) -> str:
    """An infotext value as the WebUI writes it (quoted when it holds a comma, colon or quote)."""
    try:
        from modules import infotext_utils
    except ImportError:
        return value
    return infotext_utils.quote(value)


def with_params(base: str, extra: dict[str, str]) -> str:
    """``base`` (the WebUI's infotext of a generation) with ``extra`` appended to its parameter line."""
    pairs = ", ".join(f"{key}: {quoted(value)}" for key, value in extra.items())
    return f"{base}, {pairs}" if base else pairs


def delivery_params(delivered: Delivered | None, caveat: str | None = None) -> dict[str, str]:
    """The infotext lines of a delivered result: its preset's check (with ``caveat`` after it) and its plain
    background; none for a result that was not delivered (no preset, no background)."""
    if delivered is None:
        return {}
    params = {}
    line = delivered.compliance_line()
    if line is not None:
        params[COMPLIANCE_KEY] = line + (f" ({caveat})" if caveat else "")
    background = delivered.background_line()
    if background is not None:
        params[BACKGROUND_KEY] = background
    return params
