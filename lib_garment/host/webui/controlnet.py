"""The ControlNet bridge: sd-webui-controlnet ≥ 1.1.448 (pydantic units), older releases (dataclass units) and
Forge's built-in ``lib_controlnet``, behind one interface (host-contract.md §5, §5b).

Units go into ControlNet's slice of ``p.script_args`` in ``before_process`` (ControlNet reads them in
``process``). They are **merged** with the units the user or a REST caller set: enabled units stay where they
are, ours take the disabled slots, and the slice never grows past ControlNet's slot count (overfilling would
shift every later script's arguments). Maps are precomputed, full-size and go in with module "none" (Forge:
"None"); model titles are resolved from the running host's list, so Forge's exact spellings are met.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules import extensions, shared

from lib_garment.errors import GarmentError, ModelUnavailable
from lib_garment.generate.controlnet_models import Base, resolve_model
from lib_garment.generate.controlnet_units import NONE_MODULE, Flavour, resize_mode_for, unit_fields
from lib_garment.generate.plan import UnitPlan

INSTALL_HINT = (
    "install sd-webui-controlnet (Extensions > Available) and a ControlNet model per map kind, or allow "
    "generating without ControlNet (allow_without_controlnet)"
)


class ControlNetMissing(ModelUnavailable):
    """sd-webui-controlnet is not installed (and the request did not allow running without it)."""


@dataclass(frozen=True)
class Injected:
    """What the bridge did: our units' slots and titles, and how many of the caller's units it kept."""

    slots: tuple[int, ...]
    models: tuple[str, ...]
    kept_user_units: int
    notes: tuple[str, ...] = ()  # the caller's slot values this flavour could not read (left as they were)

    def describe(self) -> str:
        return ", ".join(f"{slot}: {model}" for slot, model in zip(self.slots, self.models, strict=True))


@dataclass(frozen=True)
class Unreadable:
    """A caller's slot value this ControlNet's unit class refuses (e.g. module "None" on sd-webui-controlnet):
    it stays in its slot untouched, ControlNet reports it in its own way, and an enabled one keeps its slot."""

    value: Any
    enabled: bool
    problem: str


def _is_controlnet(script: Any) -> bool:
    try:
        return script.title().lower() == "controlnet"
    except Exception:  # noqa: BLE001 - another extension's broken title() is not our error
        return False


def find_cn_script(runner: Any) -> Any | None:
    """ControlNet's always-on script in ``runner``, or None."""
    for script in getattr(runner, "alwayson_scripts", None) or ():
        if _is_controlnet(script):
            return script
    return None


class ControlNetBridge:
    """One ControlNet flavour. Subclasses say how units are made, read and listed."""

    flavour: Flavour

    @property
    def none_module(self) -> str:
        return NONE_MODULE[self.flavour]

    def __init__(self, external_code: Any) -> None:
        self.ec = external_code

    # -- what the host has ---------------------------------------------------------------------------------
    def model_titles(self) -> list[str]:
        raise NotImplementedError

    def base(self) -> Base:
        return "sdxl" if getattr(shared.sd_model, "is_sdxl", False) else "sd15"

    def resolve(self, units: Sequence[tuple[str, str | None]]) -> list[str]:
        """Every (kind, wanted model) unit's model title, or ModelUnavailable naming each kind that has none."""
        titles, base = self.model_titles(), self.base()
        found, problems = [], []
        for kind, wanted in units:
            try:
                found.append(resolve_model(kind, titles, base, wanted))
            except ModelUnavailable as err:  # noqa: PERF203 - every missing kind is named at once
                problems.append(str(err))
        if problems:
            raise ModelUnavailable("; ".join(dict.fromkeys(problems)))
        return found

    # -- units ---------------------------------------------------------------------------------------------
    def to_unit(self, value: Any) -> Any:
        """A caller's slot value (unit object or dict) as a unit object of this flavour."""
        raise NotImplementedError

    def make_unit(self, unit: UnitPlan, model: str, resize_mode: str) -> Any:
        fields = unit_fields(unit, model, self.flavour, resize_mode)
        fields["image"] = self._image(unit)
        fields["resize_mode"] = self.ec.ResizeMode(fields["resize_mode"])
        fields["control_mode"] = self.ec.ControlMode(fields["control_mode"])
        return self._unit_class()(**fields)

    def disabled_unit(self) -> Any:
        return self._unit_class()(enabled=False, module=self.none_module, model="None")

    def _unit_class(self) -> Any:
        return self.ec.ControlNetUnit

    def _image(self, unit: UnitPlan) -> Any:
        return {"image": unit.image, "mask": None}

    # -- into a processing object ----------------------------------------------------------------------------
    def inject(self, p: Any, units: Sequence[UnitPlan], resize_mode: int = 0) -> Injected:
        """Put ``units`` into ``p``'s ControlNet slots, keeping the caller's enabled units."""
        if not units:
            return Injected((), (), 0)
        script = find_cn_script(p.scripts)
        if script is None:
            raise ControlNetMissing(f"ControlNet is not among this generation's scripts; {INSTALL_HINT}")
        models = self.resolve([(unit.kind, unit.model) for unit in units])
        args = list(p.script_args)
        if len(args) < script.args_to:
            args.extend([None] * (script.args_to - len(args)))
        current = [self._slot_unit(value) for value in args[script.args_from : script.args_to]]
        free = [i for i, unit in enumerate(current) if not getattr(unit, "enabled", False)]
        kept = len(current) - len(free)
        notes = tuple(
            f"ControlNet unit {i} as sent could not be read ({unit.problem}); left as it is"
            + ("" if unit.enabled else " (disabled)")
            for i, unit in enumerate(current)
            if isinstance(unit, Unreadable)
        )
        if len(free) < len(units):
            raise GarmentError(
                f"ControlNet has {len(current)} unit slots and {kept} are in use; Garment Studio needs "
                f"{len(units)} more. Raise 'Multi-ControlNet: ControlNet unit number' (Settings > ControlNet) "
                "and reload the UI, or use fewer units"
            )
        mode = resize_mode_for(resize_mode)
        for slot, unit, model in zip(free[: len(units)], units, models, strict=True):
            current[slot] = self.make_unit(unit, model, mode)
        args[script.args_from : script.args_to] = [u.value if isinstance(u, Unreadable) else u for u in current]
        p.script_args = tuple(args) if isinstance(p.script_args, tuple) else args
        return Injected(tuple(free[: len(units)]), tuple(models), kept, notes)

    def _slot_unit(self, value: Any) -> Any:
        """The slot's unit, or Unreadable when the caller's value does not convert (never our error: the caller
        keeps the slot, enabled or not as the value says)."""
        if value is None:
            return self.disabled_unit()
        try:
            return self.to_unit(value)
        except Exception as err:  # noqa: BLE001 - each flavour refuses in its own way (ValueError, TypeError…)
            enabled = value.get("enabled", self._default_enabled()) if isinstance(value, dict) else True
            return Unreadable(value, bool(enabled), f"{type(err).__name__}: {' '.join(str(err).split())}")

    def _default_enabled(self) -> bool:
        """A unit's ``enabled`` when the caller leaves it out (False from sd-webui-controlnet 1.1.448 on, True
        before and on Forge); True when the class cannot say, so a caller's unit is never overwritten."""
        try:
            return bool(self._unit_class()().enabled)
        except Exception:  # noqa: BLE001 - a unit class that needs arguments: assume the unit is meant
            return True


class MikubillBridge(ControlNetBridge):
    """sd-webui-controlnet (pydantic unit from 1.1.448, dataclass unit before)."""

    flavour = "sd-webui-controlnet"

    def model_titles(self) -> list[str]:
        return list(self.ec.get_models())

    def to_unit(self, value: Any) -> Any:
        unit_class = self.ec.ControlNetUnit
        if isinstance(value, unit_class):
            return value
        if isinstance(value, dict):
            return unit_class.from_dict(value)
        return value  # an object of another copy of the class: ControlNet converts it itself

    def disabled_unit(self) -> Any:
        return self.ec.ControlNetUnit(enabled=False)


class ForgeBridge(ControlNetBridge):
    """Forge's built-in ControlNet: dataclass unit, module "None", ndarray images, no update helpers."""

    flavour = "forge"

    def __init__(self, external_code: Any, global_state: Any) -> None:
        super().__init__(external_code)
        self.global_state = global_state

    def model_titles(self) -> list[str]:
        return list(self.global_state.get_all_controlnet_names())

    def to_unit(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.ec.ControlNetUnit.from_dict(value)
        return value

    def _image(self, unit: UnitPlan) -> Any:
        return unit.image  # Forge compares the image with an int: an array, never a dict


def _mikubill_module() -> Any | None:
    for ext in extensions.active():
        if "sd-webui-controlnet" not in ext.name:
            continue
        folder = Path(ext.path)
        try:
            return importlib.import_module(f"{folder.parent.name}.{folder.name}.scripts.external_code")
        except ImportError:
            continue
    return None


def find_controlnet() -> ControlNetBridge | None:
    """The installed ControlNet's bridge, or None when there is none."""
    module = _mikubill_module()
    if module is not None:
        return MikubillBridge(module)
    try:
        from lib_controlnet import external_code, global_state  # Forge keeps extension folders on sys.path
    except ImportError:
        return None
    return ForgeBridge(external_code, global_state)
