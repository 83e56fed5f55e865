"""A segmentation request → its three backends, and one image segmented with them.

:func:`build_backends` decides, for a request's ``segment`` options, which models run and where:

1. the runtime of each family (:func:`lib_garment.runtime.get_runtime`: in-process where this process's
   packages suffice, else the model worker; ``GARMENT_MODEL_RUNTIME`` or ``ModelChoice.runtime_policy``
   override) and whether its package is installed — cheap checks, before anything is downloaded;
2. the model files through the registry (``ensure_model``: reuse a verified copy, else download with
   ``progress``, or ModelUnavailable naming the file and the folder when offline).

GroundingDINO and SAM are needed only when segmenting by text (not from a coarse mask); a missing one is an
error. ViTMatte is needed only for ``matte="vitmatte"``; when it cannot run (no model file, no runtime), the
backends carry no matte model and a note, and the pipeline uses the classic matte and says so.

Backends are cached per request shape (detector, SAM, matte, models folder, device, offline, runtime policy):
asking again for the next image returns the same objects, whose models stay resident in their process
(``cached_model``); nothing is reloaded per image. :func:`clear_backends` forgets them (models stay resident
until the runtime unloads them).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.imageio import DEFAULT_LIMITS, ImageLimits
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.registry import ModelSpec, get_spec
from lib_garment.models.weights import TrustedFile, registry_file, user_file
from lib_garment.request import SegmentOptions
from lib_garment.runtime import ModelRuntime, get_runtime
from lib_garment.runtime.selection import Policy
from lib_garment.segment.backends import grounding_dino_hf, grounding_dino_py, vitmatte
from lib_garment.segment.backends.base import CallStats, RuntimeBackend
from lib_garment.segment.backends.grounding_dino_hf import GroundingDinoHF
from lib_garment.segment.backends.grounding_dino_py import GroundingDinoPy, GroundingDinoPyFiles, package_config
from lib_garment.segment.backends.sam import SamSegmenter
from lib_garment.segment.backends.vitmatte import VitMatte
from lib_garment.segment.pipeline import Segmentation, segment, settings_from_options

DetectorKind = Literal["groundingdino-py", "transformers"]
SamKind = Literal["vit_b", "vit_l", "vit_h", "vit_h_hq", "mobile"]
DETECTOR_KINDS: tuple[DetectorKind, ...] = ("groundingdino-py", "transformers")
SAM_KINDS: tuple[SamKind, ...] = ("vit_b", "vit_l", "vit_h", "vit_h_hq", "mobile")

# Registry names (lib_garment.models.registry) of the files each choice loads.
GROUNDINGDINO_PY_MODEL = "groundingdino_swint_ogc"
BERT_MODEL = "bert-base-uncased"
GROUNDINGDINO_HF_MODEL = "grounding-dino-tiny"
SAM_MODELS: dict[SamKind, str] = {
    "vit_b": "sam_vit_b",
    "vit_l": "sam_vit_l",
    "vit_h": "sam_vit_h",
    "vit_h_hq": "sam_hq_vit_h",
    "mobile": "mobile_sam",
}
# The Python package (and its pip name) each SAM choice is built with; plain SAM is the fallback.
SAM_PACKAGES: dict[str, tuple[str, str]] = {
    "mobile": ("mobile_sam", "MobileSAM (mobilesam-mirror)"),
    "vit_h_hq": ("segment_anything_hq", "SAM-HQ (segment-anything-hq)"),
}
VITMATTE_MODEL = "vitmatte-small-composition-1k"


@dataclass(frozen=True)
class ModelChoice:
    """Which models, beyond what the request says. ``sam_file``: a user's SAM checkpoint of any name (used
    when it is byte for byte a registry file, or when unverified files are trusted). ``groundingdino_config``:
    an SLConfig file (None: the package's ``GroundingDINO_SwinT_OGC.py``). ``specs``: registry entries
    replaced by name (other mirrors; tests' tiny models)."""

    detector: DetectorKind = "groundingdino-py"
    sam: SamKind = "vit_b"
    sam_file: Path | None = None
    groundingdino_config: Path | None = None
    trust_unverified: bool | None = None
    runtime_policy: Policy | None = None
    specs: tuple[ModelSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.detector not in DETECTOR_KINDS:
            raise BadInput(f"detector must be one of {', '.join(DETECTOR_KINDS)}, got {self.detector!r}")
        if self.sam not in SAM_KINDS:
            raise BadInput(f"sam must be one of {', '.join(SAM_KINDS)}, got {self.sam!r}")

    def spec(self, name: str) -> ModelSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        return get_spec(name)


@dataclass
class Backends:
    """The models one request uses (None: not needed, or the matte unavailable — see ``notes``)."""

    detector: GroundingDinoPy | GroundingDinoHF | None
    segmenter: SamSegmenter | None
    matte: VitMatte | None
    notes: tuple[str, ...] = ()

    def named(self) -> dict[str, RuntimeBackend]:
        found = {"detector": self.detector, "sam": self.segmenter, "matte": self.matte}
        return {role: backend for role, backend in found.items() if backend is not None}

    def load(self) -> None:
        """Load every model now (benchmarks separate loading from the first image; the first call otherwise
        loads on demand)."""
        for backend in self.named().values():
            backend.load()

    def runtimes(self) -> dict[str, str]:
        return {role: backend.runtime_mode for role, backend in self.named().items()}

    def describe(self) -> dict[str, Any]:
        return {role: backend.describe() for role, backend in self.named().items()}

    def stats(self) -> dict[str, CallStats]:
        return {role: backend.stats.copy() for role, backend in self.named().items()}


_cache: dict[tuple[Any, ...], Backends] = {}
_cache_lock = threading.Lock()


def clear_backends() -> None:
    """Forget the cached backend objects (the models they loaded stay resident in their runtimes)."""
    with _cache_lock:
        _cache.clear()


def build_backends(
    options: SegmentOptions,
    models_root: str | Path,
    *,
    device: str | None = None,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    from_mask: bool = False,
    choice: ModelChoice | None = None,
) -> Backends:
    """The backends for ``options`` (see the module docstring). ``from_mask``: the job starts from a coarse
    mask, so neither GroundingDINO nor SAM is needed. Raises ModelUnavailable (exit code 3) when a needed
    detector or SAM cannot run or its files are missing while offline."""
    choice = choice or ModelChoice()
    models_root = Path(models_root).expanduser().resolve()
    key = (options.matte, from_mask, str(models_root), device, offline, choice, _policy(choice))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached

    detector_plan = sam_plan = None
    if not from_mask:
        # Runtimes and packages first: no point downloading 700 MB for a model that cannot run here.
        detector_plan = _detector_runtime(choice)
        sam_plan = _sam_runtime(choice)
    matte_runtime, notes = None, []
    if options.matte == "vitmatte":
        try:
            matte_runtime = _runtime(vitmatte.REQUIREMENT, choice)
        except ModelUnavailable as err:
            notes.append(f"ViTMatte cannot run here ({err}); the classic matte is used instead")

    detector = segmenter = None
    if detector_plan is not None and sam_plan is not None:
        detector = _detector(detector_plan, choice, models_root, device, offline, progress)
        segmenter = _segmenter(sam_plan, choice, models_root, device, offline, progress)
    matte = None
    if matte_runtime is not None:
        spec = choice.spec(VITMATTE_MODEL)
        try:
            folder = registry_file(
                spec, models_root, offline=offline, progress=progress, trust_unverified=choice.trust_unverified
            )
        except ModelUnavailable as err:
            notes.append(f"ViTMatte is not available ({err}); the classic matte is used instead")
        else:
            matte = VitMatte(folder.path, matte_runtime, device)
            matte.origin = {"registry": spec.name, "path": str(folder.path)}

    backends = Backends(detector, segmenter, matte, tuple(notes))
    if not notes:  # a missing model may appear later (downloaded, copied in): do not remember its absence
        with _cache_lock:
            _cache.setdefault(key, backends)
            backends = _cache[key]
    return backends


def _policy(choice: ModelChoice) -> str:
    # Part of the cache key: the same request under another policy runs elsewhere.
    from lib_garment.runtime.selection import current_policy

    try:
        return choice.runtime_policy or current_policy()
    except ValueError as err:
        raise BadInput(str(err)) from None


def _runtime(requirement: str | None, choice: ModelChoice) -> ModelRuntime:
    try:
        return get_runtime(requirement, policy=choice.runtime_policy)
    except ValueError as err:  # an unknown GARMENT_MODEL_RUNTIME value
        raise BadInput(str(err)) from None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _detector_runtime(choice: ModelChoice) -> ModelRuntime:
    if choice.detector == "groundingdino-py":
        if not grounding_dino_py.package_installed():
            package_config()  # raises the message that says how to install it
        return _runtime(grounding_dino_py.REQUIREMENT, choice)
    return _runtime(grounding_dino_hf.REQUIREMENT, choice)


def _sam_runtime(choice: ModelChoice) -> ModelRuntime:
    if choice.sam_file is None:
        package, name = SAM_PACKAGES.get(choice.sam, ("segment_anything", "segment-anything"))
        if not _installed(package):
            raise ModelUnavailable(
                f"SAM {choice.sam} needs the {name} package, which is not installed: restart the WebUI so Garment "
                "Studio's install.py installs it"
            )
    return _runtime(None, choice)


def _detector(
    runtime: ModelRuntime,
    choice: ModelChoice,
    models_root: Path,
    device: str | None,
    offline: bool | None,
    progress: ProgressCallback | None,
) -> GroundingDinoPy | GroundingDinoHF:
    trust = choice.trust_unverified
    if choice.detector == "transformers":
        spec = choice.spec(GROUNDINGDINO_HF_MODEL)
        folder = registry_file(spec, models_root, offline=offline, progress=progress, trust_unverified=trust)
        hf = GroundingDinoHF(folder.path, runtime, device)
        hf.origin = {"registry": spec.name, "path": str(folder.path)}
        return hf
    config = choice.groundingdino_config or package_config()
    weights_spec, bert_spec = choice.spec(GROUNDINGDINO_PY_MODEL), choice.spec(BERT_MODEL)
    weights = registry_file(weights_spec, models_root, offline=offline, progress=progress, trust_unverified=trust)
    bert = registry_file(bert_spec, models_root, offline=offline, progress=progress, trust_unverified=trust)
    detector = GroundingDinoPy(GroundingDinoPyFiles(Path(config), weights, bert.path), runtime, device)
    detector.origin = {"registry": [weights_spec.name, bert_spec.name], "path": str(weights.path)}
    return detector


def _segmenter(
    runtime: ModelRuntime,
    choice: ModelChoice,
    models_root: Path,
    device: str | None,
    offline: bool | None,
    progress: ProgressCallback | None,
) -> SamSegmenter:
    weights: TrustedFile
    if choice.sam_file is not None:
        weights = user_file(
            choice.sam_file, "sam", models_root, trust_unverified=choice.trust_unverified, progress=progress
        )
        origin: dict[str, Any] = {"path": str(weights.path), "basis": weights.basis}
    else:
        spec = choice.spec(SAM_MODELS[choice.sam])
        weights = registry_file(
            spec, models_root, offline=offline, progress=progress, trust_unverified=choice.trust_unverified
        )
        origin = {"registry": spec.name, "path": str(weights.path)}
    segmenter = SamSegmenter(weights, runtime, device)
    segmenter.origin = origin
    return segmenter


# -- one image -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SegmentRun:
    """One image segmented: the result, how long it took, and each backend's share (this image only)."""

    segmentation: Segmentation
    seconds: float
    backends: dict[str, dict[str, float]] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def model_seconds(self) -> float:
        """The models' forward passes in this run (loads excluded)."""
        return sum(b["model_s"] for b in self.backends.values())

    @property
    def sam_encodings(self) -> int:
        return int(self.backends.get("sam", {}).get("encodings", 0))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.segmentation.to_json(),
            "models": self.models,
            "runtimes": self.runtimes,
            "sam_image_encodings": self.sam_encodings,
            "timings": {"segment_s": self.seconds, "model_s": self.model_seconds, **self.backends},
            "notes": list(self.notes),
        }


def run_segmentation(
    image: np.ndarray,
    options: SegmentOptions,
    backends: Backends,
    coarse_mask: np.ndarray | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> SegmentRun:
    """Segment one ``image`` ((H, W, 3) uint8 RGB) with ``backends`` (see :func:`segment`)."""
    settings = settings_from_options(options)
    before = backends.stats()
    start = time.perf_counter()
    result = segment(
        image,
        settings,
        coarse_mask,
        None if coarse_mask is not None else backends.detector,
        None if coarse_mask is not None else backends.segmenter,
        backends.matte,
        limits,
    )
    seconds = time.perf_counter() - start
    shares = {role: backend.stats.since(before[role]) for role, backend in backends.named().items()}
    return SegmentRun(
        result,
        seconds,
        {role: share for role, share in shares.items() if share["calls"]},
        {role: mode for role, mode in backends.runtimes().items() if shares[role]["calls"]},
        {role: info for role, info in backends.describe().items() if shares[role]["calls"]},
        backends.notes,
    )
