"""Which runtime runs a model family: decided from installed package metadata, never by importing them.

``get_runtime("transformers>=4.40")`` gives the in-process runtime when the WebUI's own packages satisfy the
requirement (Forge: transformers 4.46.1), else the shared model worker when its private folder does
(AUTOMATIC1111 1.10.1: transformers 4.30.2 here, 4.46.3 in ``.worker_packages``), else ModelUnavailable
saying what is missing and what to do. ``GARMENT_MODEL_RUNTIME`` overrides the choice: ``worker`` runs
every family in the worker (crash isolation, all VRAM back when it stops), ``in-process`` never starts it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from lib_garment.deps import WORKER_PACKAGES, normalize
from lib_garment.errors import ModelUnavailable
from lib_garment.paths import worker_packages_dir
from lib_garment.runtime.base import IN_PROCESS, WORKER, Mode, ModelRuntime
from lib_garment.runtime.in_process import InProcessRuntime
from lib_garment.runtime.worker import WorkerRuntime
from lib_garment.runtime.worker_main import IN_WORKER_ENV

POLICY_ENV = "GARMENT_MODEL_RUNTIME"
Policy = Literal["auto", "in-process", "worker"]
POLICIES: tuple[Policy, ...] = ("auto", "in-process", "worker")
VersionLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class RuntimeChoice:
    mode: Mode
    reason: str


def _parse(requirements: str | Iterable[str] | None) -> list[Requirement]:
    items = [requirements] if isinstance(requirements, str) else list(requirements or ())
    try:
        return [Requirement(item) for item in items]
    except InvalidRequirement as exc:
        raise ValueError(f"not a package requirement: {exc}") from exc


def _unmet(requirements: list[Requirement], lookup: VersionLookup) -> list[str]:
    """What ``lookup`` has for each requirement it does not satisfy ("transformers 4.30.2", "no ultralytics")."""
    unmet = []
    for req in requirements:
        found = lookup(normalize(req.name))
        try:
            ok = found is not None and req.specifier.contains(Version(found), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            unmet.append(f"{req.name} {found}" if found is not None else f"no {req.name}")
    return unmet


def choose_runtime(
    requirements: str | Iterable[str] | None,
    *,
    host: VersionLookup,
    worker: VersionLookup,
    worker_folder: Path,
    policy: Policy = "auto",
    in_worker: bool = False,
) -> RuntimeChoice:
    """Pure decision. ``host``/``worker`` map a normalised package name to the version each process would
    import (None: absent); the worker's view is its folder first, then the host's site-packages.
    """
    if policy not in POLICIES:
        raise ValueError(f"{POLICY_ENV} must be one of {', '.join(POLICIES)}, got {policy!r}")
    reqs = _parse(requirements)
    wanted = ", ".join(map(str, reqs)) or "nothing"
    host_unmet = _unmet(reqs, host)
    if in_worker or policy == "in-process":
        if not host_unmet:
            return RuntimeChoice(IN_PROCESS, f"this process has {wanted}")
        if in_worker:
            where, advice = "inside the model worker", _advice(worker_folder)
        else:
            where, advice = f"with {POLICY_ENV}=in-process", f"Unset {POLICY_ENV} so the model worker can run it."
        raise ModelUnavailable(f"needs {wanted} {where}, but this process has {', '.join(host_unmet)}. {advice}")
    if policy == "auto" and not host_unmet:
        return RuntimeChoice(IN_PROCESS, f"the WebUI's packages satisfy {wanted}")
    worker_unmet = _unmet(reqs, worker)
    if not worker_unmet:
        why = "forced by " + POLICY_ENV if policy == "worker" else f"the WebUI has {', '.join(host_unmet)}"
        return RuntimeChoice(WORKER, f"the model worker satisfies {wanted} ({why})")
    host_part = f"the WebUI has {', '.join(host_unmet)}" if host_unmet else f"{POLICY_ENV}=worker is set"
    worker_part = "is not installed" if not worker_folder.is_dir() else f"gives {', '.join(worker_unmet)}"
    raise ModelUnavailable(
        f"needs {wanted}, but {host_part} and the model worker's package folder {worker_folder} "
        f"{worker_part}. {_advice(worker_folder)}"
    )


def _advice(worker_folder: Path) -> str:
    return (
        "Restart the WebUI (a full restart, not Reload UI) so Garment Studio's install.py can install what is "
        "missing — it puts " + ", ".join(WORKER_PACKAGES) + f" into {worker_folder} without touching the "
        "WebUI's own packages — or run `python install.py` in the extension folder with the WebUI's Python "
        "(needed once if the WebUI starts with --skip-install)."
    )


# -- version lookups from metadata ------------------------------------------------------------------------


def host_version(name: str) -> str | None:
    """The version this process would use: an already imported module's own, else installed metadata."""
    module = sys.modules.get(normalize(name).replace("-", "_"))
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def folder_version(name: str, folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    for dist in metadata.distributions(name=name, path=[str(folder)]):
        return dist.version
    return None


def worker_version(name: str, folder: Path) -> str | None:
    """The version the worker would import: its folder first, then the host's installed metadata."""
    found = folder_version(name, folder)
    if found is not None:
        return found
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# -- the shared runtimes ----------------------------------------------------------------------------------


@dataclass
class _Shared:
    in_process: InProcessRuntime | None = None
    worker: WorkerRuntime | None = None


_shared = _Shared()
_lock = threading.Lock()


def in_process_runtime() -> InProcessRuntime:
    with _lock:
        if _shared.in_process is None:
            _shared.in_process = InProcessRuntime()
        return _shared.in_process


def shared_worker() -> WorkerRuntime:
    """The one model worker every family shares (one process, one set of resident models)."""
    with _lock:
        if _shared.worker is None:
            _shared.worker = WorkerRuntime(worker_packages_dir())
        return _shared.worker


def current_policy() -> Policy:
    value = os.environ.get(POLICY_ENV, "auto").strip().lower() or "auto"
    if value not in POLICIES:
        raise ValueError(f"{POLICY_ENV} must be one of {', '.join(POLICIES)}, got {value!r}")
    return value  # type: ignore[return-value]


def get_runtime(requirement: str | Iterable[str] | None = None, *, policy: Policy | None = None) -> ModelRuntime:
    """The runtime that can run functions needing ``requirement`` (e.g. ``"transformers>=4.40"``).

    Raises ModelUnavailable when neither this process nor the model worker can. Nothing is imported or
    started here: the worker starts on its first call.
    """
    folder = worker_packages_dir()
    choice = choose_runtime(
        requirement,
        host=host_version,
        worker=lambda name: worker_version(name, folder),
        worker_folder=folder,
        policy=policy or current_policy(),
        in_worker=os.environ.get(IN_WORKER_ENV) == "1",
    )
    return in_process_runtime() if choice.mode == IN_PROCESS else shared_worker()


def existing_runtimes() -> list[ModelRuntime]:
    with _lock:
        return [r for r in (_shared.in_process, _shared.worker) if r is not None]


def unload_all() -> int:
    """Drop every resident model in every runtime (starts nothing); returns how many were dropped."""
    return sum(runtime.unload() for runtime in existing_runtimes())


def offload_all() -> int:
    """Move every resident torch model to the CPU, in every runtime; returns how many moved."""
    return sum(runtime.offload() for runtime in existing_runtimes())


def close_all() -> None:
    """Stop the worker and drop in-process models (e.g. when the WebUI unloads the extension)."""
    for runtime in existing_runtimes():
        runtime.close()
