"""Faces (heads) and hands found in a generated image, and the rules that choose which ones to restore.

A :class:`PartDetection` is a box in the image's own pixels with a confidence, its kind (``face`` or ``hand``), the
model's class name and, for segmentation models, a mask. Detectors (:mod:`.detectors`: ADetailer's YOLOv8
files, mediapipe's bundled face detector, OpenCV's Haar cascade) all return these.

The choice follows ADetailer's ``pred_preprocessing`` (host contract §6), in this order, each step a pure
function on a list of detections:

1. kinds and model classes to keep;
2. confidence at least ``confidence``;
3. box area ÷ image area within ``[min_ratio, max_ratio]``;
4. the ``top_k`` largest (or most confident) **of each kind**, 0 keeping all: faces and hands are counted apart,
   as ADetailer applies its k to each model's own detections;
5. sorted: ``none`` (the detector's order), ``left-right`` (by the box's left edge), ``center-out`` (by the
   distance of the box's centre from the image's centre), ``area`` (largest first) or ``confidence``.

Every sort is stable, so ties keep the detector's order and the result is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from lib_garment.arrays import check_plane
from lib_garment.errors import BadInput
from lib_garment.restore.boxes import Box, check_box

Kind = Literal["face", "hand"]
KINDS: tuple[Kind, ...] = ("face", "hand")
SortOrder = Literal["none", "left-right", "center-out", "area", "confidence"]
SORT_ORDERS: tuple[SortOrder, ...] = ("none", "left-right", "center-out", "area", "confidence")
RankBy = Literal["area", "confidence"]
RANKS: tuple[RankBy, ...] = ("area", "confidence")


@dataclass(frozen=True, eq=False)
class PartDetection:
    """One face or hand. ``box``: x0, y0, x1, y1 in the image's pixels (floats, x1 > x0, y1 > y0);
    ``score``: confidence in [0, 1]; ``kind``: ``face`` or ``hand``; ``label``: the model's class name
    (defaults to the kind); ``mask``: (H, W) bool of the image's size, from segmentation models, else None."""

    box: Box
    score: float
    kind: Kind
    label: str = ""
    mask: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", check_box(self.box, "detection box"))
        try:
            score = float(self.score)
        except (TypeError, ValueError) as err:
            raise BadInput(f"detection score must be a number, got {self.score!r}") from err
        if not 0.0 <= score <= 1.0:
            raise BadInput(f"detection score must be within 0..1, got {score}")
        object.__setattr__(self, "score", score)
        if self.kind not in KINDS:
            raise BadInput(f"detection kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "label", str(self.label) or self.kind)
        if self.mask is not None:
            object.__setattr__(self, "mask", check_plane(self.mask, "detection mask").astype(bool, copy=False))

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


class PartDetector(Protocol):
    """Finds faces or hands: called with a (H, W, 3) uint8 RGB image, returns detections in its pixels.
    ``name`` identifies the detector and its settings (for records and caches)."""

    name: str

    def __call__(self, image: np.ndarray) -> list[PartDetection]: ...


# -- the choice -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterParams:
    """Which detections are restored (see the module docstring for the order).

    ``confidence``: the least score kept (ADetailer's default 0.3). ``min_ratio``/``max_ratio``: box area as a
    share of the image's area. ``top_k``: keep at most this many of each kind (0: all), ranked by ``rank_by``. ``sort``:
    the order they are restored in (and the index ``[SEP]`` prompts are picked by). ``kinds``: kinds kept.
    ``classes``: the model class names kept (empty: all)."""

    confidence: float = 0.3
    min_ratio: float = 0.0
    max_ratio: float = 1.0
    top_k: int = 0
    rank_by: RankBy = "area"
    sort: SortOrder = "none"
    kinds: tuple[Kind, ...] = KINDS
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("confidence", "min_ratio", "max_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise BadInput(f"{name} must be a number within 0..1, got {value!r}")
        if self.min_ratio > self.max_ratio:
            raise BadInput(f"min_ratio ({self.min_ratio}) must not exceed max_ratio ({self.max_ratio})")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise BadInput(f"top_k must be a whole number >= 0 (0 keeps all), got {self.top_k!r}")
        if self.rank_by not in RANKS:
            raise BadInput(f"rank_by must be one of {', '.join(RANKS)}, got {self.rank_by!r}")
        if self.sort not in SORT_ORDERS:
            raise BadInput(f"sort must be one of {', '.join(SORT_ORDERS)}, got {self.sort!r}")
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise BadInput(f"kinds must be a non-empty choice of {', '.join(KINDS)}, got {list(kinds)!r}")
        object.__setattr__(self, "kinds", kinds)
        classes = (self.classes,) if isinstance(self.classes, str) else tuple(self.classes)
        if not all(isinstance(c, str) and c.strip() for c in classes):
            raise BadInput(f"classes must be non-empty class names, got {list(classes)!r}")
        object.__setattr__(self, "classes", tuple(c.strip() for c in classes))


DEFAULT_FILTER = FilterParams()


def keep_kinds(detections: Iterable[PartDetection], kinds: Sequence[str]) -> list[PartDetection]:
    return [d for d in detections if d.kind in kinds]


def keep_classes(detections: Iterable[PartDetection], classes: Sequence[str]) -> list[PartDetection]:
    """Detections whose model class name is in ``classes`` (compared without case); empty keeps all."""
    wanted = {c.lower() for c in classes}
    return list(detections) if not wanted else [d for d in detections if d.label.lower() in wanted]


def above_confidence(detections: Iterable[PartDetection], threshold: float) -> list[PartDetection]:
    return [d for d in detections if d.score >= threshold]


def area_ratio(detection: PartDetection, shape: tuple[int, int]) -> float:
    """The box's area as a share of an image of ``shape`` (H, W)."""
    return detection.area / float(shape[0] * shape[1])


def within_area_ratio(
    detections: Iterable[PartDetection], shape: tuple[int, int], low: float, high: float
) -> list[PartDetection]:
    return [d for d in detections if low <= area_ratio(d, shape) <= high]


def top_k(detections: Sequence[PartDetection], k: int, by: RankBy = "area") -> list[PartDetection]:
    """The ``k`` largest (``by="area"``) or most confident detections, in their original order; 0 keeps all."""
    if k <= 0 or k >= len(detections):
        return list(detections)
    key = (lambda i: detections[i].area) if by == "area" else (lambda i: detections[i].score)
    chosen = sorted(range(len(detections)), key=lambda i: -key(i))[:k]  # stable: ties keep the earlier one
    return [detections[i] for i in sorted(chosen)]


def top_k_per_kind(detections: Sequence[PartDetection], k: int, by: RankBy = "area") -> list[PartDetection]:
    """:func:`top_k` within each kind (faces and hands counted apart), the survivors in their original order."""
    kept = {id(d) for kind in KINDS for d in top_k([d for d in detections if d.kind == kind], k, by)}
    return [d for d in detections if id(d) in kept]


def sort_detections(
    detections: Sequence[PartDetection], order: SortOrder, shape: tuple[int, int]
) -> list[PartDetection]:
    """Detections in restoring order (stable; see the module docstring)."""
    if order == "none":
        return list(detections)
    if order == "left-right":
        return sorted(detections, key=lambda d: d.box[0])
    if order == "center-out":
        cy, cx = shape[0] / 2, shape[1] / 2
        return sorted(detections, key=lambda d: math.hypot(d.center[0] - cx, d.center[1] - cy))
    if order == "area":
        return sorted(detections, key=lambda d: -d.area)
    if order == "confidence":
        return sorted(detections, key=lambda d: -d.score)
    raise BadInput(f"sort must be one of {', '.join(SORT_ORDERS)}, got {order!r}")


def filter_detections(
    detections: Iterable[PartDetection], shape: tuple[int, int], params: FilterParams = DEFAULT_FILTER
) -> list[PartDetection]:
    """The detections to restore, in restoring order, for an image of ``shape`` (H, W)."""
    chosen = keep_classes(keep_kinds(detections, params.kinds), params.classes)
    chosen = above_confidence(chosen, params.confidence)
    chosen = within_area_ratio(chosen, shape, params.min_ratio, params.max_ratio)
    chosen = top_k_per_kind(chosen, params.top_k, params.rank_by)
    return sort_detections(chosen, params.sort, shape)


def detect_all(image: np.ndarray, detectors: PartDetector | Sequence[PartDetector]) -> list[PartDetection]:
    """Every detector's detections, in the detectors' order (a face model and a hand model, say)."""
    found: list[PartDetection] = []
    for detector in (detectors,) if callable(detectors) else tuple(detectors):
        result = detector(image)
        if not isinstance(result, list | tuple) or not all(isinstance(d, PartDetection) for d in result):
            name = getattr(detector, "name", type(detector).__name__)
            raise TypeError(f"detector {name} must return a list of PartDetection, got {type(result).__name__}")
        found.extend(result)
    return found
