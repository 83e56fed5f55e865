"""GroundingDINO in transformers: ``GroundingDinoForObjectDetection`` from a folder like
``IDEA-Research/grounding-dino-tiny`` (config, weights, processor and tokenizer files).

transformers has it from 4.40, so on AUTOMATIC1111 (4.30.2) it runs in the model worker and on Forge (4.46.1)
in-process. Loading reads local files only. Post-processing is our own
(:func:`lib_garment.segment.backends.grounding.detections_from_scores`) rather than the processor's
``post_process_grounded_object_detection``, whose arguments changed between versions (``box_threshold=`` in
4.46, ``threshold=`` in 5.x) and which returns decoded labels instead of the requested phrases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.models.hf_folder import load_transformers_folder
from lib_garment.runtime import ModelRuntime
from lib_garment.runtime.devices import resolve_device
from lib_garment.segment.backends.base import RuntimeBackend, Timer
from lib_garment.segment.backends.grounding import detections_from_scores, phrase_token_spans, to_detections
from lib_garment.segment.boxes import PhraseDetection
from lib_garment.segment.phrases import caption

REQUIREMENT = "transformers>=4.40"
_MODULE = "lib_garment.segment.backends.grounding_dino_hf"
DETECT = f"{_MODULE}:detect"
LOAD = f"{_MODULE}:load"


# -- engine side ---------------------------------------------------------------------------------------------


def _build(model_dir: str, device: str) -> tuple[Any, Any]:
    return load_transformers_folder(
        model_dir, "GroundingDinoForObjectDetection", "GroundingDinoProcessor", device, minimum="4.40"
    )


def _model(model_dir: str, device: str, timer: Timer) -> tuple[Any, Any]:
    return timer.resident(("groundingdino-hf", str(model_dir), device), lambda: _build(str(model_dir), device))


def load(model_dir: str, device: str | None = None) -> dict[str, Any]:
    timer = Timer()
    device = resolve_device(device)
    _, model = _model(model_dir, device, timer)
    return {"timings": timer.timings(), "model": _describe(model_dir, model, device)}


def detect(
    model_dir: str,
    image: np.ndarray,
    phrases: Sequence[str],
    box_threshold: float,
    text_threshold: float,
    device: str | None = None,
) -> dict[str, Any]:
    """Boxes for ``phrases`` in ``image`` ((h, w, 3) uint8 RGB), in that image's pixels."""
    import torch
    from PIL import Image

    timer = Timer()
    device = resolve_device(device)
    processor, model = _model(model_dir, device, timer)
    height, width = image.shape[:2]
    spans = phrase_token_spans(processor.tokenizer.tokenize, phrases)
    # A PIL image: its layout is never guessed (a numpy array 3 pixels high would read as channels-first).
    inputs = processor(images=Image.fromarray(np.ascontiguousarray(image)), text=caption(phrases), return_tensors="pt")
    inputs = inputs.to(device)
    with timer.model(device), torch.no_grad():
        outputs = model(**inputs)
    probabilities = outputs.logits[0].sigmoid().float().cpu().numpy()
    boxes = outputs.pred_boxes[0].float().cpu().numpy()
    found = detections_from_scores(
        probabilities, boxes, spans, list(phrases), width, height, box_threshold, text_threshold
    )
    return {"detections": found, "timings": timer.timings(), "model": _describe(model_dir, model, device)}


def _describe(model_dir: str, model: Any, device: str) -> dict[str, Any]:
    import transformers

    return {
        "model": "transformers GroundingDinoForObjectDetection",
        "folder": str(model_dir),
        "num_queries": int(model.config.num_queries),
        "transformers": transformers.__version__,
        "resolved_device": device,
    }


# -- caller side ---------------------------------------------------------------------------------------------


class GroundingDinoHF(RuntimeBackend):
    """The pipeline's PhraseDetector with transformers' GroundingDINO, called through ``runtime``."""

    name = "groundingdino-transformers"

    def __init__(self, model_dir: str | Path, runtime: ModelRuntime, device: str | None = None) -> None:
        super().__init__(runtime, device)
        self.model_dir = str(model_dir)

    def load(self) -> None:
        self._call(LOAD, self.model_dir, device=self.device)

    def __call__(
        self, image: np.ndarray, phrases: tuple[str, ...], box_threshold: float, text_threshold: float
    ) -> Iterable[PhraseDetection]:
        result = self._call(
            DETECT, self.model_dir, image, tuple(phrases), float(box_threshold), float(text_threshold),
            device=self.device,
        )  # fmt: skip
        return to_detections(result["detections"])
