"""SAM: boxes → masks with segment-anything (``vit_b``/``vit_l``/``vit_h``, any file name), SAM-HQ or MobileSAM.

The image encoder is SAM's whole cost (about 20 s for ``vit_b`` at 1024 px on a CPU, against about 1 s per box
for the mask decoder). Its embedding is computed **once per image** and kept with the resident model, keyed by
a digest of the image's pixels: every box of every phrase is decoded from it, in one batched decoder pass,
and a later call with the same image (another phrase set, a retry) does not encode again. Each call reports
whether it encoded, so callers count encodings (:attr:`CallStats.encodings`).

With ``multimask`` (the default) SAM proposes three masks per box; the one with the best predicted IoU is kept.
SAM-HQ (segment-anything-hq, official ``sam_hq_vit_*.pth`` files) makes that choice inside its decoder and
returns one mask per box: the best-IoU SAM mask corrected by its HQ token's mask, or with ``hq_token_only``
the HQ token's mask alone (the package's advice for one object per prompt). Its encoder also hands the
decoder an early-layer feature map, which the predictor keeps beside the embedding: the once-per-image cache
covers both.

Checkpoints load only as :class:`~lib_garment.models.weights.TrustedFile` (the registry's hash, or
an explicit trust), and their architecture comes from their tensor shapes (:mod:`.sam_arch`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib_garment.errors import ModelUnavailable
from lib_garment.models.weights import TrustedFile, load_torch_state
from lib_garment.runtime import ModelRuntime
from lib_garment.runtime.devices import resolve_device
from lib_garment.segment.backends.base import RuntimeBackend, Timer
from lib_garment.segment.backends.lean_attention import lean_global_attention
from lib_garment.segment.backends.sam_arch import SamArch, infer_arch

_MODULE = "lib_garment.segment.backends.sam"
SEGMENT = f"{_MODULE}:segment_boxes"
LOAD = f"{_MODULE}:load"
BOX_CHUNK = 16  # boxes per decoder pass: three mask logits per box at the working size (≤ 1024 px), 4 MB each
_MODEL_NAMES = {"mobile_sam": "MobileSAM", "sam_hq": "SAM-HQ", "sam_hq_tiny": "Light HQ-SAM"}  # by family


def image_key(image: np.ndarray) -> str:
    """A digest of the pixels and their shape: the same image gives the same key in any process."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.blake2b(pixels.data, digest_size=16)
    digest.update(repr((pixels.shape, pixels.dtype.str)).encode())
    return digest.hexdigest()


# -- engine side ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _SamState:
    """A resident SAM: its predictor (which holds the current image's embedding) and that image's key."""

    predictor: Any
    arch: SamArch
    image_key: str | None = None

    @property
    def model(self) -> Any:
        return self.predictor.model  # what the runtime cache moves on offload


def _build(weights: TrustedFile, device: str) -> _SamState:
    state = load_torch_state(weights)
    where = str(weights.path)
    arch = infer_arch(state, where)
    if arch.family == "mobile_sam":
        try:
            from mobile_sam import SamPredictor, sam_model_registry
        except ImportError as err:
            raise ModelUnavailable(
                f"{where} is a MobileSAM checkpoint, which needs the mobile_sam package (MobileSAM); it is not "
                f"installed ({err}). Restart the WebUI so Garment Studio's install.py installs it."
            ) from err
        model = sam_model_registry["vit_t"]()
    elif arch.hq:
        try:
            from segment_anything_hq import SamPredictor
            from segment_anything_hq.build_sam import _build_sam, sam_model_registry
        except ImportError as err:
            raise ModelUnavailable(
                f"{where} is a SAM-HQ checkpoint, which needs the segment-anything-hq package; it is not installed "
                f"({err}). Restart the WebUI so Garment Studio's install.py installs it."
            ) from err
        # The package's own builders: the HQ decoder's feature fusion is sized by the encoder's width, so
        # the inferred ViT sizes go to the same _build_sam that makes vit_b/l/h.
        model = sam_model_registry["vit_tiny"]() if arch.tiny_vit else _build_sam(**arch.build_kwargs())
    else:
        try:
            from segment_anything import SamPredictor
            from segment_anything.build_sam import _build_sam
        except ImportError as err:
            raise ModelUnavailable(
                f"SAM needs the segment-anything package, which is not installed ({err}). Restart the WebUI so "
                "Garment Studio's install.py installs it."
            ) from err
        model = _build_sam(**arch.build_kwargs())  # the builder behind vit_b/l/h, with the inferred sizes
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        kind = _MODEL_NAMES.get(arch.family, "SAM")
        raise ModelUnavailable(f"{where} does not fit a {kind} {arch.name}: {first}") from err
    model.to(device).eval()
    lean_global_attention(model.image_encoder)  # same masks, about 2 GB less at the encoder's peak
    return _SamState(SamPredictor(model), arch)


def _state(weights: TrustedFile, device: str, timer: Timer) -> _SamState:
    return timer.resident(("sam", str(weights.path), device), lambda: _build(weights, device))


def _describe(weights: TrustedFile, state: _SamState, device: str) -> dict[str, Any]:
    return {
        "model": _MODEL_NAMES.get(state.arch.family, "segment-anything"),
        "checkpoint": str(weights.path),
        "checkpoint_basis": weights.basis,
        **state.arch.to_json(),
        "resolved_device": device,
    }


def load(weights: TrustedFile, device: str | None = None) -> dict[str, Any]:
    """Load the model (if it is not resident) without running it."""
    timer = Timer()
    device = resolve_device(device)
    state = _state(weights, device, timer)
    return {"timings": timer.timings(), "model": _describe(weights, state, device)}


def segment_boxes(
    weights: TrustedFile,
    image: np.ndarray,
    boxes: np.ndarray,
    device: str | None = None,
    multimask: bool = True,
    hq_token_only: bool = False,
) -> dict[str, Any]:
    """One mask per box: ``masks`` (N, h, w) bool at the image's size, ``iou`` (N,) SAM's predicted IoU of
    each, ``encoded`` whether this call computed the image embedding. ``hq_token_only`` matters for SAM-HQ
    only (see the module docstring)."""
    import torch

    timer = Timer()
    device = resolve_device(device)
    state = _state(weights, device, timer)
    predictor = state.predictor
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    height, width = image.shape[:2]
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    ious = np.zeros(len(boxes), dtype=np.float32)
    encoded = False
    extra = {"hq_token_only": hq_token_only} if state.arch.hq else {}  # plain SAM's predictor has no such knob
    if len(boxes):
        key = image_key(image)
        if state.image_key != key:
            state.image_key = None  # a failure half-way must not leave a stale key behind
            with timer.model(device):
                predictor.set_image(np.ascontiguousarray(image), image_format="RGB")
            state.image_key, encoded = key, True
        prompts = torch.as_tensor(boxes, dtype=torch.float32, device=predictor.device)
        prompts = predictor.transform.apply_boxes_torch(prompts, predictor.original_size)
        for start in range(0, len(boxes), BOX_CHUNK):
            with timer.model(device), torch.no_grad():
                proposals, scores, _ = predictor.predict_torch(
                    None, None, boxes=prompts[start : start + BOX_CHUNK], multimask_output=multimask, **extra
                )
            best = scores.argmax(dim=1)
            rows = torch.arange(len(best), device=best.device)
            masks[start : start + len(best)] = proposals[rows, best].cpu().numpy()
            ious[start : start + len(best)] = scores[rows, best].float().cpu().numpy()
    return {
        "masks": masks,
        "iou": ious,
        "encoded": encoded,
        "timings": timer.timings(),
        "model": _describe(weights, state, device),
    }


# -- caller side ---------------------------------------------------------------------------------------------


class SamSegmenter(RuntimeBackend):
    """The pipeline's BoxSegmenter with SAM, called through ``runtime``. ``stats.encodings`` counts image
    embeddings computed; ``last_iou`` holds the latest call's predicted IoU per box. ``hq_token_only``: see
    the module docstring (SAM-HQ checkpoints only)."""

    name = "sam"

    def __init__(
        self,
        weights: TrustedFile,
        runtime: ModelRuntime,
        device: str | None = None,
        multimask: bool = True,
        hq_token_only: bool = False,
    ) -> None:
        super().__init__(runtime, device)
        if not isinstance(weights, TrustedFile):
            raise TypeError("SAM weights must be a TrustedFile (see lib_garment.models.weights)")
        self.weights = weights
        self.multimask = multimask
        self.hq_token_only = hq_token_only
        self.last_iou = np.zeros(0, dtype=np.float32)

    def load(self) -> None:
        self._call(LOAD, self.weights, device=self.device)

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        result = self._call(
            SEGMENT, self.weights, image, np.asarray(boxes, dtype=np.float64), device=self.device,
            multimask=self.multimask, hq_token_only=self.hq_token_only,
        )  # fmt: skip
        if result["encoded"]:
            self.stats.encodings += 1
        self.last_iou = np.asarray(result["iou"])
        return np.asarray(result["masks"])
