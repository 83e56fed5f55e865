"""Carry out an install plan inside the WebUI's Python (called by install.py at every WebUI start).

Everything that decides lives in ``install_plan``; this module only gathers facts and runs pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from lib_garment.deps import A1111_1_10_1_PINS, normalize
from lib_garment.install_plan import Action, InstallPlan, parse_pins, pip_constraints, plan_install
from lib_garment.paths import find_webui_root, worker_packages_dir

PREFIX = "[Garment Studio]"
Runner = Callable[[Sequence[str]], int]


def installed_distributions(path: Sequence[str] | None = None) -> dict[str, str]:
    """Normalised name → version of every distribution on ``path`` (default: sys.path)."""
    found: dict[str, str] = {}
    search = list(path) if path is not None else sys.path
    for dist in metadata.distributions(path=search):
        name, version = name_and_version(dist)
        if name and version:
            found.setdefault(normalize(name), version)
    return found


def name_and_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """A distribution's Name and Version headers. ``dist.metadata`` runs the e-mail parser over the whole file,
    long descriptions included (about 1 ms a package, a third of a second for a WebUI's 170 packages, every
    time the status panel is built); the two headers come first, so they are read off the top."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line.strip():  # the headers end at the first blank line
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            return name, version
    return name or dist.metadata["Name"], version or dist.version


def pins_file(webui_root: Path | None) -> str | None:
    """The WebUI's requirements_versions.txt, when there is one."""
    if webui_root is not None and (webui_root / "requirements_versions.txt").is_file():
        return str(webui_root / "requirements_versions.txt")
    return None


def read_pins(webui_root: Path | None) -> dict[str, str]:
    """The running WebUI's own pins; the AUTOMATIC1111 1.10.1 list when its file cannot be found."""
    path = pins_file(webui_root)
    if path is None:
        return dict(A1111_1_10_1_PINS)
    return parse_pins(Path(path).read_text(encoding="utf-8", errors="replace"))


def skip_requested() -> bool:
    """True under the WebUI's --skip-install (read from ``launch`` when importable) or GARMENT_SKIP_INSTALL."""
    if os.environ.get("GARMENT_SKIP_INSTALL", "").lower() in ("1", "true", "yes"):
        return True
    if "--skip-install" in os.environ.get("COMMANDLINE_ARGS", "").split():
        return True
    try:
        import launch  # the WebUI's launcher module, importable while install.py runs
    except Exception:  # noqa: BLE001 - any failure means "not inside the WebUI launcher"
        return False
    return bool(getattr(getattr(launch, "args", None), "skip_install", False))


def _subprocess_runner(command: Sequence[str]) -> int:
    return subprocess.run(list(command), check=False).returncode


def _pip_base() -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--prefer-binary", "--disable-pip-version-check"]
    index_url = os.environ.get("INDEX_URL", "")
    if index_url:
        command += ["--index-url", index_url]
    return command


def _run_install(action: Action, constraints: list[str], runner: Runner) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(constraints) + "\n")
        constraints_file = handle.name
    try:
        no_deps = ["--no-deps"] if action.no_deps else []
        return runner([*_pip_base(), *no_deps, *action.packages, "-c", constraints_file])
    finally:
        Path(constraints_file).unlink(missing_ok=True)


def _run_worker(action: Action, folder: Path, runner: Runner) -> int:
    # Install next to the final folder and swap it in whole, so a failed or interrupted install never
    # leaves a half-filled folder that the worker would then import from.
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    code = runner([*_pip_base(), "--no-deps", "--target", str(partial), *action.packages])
    if code != 0:
        shutil.rmtree(partial, ignore_errors=True)
        return code
    if folder.exists():
        for item in folder.iterdir():  # keep packages the plan did not replace
            if not (partial / item.name).exists():
                shutil.move(str(item), partial / item.name)
        shutil.rmtree(folder)
    partial.rename(folder)
    return 0


def execute(
    plan: InstallPlan,
    installed: Mapping[str, str],
    pins: Mapping[str, str],
    *,
    worker_folder: Path,
    runner: Runner = _subprocess_runner,
    log: Callable[[str], None] = print,
) -> int:
    """Run the plan's pip calls; returns the number of failed actions. Logs one line per action."""
    if plan.skipped:
        log(f"{PREFIX} --skip-install: not checking or installing packages")
        return 0
    failures = 0
    constraints = pip_constraints(installed, pins)
    for action in plan.actions:
        log(f"{PREFIX} {action.message}")
        if action.kind == "conflict":
            continue
        if action.kind == "worker":
            code = _run_worker(action, worker_folder, runner)
        else:
            code = _run_install(action, constraints, runner)
        if code != 0:
            failures += 1
            log(f"{PREFIX} FAILED ({code}): {' '.join(action.packages)}; the WebUI's own packages were not changed")
    return failures


def main() -> int:
    webui_root = find_webui_root()
    installed = installed_distributions()
    pins = read_pins(webui_root)
    folder = worker_packages_dir()
    worker_installed = installed_distributions([str(folder)]) if folder.is_dir() else {}
    plan = plan_install(installed, pins, worker_installed=worker_installed, skip_install=skip_requested())
    failures = execute(plan, installed, pins, worker_folder=folder)
    return 1 if failures else 0
