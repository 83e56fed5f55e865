"""Depth models for the depth and normal maps: Depth Anything V2 Small (transformers, the default) and DepthFM.

Depth Anything runs through the model runtime: ``DepthAnythingForDepthEstimation`` is in transformers 4.38
and later, so on AUTOMATIC1111 1.10.1 (transformers 4.30.2) it runs in the model worker, on Forge
(4.46.1) in the WebUI's process. It returns relative disparity (near = high) at the model's own resolution,
which the caller's side resizes to the photo's size (bicubic, as transformers' post-processing does), so the
worker never ships a full-size depth back; :mod:`lib_garment.maps.depth` then clips percentiles, normalises
and derives normals from it.

Only the Small variant is licensed for commercial use (Apache-2.0); Base and Large are CC-BY-NC-4.0, so they
are never a default, but a user may point at any Depth Anything folder of their own.

``depth-fm`` (CompVis DepthFM, MIT) is the seed paper's depth model: :mod:`lib_garment.maps.depth_fm`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.maps.depth import RawDepth, to_photo_size
from lib_garment.maps.depth_fm import DEFAULT_DEPTH_FM, DepthFmEstimator, DepthFmParams, depth_fm_estimator
from lib_garment.maps.scale import model_copy
from lib_garment.models.hf_folder import load_transformers_folder
from lib_garment.models.progress import ProgressCallback
from lib_garment.runtime import ModelRuntime, cached_model, get_runtime
from lib_garment.runtime.devices import check_device, resolve_device

DEPTH_REQUIREMENT = "transformers>=4.38"  # DepthAnythingForDepthEstimation appeared in 4.38
DEPTH_ANYTHING = "depth-anything-v2-small"
DEPTH_FM = "depth-fm"
DEPTH_MODEL_NAMES = (DEPTH_ANYTHING, DEPTH_FM)
DEFAULT_DEPTH_MODEL = DEPTH_ANYTHING
REGISTRY_NAMES = {DEPTH_ANYTHING: "Depth-Anything-V2-Small-hf"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")

# -- the engine function (runs in whichever process the runtime chose) ------------------------------------------


def load_depth_anything(model_dir: str, device: str) -> tuple[Any, Any]:
    """The image processor and ``DepthAnythingForDepthEstimation`` from a verified local folder."""
    return load_transformers_folder(
        model_dir, "DepthAnythingForDepthEstimation", "AutoImageProcessor", device, minimum="4.38"
    )


def predict_depth_anything(image: np.ndarray, model_dir: str, device: str | None = None) -> RawDepth:
    """Depth Anything's prediction for ``image`` ((H, W, 3) uint8 RGB) at the model's own resolution (the image
    processor's size, about 518 px on the short side), as float32 on the CPU.

    Relative models give disparity (near = high); a metric one (``depth_estimation_type: metric``) gives
    metres, far = high. :func:`to_photo_size` brings it to the photo's size: the caller does that, so the
    model worker sends back a few hundred KB instead of the full-size depth (16 MB for a 2048 px photo).
    """
    import torch

    device = resolve_device(device)
    processor, model = cached_model(
        ("depth-anything", model_dir, device), lambda: load_depth_anything(model_dir, device), device=device
    )
    pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(device)
    with torch.inference_mode():
        predicted = model(pixel_values=pixels).predicted_depth[0]  # (h, w) at the processor's size
    values = np.ascontiguousarray(predicted.float().cpu().numpy(), dtype=np.float32)
    metric = getattr(model.config, "depth_estimation_type", "relative") == "metric"
    return RawDepth(values, near_is_high=not metric)


def estimate_depth_anything(image: np.ndarray, model_dir: str, device: str | None = None) -> RawDepth:
    """Depth Anything's depth for ``image`` ((H, W, 3) uint8 RGB) as an (H, W) float32 :class:`RawDepth`:
    :func:`predict_depth_anything` brought to the photo's size by :func:`to_photo_size`."""
    height, width = image.shape[:2]
    return to_photo_size(predict_depth_anything(image, model_dir, device), width, height)


# -- the estimator (what compute_maps calls) --------------------------------------------------------------------


@dataclass(frozen=True)
class DepthAnythingEstimator:
    """A :class:`~lib_garment.maps.compute.DepthEstimator` backed by a verified Depth Anything folder.

    ``runtime``: where it runs (None: ``get_runtime(DEPTH_REQUIREMENT)`` at the first call: in-process where
    the WebUI's transformers is new enough, else the model worker).
    """

    model_dir: Path
    device: str | None = None
    runtime: ModelRuntime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", check_device(self.device))

    @cached_property
    def name(self) -> str:
        """Names the folder and its weights (size, modification time): a cache key part."""
        folder = Path(self.model_dir).resolve()
        weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", *PICKLE_SUFFIXES))
        stamp = ",".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights)
        return f"depth-anything:{folder}:{stamp}"

    def __call__(self, image: np.ndarray) -> RawDepth:
        runtime = self.runtime if self.runtime is not None else get_runtime(DEPTH_REQUIREMENT)
        small, _, _ = model_copy(image)  # the model sees 518 px: a bounded copy crosses to it, never the photo
        raw = runtime.call(
            "lib_garment.maps.depth_models:predict_depth_anything", small, str(self.model_dir), self.device
        )
        height, width = image.shape[:2]
        return to_photo_size(raw, width, height)  # here: the worker returns the model's own small prediction


# -- finding the model ------------------------------------------------------------------------------------------


def check_depth_anything_folder(folder: Path, *, trust_unverified: bool | None = None) -> Path:
    """A folder the user names: a Depth Anything model (its config says so) with weights that may be loaded.

    safetensors cannot run code and are used without a hash; a folder with only pickle weights
    (``pytorch_model.bin``) needs trusted unverified files, like any pickle of unknown origin.
    """
    from lib_garment.models.store import verify_file

    config = folder / "config.json"
    if not config.is_file():
        raise BadInput(f"depth model folder {folder} has no config.json")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        raise BadInput(f"{config} is not a readable model config: {err}") from err
    if model_type != "depth_anything":
        raise BadInput(f"{folder} holds a {model_type!r} model, not Depth Anything (model_type depth_anything)")
    if not (folder / "preprocessor_config.json").is_file():
        raise BadInput(f"depth model folder {folder} has no preprocessor_config.json")
    safetensors = sorted(folder.glob("*.safetensors"))
    pickles = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if not safetensors:
        if not pickles:
            raise BadInput(f"depth model folder {folder} has no weights (model.safetensors)")
        for path in pickles:
            verify_file(path, None, trust=trust_unverified)  # refused unless unverified files are trusted
    return folder


def resolve_depth_model(
    model: str,
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
) -> Path:
    """The verified model folder for a depth model name (downloaded when missing and allowed) or a folder."""
    from lib_garment.models import registry
    from lib_garment.models.store import ensure_model

    registry_name = REGISTRY_NAMES.get(model, model if model in REGISTRY_NAMES.values() else None)
    if registry_name is not None:
        # Looked up at call time, so a test can stand a registry of its own in for the real one.
        spec = registry.get_spec(registry_name, registry.MODELS)
        return ensure_model(spec, models_root, offline=offline, progress=progress, trust_unverified=trust_unverified)
    folder = Path(model).expanduser()
    if folder.is_dir():
        return check_depth_anything_folder(folder, trust_unverified=trust_unverified)
    if folder.exists():
        raise BadInput(f"depth model {model} is a file; give the model's folder (config.json, model.safetensors)")
    if "/" in model or "\\" in model:
        raise BadInput(f"depth model folder {model} does not exist")
    raise BadInput(
        f"unknown depth model {model!r}; use {' or '.join(DEPTH_MODEL_NAMES)}, a Depth Anything folder or a "
        "DepthFM .ckpt"
    )


def is_depth_fm(model: str) -> bool:
    """``depth-fm``, or a DepthFM checkpoint file of the user's own (``.ckpt``)."""
    return model == DEPTH_FM or Path(model).suffix.lower() == ".ckpt"


def depth_estimator(
    model: str = DEFAULT_DEPTH_MODEL,
    models_root: Path | None = None,
    *,
    device: str | None = None,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
    runtime: ModelRuntime | None = None,
    depth_fm: DepthFmParams = DEFAULT_DEPTH_FM,
) -> DepthAnythingEstimator | DepthFmEstimator:
    """A ready depth estimator: the model found (or downloaded) and verified now, loaded on first use."""
    from lib_garment.paths import models_root as default_models_root

    root = Path(models_root) if models_root is not None else default_models_root()
    common = {"offline": offline, "progress": progress, "trust_unverified": trust_unverified}
    if is_depth_fm(model):
        return depth_fm_estimator(model, root, device=device, runtime=runtime, params=depth_fm, **common)
    folder = resolve_depth_model(model, root, **common)
    return DepthAnythingEstimator(folder, device, runtime)
