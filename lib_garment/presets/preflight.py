"""A request's marketplace fields checked up front, before any model runs or any file is written.

    preset = check_preset_request(request, load_presets(models_dir))   # None when request.preset is None
    if not needs_generation(request): ...                                # a plain background: no diffusion

Refused (BadInput, its ``loc`` the field): a preset that does not exist (the valid names listed), a shadow the
preset forbids, and ``output.background`` or a shadow without a preset (they only mean something for one).
The colour's own shape is the request's check (``output.background`` is "white" or "#RRGGBB").
"""

from __future__ import annotations

from collections.abc import Callable

from lib_garment.errors import BadInput
from lib_garment.presets.finish import refuse_forbidden_shadow, shadow_spec
from lib_garment.presets.load import PresetSet
from lib_garment.presets.schema import Preset
from lib_garment.request import GarmentRequest


def _as_named(path: str) -> str:
    return path


def check_preset_request(
    request: GarmentRequest, presets: PresetSet, where: Callable[[str], str] = _as_named
) -> Preset | None:
    """The request's preset, after every check that needs no image; None when the request names none.
    ``where`` turns a field's dotted path into what the reader typed (a flag, a file's field) for messages."""
    shadow = shadow_spec(request.output.shadow)
    if request.preset is None:
        if request.output.background is not None:
            raise BadInput(
                f"{where('output.background')}: a plain background is for a marketplace preset; name the preset "
                f"too (valid names: {_names(presets)})",
                loc=("output", "background"),
            )
        if shadow.kind != "none":
            raise BadInput(
                f"{where('output.shadow')}: a shadow is for a marketplace preset; name the preset too (valid names: "
                f"{_names(presets)})",
                loc=("output", "shadow"),
            )
        return None
    preset = presets.get(request.preset, where("preset"))
    try:
        refuse_forbidden_shadow(preset, shadow)
    except BadInput as err:
        message = str(err).removeprefix("output.shadow: ")
        raise BadInput(f"{where('output.shadow')}: {message}", loc=("output", "shadow")) from None
    return preset


def needs_generation(request: GarmentRequest) -> bool:
    """False when the result is the product on a plain colour (a preset and ``output.background``): the photo's
    own pixels are framed, so nothing is generated and no WebUI is needed. True otherwise."""
    return request.preset is None or request.output.background is None


def _names(presets: PresetSet) -> str:
    return ", ".join(presets.names) or "none: no preset files are installed"
