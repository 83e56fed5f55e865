"""What this Python environment can do for Garment Studio: the facts behind ``doctor`` and the tab's status panel.

Collecting never raises for a missing package: a missing piece is a finding, not an error.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from lib_garment import __version__
from lib_garment.deps import REQUIREMENTS, WORKER_PACKAGES, normalize
from lib_garment.errors import ModelUnavailable
from lib_garment.install_plan import install_spec, plan_install, worker_needed
from lib_garment.installer import installed_distributions, pins_file, read_pins
from lib_garment.models.registry import MODELS, hf_hub_cache, install_path, locate, search_folders
from lib_garment.paths import find_webui_root, models_root, worker_packages_dir
from lib_garment.runtime.base import IN_PROCESS, WORKER
from lib_garment.runtime.selection import choose_runtime, current_policy

# Packages worth reporting: the WebUI's critical pins and everything the engine imports.
REPORTED_PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "pydantic",
    "gradio",
    "fastapi",
    "transformers",
    "diffusers",
    "tokenizers",
    "huggingface-hub",
    "protobuf",
    "httpx",
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "ultralytics",
    "segment-anything",
    "groundingdino-py",
    "mobilesam-mirror",
    "segment-anything-hq",
    "mediapipe",
)

# The package release each model family needs: the first transformers with its class (host-contract.md §2;
# design.md "Models"), and for DepthFM the diffusers with the LDM conversion its loader uses.
RUNTIME_MINIMUM = {
    "GroundingDINO (transformers)": ("transformers", "4.40"),
    "ViTMatte": ("transformers", "4.34"),
    "Depth Anything": ("transformers", "4.38"),
    "DepthFM": ("diffusers", "0.31"),
}
PACKAGE_FAMILIES = {
    "GroundingDINO (groundingdino-py)": "groundingdino",
    "SAM (segment-anything)": "segment_anything",
    "MobileSAM": "mobile_sam",
    "SAM-HQ": "segment_anything_hq",
    "YOLOv8 pose / face / hand": "ultralytics",
}


@dataclass
class ModelFileStatus:
    """One registry model as the report shows it: where it was found (None: not found) and where it would go."""

    name: str
    family: str
    default: bool
    path: Path | None
    searched: list[Path]
    target: Path  # where Garment Studio puts it (a file, or a Hugging Face style folder)


@dataclass
class EnvironmentReport:
    version: str
    python: str
    platform: str
    host: str
    webui_root: Path | None
    models_root: Path
    packages: dict[str, str | None]
    pending: list[str]
    pins_source: str
    conflicts: list[str]
    runtimes: dict[str, str]
    worker_folder: Path
    worker_packages: dict[str, str]
    models: list[ModelFileStatus]
    device: str
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


def detect_host(webui_root: Path | None) -> str:
    """'AUTOMATIC1111 <version>', 'Forge <version>' or 'standalone (no WebUI around this folder)'."""
    if webui_root is None:
        return "standalone (no WebUI around this folder)"
    name = "Forge" if (webui_root / "modules_forge").is_dir() else "AUTOMATIC1111"
    changelog = webui_root / "CHANGELOG.md"
    version = "unknown version"
    if changelog.is_file():
        for line in changelog.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("## "):
                version = line[3:].strip()
                break
    return f"{name} {version}"


def runtime_modes(installed: dict[str, str], worker: dict[str, str], worker_folder: Path) -> dict[str, str]:
    """How each model family would run: in the WebUI's process, in the model worker, or not at all.

    Asks the runtime's own decision (``choose_runtime``) so the report cannot drift from what a job does.
    """
    modes: dict[str, str] = {}
    for family, (package, minimum) in RUNTIME_MINIMUM.items():
        try:
            choice = choose_runtime(
                f"{package}>={minimum}",
                host=installed.get,
                worker=lambda name: worker.get(name) or installed.get(name),
                worker_folder=worker_folder,
                policy=current_policy(),
            )
        except (ModelUnavailable, ValueError) as err:
            modes[family] = f"unavailable: {err}"
            continue
        via = (worker.get(package) or installed.get(package)) if choice.mode == WORKER else installed.get(package)
        modes[family] = f"{choice.mode} ({package} {via})"
    for family, module in PACKAGE_FAMILIES.items():
        found = importlib.util.find_spec(module) is not None
        modes[family] = IN_PROCESS if found else f"unavailable: python package '{module}' is not installed"
    return modes


def detect_device() -> str:
    try:
        import torch
    except ImportError:
        return "unknown (torch is not installed)"
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        total = torch.cuda.get_device_properties(index).total_memory / 2**30
        return f"cuda:{index} {torch.cuda.get_device_name(index)} ({total:.1f} GiB)"
    return "cpu (no CUDA device visible)"


def _problems(packages: dict[str, str | None]) -> list[str]:
    problems = [
        f"required package '{name}' is not installed"
        for name in ("numpy", "pillow", "torch", "pydantic")
        if packages.get(name) is None
    ]
    if not any(packages.get(n) for n in ("opencv-python", "opencv-python-headless", "opencv-contrib-python")):
        problems.append("OpenCV is not installed (pip package opencv-python)")
    return problems


def collect(models_dir: str | Path | None = None, webui_dir: str | Path | None = None) -> EnvironmentReport:
    webui_root = Path(webui_dir).resolve() if webui_dir else find_webui_root()
    installed = installed_distributions()
    pins = read_pins(webui_root)
    folder = worker_packages_dir()
    worker = installed_distributions([str(folder)]) if folder.is_dir() else {}
    plan = plan_install(installed, pins, worker_installed=worker)
    root = models_root(models_dir, webui_root)
    hub = hf_hub_cache()  # Hugging Face style models already in its cache are reused, not downloaded again
    packages = {name: installed.get(normalize(name)) for name in REPORTED_PACKAGES}
    return EnvironmentReport(
        version=__version__,
        python=sys.version.split()[0],
        platform=platform.platform(),
        host=detect_host(webui_root),
        webui_root=webui_root,
        models_root=root,
        packages=packages,
        pending=[a.message for a in plan.actions if a.kind != "conflict"],
        pins_source=pins_file(webui_root) or "assumed AUTOMATIC1111 1.10.1 (no WebUI found around this folder)",
        conflicts=pin_conflicts(installed, pins, pins_are_real=pins_file(webui_root) is not None)
        + [a.message for a in plan.conflicts],
        runtimes=runtime_modes(installed, worker, folder),
        worker_folder=folder,
        worker_packages={k: v for k, v in worker.items() if k in _worker_names()},
        models=[
            ModelFileStatus(
                s.name,
                s.family,
                s.default,
                locate(s, root, hub_cache=hub),
                search_folders(s, root),
                install_path(s, root),
            )
            for s in MODELS
        ],
        device=detect_device(),
        problems=_problems(packages),
    )


def _worker_names() -> set[str]:
    return {normalize(spec.split("==")[0]) for spec in WORKER_PACKAGES}


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def pin_conflicts(installed: dict[str, str], pins: dict[str, str], *, pins_are_real: bool = True) -> list[str]:
    """Which WebUI pins stand in the way of which of our choices, and what we do about it."""
    notes = [
        f"{limit.pinned}=={pins[normalize(limit.pinned)]} (WebUI pin) rules out newer {req.name}: "
        f"{limit.reason}; using {req.name}{install_spec(req, pins)}"
        for req in REQUIREMENTS
        for limit in req.limits
        if limit.cap in install_spec(req, pins)
    ]
    if worker_needed(installed):
        notes.append(
            f"transformers=={installed.get('transformers', 'missing')} (WebUI pin) has no GroundingDINO, "
            "ViTMatte or Depth Anything; those run in the model worker with its own transformers"
        )
    for name, pinned in sorted(pins.items()) if pins_are_real else ():
        have = installed.get(name)
        if have and not _same_version(have, pinned):
            notes.append(f"{name} is {have} but the WebUI pins {pinned}; the WebUI will reinstall {pinned} at start")
    return notes
