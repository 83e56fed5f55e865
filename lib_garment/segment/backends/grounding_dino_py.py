"""GroundingDINO with the ``groundingdino-py`` package: the official ``groundingdino_swint_ogc.pth`` checkpoint,
the package's own SLConfig ``GroundingDINO_SwinT_OGC.py``, and a local BERT folder.

The config names its text encoder ``"bert-base-uncased"``, which the package would fetch from the Hugging Face
hub. Here ``text_encoder_type`` is always a local folder (the registry's ``bert-base-uncased``, verified like
every model), so loading never reaches the network. The checkpoint carries GroundingDINO's fine-tuned BERT
weights too; the folder supplies the tokenizer and the BERT's shape.

Runs in this process wherever transformers < 5 is installed (AUTOMATIC1111's 4.30.2, Forge's 4.46.1); the
runtime policy may move it into the model worker.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import ModelUnavailable
from lib_garment.models.weights import TrustedFile, load_torch_state
from lib_garment.runtime import ModelRuntime
from lib_garment.runtime.devices import resolve_device
from lib_garment.segment.backends.base import RuntimeBackend, Timer, stdout_to_stderr
from lib_garment.segment.backends.grounding import detections_from_scores, phrase_token_spans, to_detections
from lib_garment.segment.backends.lean_attention import lean_deformable_attention
from lib_garment.segment.boxes import PhraseDetection
from lib_garment.segment.phrases import caption

REQUIREMENT = "transformers<5"  # the package's BERT wrapper uses APIs transformers 5 removed
CONFIG_NAME = "GroundingDINO_SwinT_OGC.py"
SHORT_SIDE, MAX_SIDE = 800, 1333  # the package's inference transform: RandomResize([800], max_size=1333)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_MODULE = "lib_garment.segment.backends.grounding_dino_py"
DETECT = f"{_MODULE}:detect"
LOAD = f"{_MODULE}:load"


@dataclass(frozen=True)
class GroundingDinoPyFiles:
    """What one groundingdino-py model is made of (picklable: it travels to the worker)."""

    config: Path  # SLConfig .py
    checkpoint: TrustedFile  # groundingdino_swint_ogc.pth
    bert_dir: Path  # a local BERT folder (config.json, vocab/tokenizer files, weights)


def package_installed() -> bool:
    return importlib.util.find_spec("groundingdino") is not None


def package_config(name: str = CONFIG_NAME) -> Path:
    """The SLConfig file shipped inside the installed groundingdino package (found without importing it)."""
    spec = importlib.util.find_spec("groundingdino")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "GroundingDINO needs the groundingdino-py package, which is not installed: restart the WebUI so "
            "Garment Studio's install.py installs it, or choose the transformers detector"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "config" / name
    if not path.is_file():
        raise ModelUnavailable(f"the installed groundingdino package has no config {path}")
    return path


def inference_size(width: int, height: int, short_side: int = SHORT_SIDE, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(width, height) the package's transform resizes to: short side ``short_side`` unless the long side
    would pass ``max_side`` (then the long side is about ``max_side``); same rounding as the package."""
    short, long = min(width, height), max(width, height)
    size = short_side
    if long / short * size > max_side:
        size = int(round(max_side * short / long))
    if short == size:
        return width, height
    if width < height:
        return size, int(size * height / width)
    return int(size * width / height), size


# -- engine side ---------------------------------------------------------------------------------------------


def _build(files: GroundingDinoPyFiles, device: str) -> Any:
    if not package_installed():
        package_config()  # raises the message saying how to install it
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig

    if not Path(files.config).is_file():
        raise ModelUnavailable(f"GroundingDINO config {files.config} does not exist")
    if not (Path(files.bert_dir) / "config.json").is_file():
        raise ModelUnavailable(f"GroundingDINO's text encoder folder {files.bert_dir} has no config.json")
    args = SLConfig.fromfile(str(files.config))
    args.device = device
    args.text_encoder_type = str(files.bert_dir)  # a folder: never a hub name, so nothing is fetched
    # Gradient checkpointing only matters for training; off, inference skips its wrappers (and their warnings).
    args.use_checkpoint = False
    args.use_transformer_ckpt = False
    with stdout_to_stderr():
        model = build_model(args)
    lean_deformable_attention()  # the same boxes, without a 1 GB peak in the encoder's sampling
    state = load_torch_state(files.checkpoint)
    result = model.load_state_dict(state, strict=False)
    # position_ids is a buffer some transformers versions save and others do not: not a weight.
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    unexpected = [k for k in result.unexpected_keys if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelUnavailable(
            f"{files.checkpoint.path} does not fit {Path(files.config).name}: {len(missing)} weights missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); is it a GroundingDINO "
            "checkpoint for this config?"
        )
    return model.eval().to(device)


def _model(files: GroundingDinoPyFiles, device: str, timer: Timer) -> Any:
    key = ("groundingdino-py", str(files.config), str(files.checkpoint.path), str(files.bert_dir), device)
    return timer.resident(key, lambda: _build(files, device))


def load(files: GroundingDinoPyFiles, device: str | None = None) -> dict[str, Any]:
    """Load the model (if it is not resident) without running it."""
    timer = Timer()
    device = resolve_device(device)
    model = _model(files, device, timer)
    return {"timings": timer.timings(), "model": _describe(files, model, device)}


def detect(
    files: GroundingDinoPyFiles,
    image: np.ndarray,
    phrases: Sequence[str],
    box_threshold: float,
    text_threshold: float,
    device: str | None = None,
    short_side: int = SHORT_SIDE,
    max_side: int = MAX_SIDE,
) -> dict[str, Any]:
    """Boxes for ``phrases`` in ``image`` ((h, w, 3) uint8 RGB), in that image's pixels (see
    :func:`lib_garment.segment.backends.grounding.detections_from_scores`)."""
    import cv2
    import torch

    timer = Timer()
    device = resolve_device(device)
    model = _model(files, device, timer)
    height, width = image.shape[:2]
    size = inference_size(width, height, short_side, max_side)
    shrinking = size[0] <= width and size[1] <= height
    resized = cv2.resize(
        np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    pixels = torch.from_numpy(resized).to(device).permute(2, 0, 1).float().div_(255.0)
    pixels = (pixels - torch.tensor(MEAN, device=device)[:, None, None]) / torch.tensor(STD, device=device)[
        :, None, None
    ]
    spans = phrase_token_spans(model.tokenizer.tokenize, phrases)
    with timer.model(device), torch.no_grad():
        outputs = model(pixels[None], captions=[caption(phrases)])
    probabilities = outputs["pred_logits"][0].sigmoid().float().cpu().numpy()
    boxes = outputs["pred_boxes"][0].float().cpu().numpy()
    found = detections_from_scores(
        probabilities, boxes, spans, list(phrases), width, height, box_threshold, text_threshold
    )
    return {"detections": found, "timings": timer.timings(), "model": _describe(files, model, device)}


def _describe(files: GroundingDinoPyFiles, model: Any, device: str) -> dict[str, Any]:
    return {
        "model": "groundingdino-py",
        "config": str(files.config),
        "checkpoint": str(files.checkpoint.path),
        "checkpoint_basis": files.checkpoint.basis,
        "text_encoder": str(files.bert_dir),
        "num_queries": int(getattr(model, "num_queries", 0)),
        "resolved_device": device,
    }


# -- caller side ---------------------------------------------------------------------------------------------


class GroundingDinoPy(RuntimeBackend):
    """The pipeline's PhraseDetector with groundingdino-py, called through ``runtime``."""

    name = "groundingdino-py"

    def __init__(
        self,
        files: GroundingDinoPyFiles,
        runtime: ModelRuntime,
        device: str | None = None,
        short_side: int = SHORT_SIDE,
        max_side: int = MAX_SIDE,
    ) -> None:
        super().__init__(runtime, device)
        self.files = files
        self.short_side = short_side
        self.max_side = max_side

    def load(self) -> None:
        self._call(LOAD, self.files, device=self.device)

    def __call__(
        self, image: np.ndarray, phrases: tuple[str, ...], box_threshold: float, text_threshold: float
    ) -> Iterable[PhraseDetection]:
        result = self._call(
            DETECT,
            self.files,
            image,
            tuple(phrases),
            float(box_threshold),
            float(text_threshold),
            device=self.device,
            short_side=self.short_side,
            max_side=self.max_side,
        )
        return to_detections(result["detections"])
