"""The one up-front check of a job, before any Garment Studio model runs; what it finds is passed down.

Every entry point (always-on script, img2img script, tab, REST) calls one of :func:`check_generation`,
:func:`check_restoring` (a finished image restored) or :func:`check_preview` once per job. Bad restore options
are BadInput naming the field; so are the output options (``lib_garment.presets.deliver.check_delivery``: an
unknown preset, with the valid names; a shadow the preset forbids; ...). Units or a restore crop unit asked for
without ControlNet, or without a ControlNet model of their kind, are ControlNetMissing / ModelUnavailable naming
what to install. A plain background (``output.background``) keeps nothing generated, so its job has no units
and needs no ControlNet. The :class:`JobChecks` it returns carries the resolved ControlNet bridges and the
loaded presets to the later steps (the plan's units, the restore job, the delivery after the composite), which
use them instead of checking or loading again; on the WebUI's own processing object it rides as
:data:`CHECKS_ATTR` from ``before_process`` to the hooks after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib_garment.errors import GarmentError
from lib_garment.generate.tasks import control_units
from lib_garment.host.webui.controlnet import INSTALL_HINT, ControlNetBridge, ControlNetMissing, find_cn_script
from lib_garment.host.webui.controlnet import find_controlnet as find_controlnet_bridge
from lib_garment.host.webui.settings import current_settings
from lib_garment.presets.deliver import check_delivery, plain_background
from lib_garment.presets.load import PresetSet
from lib_garment.request import GarmentRequest, RestoreOptions
from lib_garment.restore.options import check_options

CHECKS_ATTR = "_garment_studio_checks"  # a job's JobChecks on the processing object that runs it


@dataclass(frozen=True)
class JobChecks:
    """What a job's up-front check found.

    ``controlnet``: the bridge for the request's units (None: no units asked for, or ControlNet absent and the
    request allows going without); ``units``: whether the plan may have units (maps are made only then);
    ``restore``: the restore options were checked (a restore job may be made); ``restore_controlnet`` and
    ``restore_control_model``: the bridge and resolved model title for ``restore.controlnet``'s crop unit (None:
    no crop unit); ``presets``: the presets loaded for the request's ``preset`` (None: no preset named)."""

    controlnet: ControlNetBridge | None = None
    units: bool = True
    restore: bool = False
    restore_controlnet: ControlNetBridge | None = None
    restore_control_model: str | None = None
    presets: PresetSet | None = None


def check_output(request: GarmentRequest) -> PresetSet | None:
    """The output options (preset, background, shadow), the presets read from the Settings page's models folder
    (``<models>/garment_studio/presets``, beside the shipped ones); BadInput under ``request`` otherwise."""
    if request.preset is None and request.output.background is None and request.output.shadow is None:
        return None  # nothing to check: no preset file is read
    return check_delivery(request, models_dir=current_settings().models_root())


def check_controlnet(runner: Any, request: GarmentRequest) -> ControlNetBridge | None:
    """The bridge for the units of a generation run by ``runner`` (``p.scripts``), every unit's model resolved.

    None when no unit is asked for, or when ControlNet is absent and the request allows running without it;
    otherwise ControlNetMissing / ModelUnavailable naming what to install."""
    wanted = [(unit.kind, unit.model) for unit in control_units(request)]
    if not wanted:
        return None
    bridge = find_controlnet_bridge()
    if bridge is None or find_cn_script(runner) is None:
        if request.allow_without_controlnet:
            return None
        raise ControlNetMissing(f"Garment Studio's units need ControlNet: {INSTALL_HINT}")
    bridge.resolve(wanted)
    return bridge


def check_restore(options: RestoreOptions, runner: Any) -> tuple[ControlNetBridge | None, str | None]:
    """Every restore option checked; the crop unit's ControlNet bridge and model title, or (None, None) when no
    unit is asked for. ``runner``: the script runner the nested passes copy."""
    check_options(options)
    unit = options.controlnet
    if unit is None:
        return None, None
    bridge = find_controlnet_bridge()
    if bridge is None or find_cn_script(runner) is None:
        raise ControlNetMissing(f"restore.controlnet ({unit.kind}) needs ControlNet: {INSTALL_HINT}")
    (title,) = bridge.resolve([(unit.kind, unit.model)])
    return bridge, title


def check_generation(request: GarmentRequest, runner: Any) -> JobChecks:
    """A generation job's check: its restore options (when it restores) and its output options first, they are
    the cheaper mistakes to make, then ControlNet for its units. With a plain background nothing generated is
    kept: no units (so no ControlNet and no maps), and restoring is refused by the output check."""
    restoring = request.restore.enabled
    restore_bridge, restore_model = check_restore(request.restore, runner) if restoring else (None, None)
    presets = check_output(request)
    if plain_background(request):
        return JobChecks(units=False, presets=presets)
    bridge = check_controlnet(runner, request)
    units = bridge is not None or not control_units(request)
    return JobChecks(bridge, units, restoring, restore_bridge, restore_model, presets)


def check_restoring(request: GarmentRequest, runner: Any) -> JobChecks:
    """A restore-only job's check (a finished image restored: no units of its own)."""
    bridge, model = check_restore(request.restore, runner)
    return JobChecks(units=False, restore=True, restore_controlnet=bridge, restore_control_model=model)


def check_preview(request: GarmentRequest, runner: Any) -> JobChecks:
    """A preview's check: nothing is generated, so ControlNet is not needed (every map is made and shown), but
    bad restore and output options are said now rather than at Generate."""
    restoring = request.restore.enabled
    bridge, model = check_restore(request.restore, runner) if restoring else (None, None)
    presets = check_output(request)
    return JobChecks(
        units=True, restore=restoring, restore_controlnet=bridge, restore_control_model=model, presets=presets
    )


def checks_of(p: Any) -> JobChecks:
    """The job's checks riding on ``p`` (or a stand-in parent); a job that skipped its check is a bug."""
    checks = getattr(p, CHECKS_ATTR, None)
    if not isinstance(checks, JobChecks):
        raise GarmentError("internal error: a Garment Studio job reached its passes without its up-front check")
    return checks
