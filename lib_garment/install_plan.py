"""Decide what install.py must do: installed versions + the WebUI's pins in, a plan out. Pure; no pip here.

Rules (host-contract.md §2): never upgrade or downgrade a package the WebUI pins (it re-installs its pins
at every start, so changing one breaks the WebUI on every launch); install only what is missing; choose
versions whose own dependencies fit the pins; when everything is satisfied, do nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lib_garment.deps import (
    LAUNCHER_OWNED,
    REQUIREMENTS,
    WORKER_NEEDED_BELOW_DIFFUSERS,
    WORKER_NEEDED_BELOW_TRANSFORMERS,
    WORKER_PACKAGES,
    Requirement,
    normalize,
)

ActionKind = Literal["install", "worker", "conflict"]


@dataclass(frozen=True)
class Action:
    """One step: a pip install into the WebUI, a pip install into the worker folder, or a refusal."""

    kind: ActionKind
    packages: tuple[str, ...]
    message: str
    no_deps: bool = False  # pip --no-deps (Requirement.no_deps)


@dataclass
class InstallPlan:
    actions: list[Action] = field(default_factory=list)
    skipped: bool = False

    @property
    def pip_actions(self) -> list[Action]:
        return [a for a in self.actions if a.kind in ("install", "worker")]

    @property
    def conflicts(self) -> list[Action]:
        return [a for a in self.actions if a.kind == "conflict"]


def parse_pins(text: str) -> dict[str, str]:
    """Read ``name==version`` lines of a requirements_versions.txt; comments and unpinned names are ignored."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalize(name)] = version.strip()
    return pins


def _version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _satisfies(version: str | None, spec: str) -> bool:
    parsed = _version(version)
    return parsed is not None and SpecifierSet(spec).contains(parsed, prereleases=True)


def install_spec(req: Requirement, pins: Mapping[str, str]) -> str:
    """The specifier to ask pip for, narrowed by every limit whose pinned package the host holds back."""
    specs = [s for s in (req.install,) if s]
    for limit in req.limits:
        pinned = _version(pins.get(normalize(limit.pinned)))
        if pinned is not None and pinned < Version(limit.below):
            specs.append(limit.cap)
    return ",".join(specs)


def applies_here(req: Requirement) -> bool:
    """Does ``req`` apply to the running Python (its marker holds, or it has none)?"""
    return not req.marker or Marker(req.marker).evaluate()


def _plan_requirement(req: Requirement, installed: Mapping[str, str], pins: Mapping[str, str]) -> Action | None:
    if not applies_here(req):
        return None
    key = normalize(req.name)
    present = [n for n in (key, *map(normalize, req.alternatives)) if n in installed]
    if any(_satisfies(installed[n], req.accept) if req.accept else True for n in present):
        return None
    wanted = install_spec(req, pins)
    if key in pins or key in LAUNCHER_OWNED:
        return Action(
            "conflict",
            (f"{req.name}{wanted}",),
            f"{req.name} {installed.get(key, 'missing')} does not fit Garment Studio ({req.accept}), "
            f"but the WebUI pins it; leaving it unchanged. Needed for: {req.purpose}.",
        )
    if present:
        found = ", ".join(f"{n} {installed[n]}" for n in present)
        message = f"replacing {found} with {req.name}{wanted} ({req.purpose})"
    else:
        message = f"installing {req.name}{wanted} ({req.purpose})"
    return Action("install", (f"{req.name}{wanted}",), message, no_deps=req.no_deps)


def worker_needed(installed: Mapping[str, str]) -> bool:
    """True when the host's transformers lacks GroundingDINO / ViTMatte / Depth Anything, or the host has no
    diffusers new enough for DepthFM (AUTOMATIC1111 has none; Forge pins 0.31.0)."""
    transformers = _version(installed.get("transformers"))
    diffusers = _version(installed.get("diffusers"))
    return (
        transformers is None
        or transformers < Version(WORKER_NEEDED_BELOW_TRANSFORMERS)
        or diffusers is None
        or diffusers < Version(WORKER_NEEDED_BELOW_DIFFUSERS)
    )


def _plan_worker(installed: Mapping[str, str], worker_installed: Mapping[str, str]) -> Action | None:
    if not worker_needed(installed):
        return None
    missing = []
    for spec in WORKER_PACKAGES:
        name, version = spec.split("==")
        if worker_installed.get(normalize(name)) != version:
            missing.append(spec)
    if not missing:
        return None
    host = installed.get("transformers", "missing")
    return Action(
        "worker",
        tuple(missing),
        f"installing {', '.join(missing)} into the model worker's private folder "
        f"(the WebUI keeps transformers {host}; newer models run in a separate process)",
    )


def plan_install(
    installed: Mapping[str, str],
    pins: Mapping[str, str],
    *,
    worker_installed: Mapping[str, str] | None = None,
    requirements: tuple[Requirement, ...] = REQUIREMENTS,
    skip_install: bool = False,
) -> InstallPlan:
    """Compute the install actions. ``installed`` and ``pins`` map normalised names to versions."""
    installed = {normalize(k): v for k, v in installed.items()}
    pins = {normalize(k): v for k, v in pins.items()}
    if skip_install:
        return InstallPlan(skipped=True)
    actions = [a for r in requirements if (a := _plan_requirement(r, installed, pins)) is not None]
    worker = _plan_worker(installed, {normalize(k): v for k, v in (worker_installed or {}).items()})
    if worker is not None:
        actions.append(worker)
    return InstallPlan(actions=actions)


def pip_constraints(installed: Mapping[str, str], pins: Mapping[str, str]) -> list[str]:
    """Constraint lines that hold every pinned package (and torch) at the version now installed.

    Passed to pip with ``-c``, so even a transitive dependency cannot move a pinned package.
    """
    installed = {normalize(k): v for k, v in installed.items()}
    held = {normalize(k): installed.get(normalize(k), v) for k, v in pins.items()}
    for name in LAUNCHER_OWNED:
        if name in installed:
            held[name] = installed[name]
    return [f"{name}=={version}" for name, version in sorted(held.items())]
