"""Detections and the choice of boxes per phrase: the paper's largest box, every instance (NMS), or the top k.

Boxes are (x0, y0, x1, y1) in continuous pixel coordinates of the original photo (see
:mod:`lib_garment.segment.geometry`): the image spans [0, W] x [0, H], so a box around pixel columns 10..19
has x0 = 10, x1 = 20, and its area is (x1 - x0)(y1 - y0) with no "+1".

Selection, per phrase, among the detections that pass the thresholds (a detection passes when its score is
*greater than* the box threshold and its text score, when reported, greater than the text threshold, as
GroundingDINO's own filter compares):

- ``largest`` (Kong & Wu's rule): the box of greatest area σ = |(x1 - x0)(y1 - y0)|. Ties on area go to the
  higher score, then to the detection that came first. Exactly one box per phrase that has any.
- ``all``: every instance, after greedy non-maximum suppression: by score, highest first (ties: first come),
  a box is dropped when its IoU with a box already kept is greater than ``iou_threshold``.
- ``topk``: the first ``top_k`` boxes that ``all`` keeps (NMS first, so that a near-duplicate box of the same
  garment does not take a place).

Boxes without area mark nothing for SAM and are never selected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

SelectMode = Literal["largest", "all", "topk"]
SELECT_MODES: tuple[SelectMode, ...] = ("largest", "all", "topk")
DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in continuous pixel coordinates (x1, y1: the far edges)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in (self.x0, self.y0, self.x1, self.y1))
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box coordinates must be finite, got {values}")
        # Plain floats, so that numpy scalars from a model neither leak into JSON nor change equality.
        for name, value in zip(("x0", "y0", "x1", "y1"), values, strict=True):
            object.__setattr__(self, name, value)

    @property
    def width(self) -> float:
        return abs(self.x1 - self.x0)

    @property
    def height(self) -> float:
        return abs(self.y1 - self.y0)

    @property
    def area(self) -> float:
        """The paper's σ term, |(x1 - x0)(y1 - y0)|: a box given corner-swapped has the same area."""
        return abs((self.x1 - self.x0) * (self.y1 - self.y0))

    def ordered(self) -> Box:
        """The same box with x0 <= x1 and y0 <= y1."""
        return Box(min(self.x0, self.x1), min(self.y0, self.y1), max(self.x0, self.x1), max(self.y0, self.y1))

    def clipped(self, width: int, height: int) -> Box:
        """The ordered box cut to the image [0, width] x [0, height]."""
        b = self.ordered()
        return Box(
            min(max(b.x0, 0.0), width),
            min(max(b.y0, 0.0), height),
            min(max(b.x1, 0.0), width),
            min(max(b.y1, 0.0), height),
        )

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class PhraseDetection:
    """One box a detector found for one phrase. ``score``: the box confidence (GroundingDINO: the highest
    token logit); ``text_score``: the phrase tokens' confidence, when the detector reports it."""

    box: Box
    score: float
    phrase: str
    text_score: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.score)):
            raise ValueError(f"detection score must be finite, got {self.score}")
        object.__setattr__(self, "score", float(self.score))
        if self.text_score is not None:
            object.__setattr__(self, "text_score", float(self.text_score))

    def to_json(self) -> dict[str, object]:
        """For the parameters saved with the outputs."""
        data: dict[str, object] = {"phrase": self.phrase, "box": list(self.box.as_tuple()), "score": self.score}
        if self.text_score is not None:
            data["text_score"] = self.text_score
        return data


@dataclass(frozen=True)
class SelectParams:
    """How boxes are chosen per phrase (see the module docstring). Thresholds None: the detector applied
    them already (GroundingDINO does), nothing more is filtered here."""

    mode: SelectMode = "largest"
    top_k: int = 1
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    box_threshold: float | None = None
    text_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in SELECT_MODES:
            raise ValueError(f"select mode must be one of {', '.join(SELECT_MODES)}, got {self.mode!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")


DEFAULT_SELECT = SelectParams()


def passes_thresholds(
    detection: PhraseDetection, box_threshold: float | None = None, text_threshold: float | None = None
) -> bool:
    """GroundingDINO's comparison: strictly greater than each threshold that is given."""
    if box_threshold is not None and not detection.score > box_threshold:
        return False
    return text_threshold is None or detection.text_score is None or detection.text_score > text_threshold


def filter_detections(
    detections: Iterable[PhraseDetection], box_threshold: float | None = None, text_threshold: float | None = None
) -> list[PhraseDetection]:
    """The detections that pass the thresholds, in their order."""
    return [d for d in detections if passes_thresholds(d, box_threshold, text_threshold)]


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (corner order does not matter); 0 when both have no area."""
    a, b = a.ordered(), b.ordered()
    inter_w = min(a.x1, b.x1) - max(a.x0, b.x0)
    inter_h = min(a.y1, b.y1) - max(a.y0, b.y0)
    inter = inter_w * inter_h if inter_w > 0 and inter_h > 0 else 0.0
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def largest(detections: Iterable[PhraseDetection]) -> PhraseDetection | None:
    """The detection with the greatest box area; ties: higher score, then first. None if none has an area."""
    best = None
    for detection in detections:
        if detection.box.area <= 0:
            continue
        # Strictly greater only: an exact tie on (area, score) keeps the earlier detection.
        if best is None or (detection.box.area, detection.score) > (best.box.area, best.score):
            best = detection
    return best


def by_score(detections: Iterable[PhraseDetection]) -> list[PhraseDetection]:
    """Highest score first; equal scores keep their order (a stable sort)."""
    return sorted(detections, key=lambda d: -d.score)


def nms(detections: Iterable[PhraseDetection], iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> list[PhraseDetection]:
    """Greedy non-maximum suppression, highest score first: a box whose IoU with a kept box is greater than
    ``iou_threshold`` is dropped. Returns the kept detections by score. Boxes without area are dropped."""
    kept: list[PhraseDetection] = []
    for detection in by_score(d for d in detections if d.box.area > 0):
        if all(box_iou(detection.box, other.box) <= iou_threshold for other in kept):
            kept.append(detection)
    return kept


def top_k(
    detections: Iterable[PhraseDetection], k: int, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> list[PhraseDetection]:
    """The ``k`` best-scoring detections that survive :func:`nms`."""
    return nms(detections, iou_threshold)[:k]


def select_boxes(
    detections: Iterable[PhraseDetection], phrases: Sequence[str] | None = None, params: SelectParams = DEFAULT_SELECT
) -> dict[str, tuple[PhraseDetection, ...]]:
    """The chosen detections per phrase, in ``phrases`` order (a phrase with none maps to an empty tuple).

    ``phrases`` None: the phrases the detections carry, in order of first appearance. Detections of a phrase
    not in ``phrases`` are ignored (a detector adapter maps labels to phrases, see
    :func:`lib_garment.segment.phrases.assign_phrase`).
    """
    passing = filter_detections(detections, params.box_threshold, params.text_threshold)
    if phrases is None:
        phrases = list(dict.fromkeys(d.phrase for d in passing))
    grouped: dict[str, list[PhraseDetection]] = {phrase: [] for phrase in phrases}
    for detection in passing:
        if detection.phrase in grouped:
            grouped[detection.phrase].append(detection)
    chosen: dict[str, tuple[PhraseDetection, ...]] = {}
    for phrase, group in grouped.items():
        if params.mode == "largest":
            best = largest(group)
            chosen[phrase] = (best,) if best is not None else ()
        elif params.mode == "all":
            chosen[phrase] = tuple(nms(group, params.iou_threshold))
        else:
            chosen[phrase] = tuple(top_k(group, params.top_k, params.iou_threshold))
    return chosen
