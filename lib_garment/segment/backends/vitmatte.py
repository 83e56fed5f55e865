"""ViTMatte in transformers: ``VitMatteForImageMatting`` from a folder like ``hustvl/vitmatte-small-composition-1k``.

Image + trimap → alpha at the size it was given (the pipeline hands over its matte working size and finishes
the alpha: exactly 0 and 1 where the trimap is sure). The folder's own image processor prepares the input
(rescale, normalise with the model's mean/std, trimap as the fourth channel, pad to a multiple of 32); the
padding is cut off again here. transformers has ViTMatte from 4.34, so on AUTOMATIC1111 (4.30.2) it runs in
the model worker and on Forge (4.46.1) in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.models.hf_folder import load_transformers_folder
from lib_garment.runtime import ModelRuntime
from lib_garment.runtime.devices import resolve_device
from lib_garment.segment.backends.base import RuntimeBackend, Timer
from lib_garment.segment.backends.lean_attention import lean_global_attention

REQUIREMENT = "transformers>=4.34"
_MODULE = "lib_garment.segment.backends.vitmatte"
MATTE = f"{_MODULE}:matte"
LOAD = f"{_MODULE}:load"


# -- engine side ---------------------------------------------------------------------------------------------


def _build(model_dir: str, device: str) -> tuple[Any, Any]:
    processor, model = load_transformers_folder(
        model_dir, "VitMatteForImageMatting", "VitMatteImageProcessor", device, minimum="4.34"
    )
    lean_global_attention(model)  # the same alpha with one head's attention scores in memory at a time
    return processor, model


def _model(model_dir: str, device: str, timer: Timer) -> tuple[Any, Any]:
    return timer.resident(("vitmatte", str(model_dir), device), lambda: _build(str(model_dir), device))


def _describe(model_dir: str, model: Any, device: str) -> dict[str, Any]:
    import transformers

    backbone = model.config.backbone_config
    return {
        "model": "transformers VitMatteForImageMatting",
        "folder": str(model_dir),
        "backbone_hidden_size": int(getattr(backbone, "hidden_size", 0)),
        "backbone_layers": int(getattr(backbone, "num_hidden_layers", 0)),
        "transformers": transformers.__version__,
        "resolved_device": device,
    }


def load(model_dir: str, device: str | None = None) -> dict[str, Any]:
    timer = Timer()
    device = resolve_device(device)
    _, model = _model(model_dir, device, timer)
    return {"timings": timer.timings(), "model": _describe(model_dir, model, device)}


def matte(model_dir: str, image: np.ndarray, trimap: np.ndarray, device: str | None = None) -> dict[str, Any]:
    """``alpha``: (h, w) float32 in [0, 1] for ``image`` ((h, w, 3) uint8 RGB) and ``trimap`` ((h, w) uint8
    0/128/255)."""
    import torch
    from PIL import Image

    if image.shape[:2] != trimap.shape:
        raise ValueError(f"image {image.shape} and trimap {trimap.shape} differ in size")
    timer = Timer()
    device = resolve_device(device)
    processor, model = _model(model_dir, device, timer)
    height, width = trimap.shape
    # PIL images: their channel layout is never guessed from the array's shape.
    inputs = processor(
        images=Image.fromarray(np.ascontiguousarray(image)),
        trimaps=Image.fromarray(np.ascontiguousarray(trimap, dtype=np.uint8), mode="L"),
        return_tensors="pt",
    ).to(device)
    with timer.model(device), torch.no_grad():
        alphas = model(**inputs).alphas
    # The processor padded right and bottom to a multiple of 32: the image is the top-left corner.
    alpha = alphas[0, 0, :height, :width].float().clamp_(0.0, 1.0).cpu().numpy()
    if alpha.shape != (height, width):
        raise ValueError(f"ViTMatte returned alpha of shape {tuple(alphas.shape)} for a {width}x{height} image")
    return {"alpha": alpha, "timings": timer.timings(), "model": _describe(model_dir, model, device)}


# -- caller side ---------------------------------------------------------------------------------------------


class VitMatte(RuntimeBackend):
    """The pipeline's MatteModel with ViTMatte, called through ``runtime``."""

    name = "vitmatte"

    def __init__(self, model_dir: str | Path, runtime: ModelRuntime, device: str | None = None) -> None:
        super().__init__(runtime, device)
        self.model_dir = str(model_dir)

    def load(self) -> None:
        self._call(LOAD, self.model_dir, device=self.device)

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return np.asarray(self._call(MATTE, self.model_dir, image, trimap, device=self.device)["alpha"])
