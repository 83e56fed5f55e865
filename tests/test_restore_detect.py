"""Which detections are restored, and in which order: the pure rules, on synthetic detections."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.restore.detect import (
    FilterParams,
    PartDetection,
    above_confidence,
    area_ratio,
    detect_all,
    filter_detections,
    keep_classes,
    keep_kinds,
    sort_detections,
    top_k,
    top_k_per_kind,
    within_area_ratio,
)

SHAPE = (200, 400)  # H, W: 80,000 px


def det(
    x0: float, y0: float, x1: float, y1: float, score: float = 0.9, kind: str = "face", label: str = ""
) -> PartDetection:
    return PartDetection((x0, y0, x1, y1), score, kind, label)  # type: ignore[arg-type]


def boxes(detections: list[PartDetection]) -> list[tuple[float, float, float, float]]:
    return [d.box for d in detections]


def test_a_detection_knows_its_geometry_and_defaults_its_label_to_its_kind() -> None:
    d = det(10, 20, 50, 100, 0.5, "hand")
    assert (d.width, d.height, d.area, d.center) == (40, 80, 3200, (30, 60))
    assert d.label == "hand"
    assert area_ratio(d, SHAPE) == pytest.approx(3200 / 80_000)
    mask = np.zeros(SHAPE, np.uint8)
    mask[20:100, 10:50] = 1
    with_mask = PartDetection((10, 20, 50, 100), 0.5, "hand", mask=mask)
    assert with_mask.mask is not None
    assert with_mask.mask.dtype == bool
    assert int(with_mask.mask.sum()) == 3200


@pytest.mark.parametrize(
    ("box", "score", "kind", "message"),
    [
        ((10, 10, 10, 20), 0.5, "face", "x1 > x0"),
        ((10, 10, 20), 0.5, "face", "four"),
        ((0, 0, float("nan"), 5), 0.5, "face", "finite"),
        ((0, 0, 5, 5), 1.5, "face", "score must be within 0..1"),
        ((0, 0, 5, 5), "high", "face", "score must be a number"),
        ((0, 0, 5, 5), 0.5, "foot", "kind must be one of face, hand"),
    ],
)
def test_a_bad_detection_is_refused_with_the_reason(box, score, kind, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        PartDetection(box, score, kind)


def test_confidence_keeps_scores_at_or_above_the_threshold() -> None:
    found = [det(0, 0, 10, 10, 0.29), det(0, 0, 10, 10, 0.3), det(0, 0, 10, 10, 0.8)]
    assert [d.score for d in above_confidence(found, 0.3)] == [0.3, 0.8]


def test_area_ratio_bounds_are_inclusive() -> None:
    # 80,000 px image: 40x40 = 2 %, 80x100 = 10 %, 200x200 = 50 %
    small, medium, large = det(0, 0, 40, 40), det(0, 0, 80, 100), det(0, 0, 200, 200)
    kept = within_area_ratio([small, medium, large], SHAPE, 0.02, 0.10)
    assert kept == [small, medium]
    assert within_area_ratio([small, medium, large], SHAPE, 0.021, 1.0) == [medium, large]


def test_top_k_keeps_the_largest_or_most_confident_in_their_original_order() -> None:
    a, b, c, d = det(0, 0, 10, 10, 0.9), det(0, 0, 30, 30, 0.2), det(0, 0, 20, 20, 0.5), det(0, 0, 5, 5, 0.95)
    found = [a, b, c, d]
    assert top_k(found, 2, "area") == [b, c]
    assert top_k(found, 2, "confidence") == [a, d]
    assert top_k(found, 0, "area") == found
    assert top_k(found, 9, "area") == found


def test_top_k_ties_keep_the_earlier_detection() -> None:
    a, b, c = det(0, 0, 10, 10), det(50, 0, 60, 10), det(100, 0, 110, 10)
    assert top_k([a, b, c], 2, "area") == [a, b]


def test_each_sort_order() -> None:
    # centres: left (30, 100) small, middle-right (230, 100) large, far right (370, 20) medium; image centre (200, 100)
    left = det(20, 90, 40, 110, 0.5)
    middle = det(180, 50, 280, 150, 0.7)
    right = det(340, 0, 400, 40, 0.9)
    found = [right, left, middle]
    assert sort_detections(found, "none", SHAPE) == found
    assert sort_detections(found, "left-right", SHAPE) == [left, middle, right]
    assert sort_detections(found, "center-out", SHAPE) == [middle, left, right]  # 30, 170, 188 px from centre
    assert sort_detections(found, "area", SHAPE) == [middle, right, left]
    assert sort_detections(found, "confidence", SHAPE) == [right, middle, left]


def test_sorting_is_stable() -> None:
    a, b = det(10, 0, 20, 10, 0.5), det(10, 50, 20, 60, 0.5)  # same left edge, same area, same score
    for order in ("left-right", "area", "confidence"):
        assert sort_detections([a, b], order, SHAPE) == [a, b]
        assert sort_detections([b, a], order, SHAPE) == [b, a]


def test_kinds_and_model_classes() -> None:
    face, hand, head = det(0, 0, 9, 9, label="face"), det(0, 0, 9, 9, kind="hand"), det(0, 0, 9, 9, label="Head")
    assert keep_kinds([face, hand, head], ("hand",)) == [hand]
    assert keep_classes([face, hand, head], ("head",)) == [head]  # case does not matter
    assert keep_classes([face, hand, head], ()) == [face, hand, head]


def test_the_steps_run_in_adetailers_order() -> None:
    # The largest detection is over max_ratio, so it is gone before top-k counts: top-1 is then the next largest.
    huge = det(0, 0, 400, 200, 0.9)  # 100 %
    big = det(300, 10, 380, 90, 0.9)  # 8 %
    small = det(10, 10, 50, 50, 0.9)  # 2 %
    faint = det(100, 10, 190, 100, 0.1)  # 10 %, under the confidence threshold
    a_hand = det(200, 100, 290, 190, 0.9, "hand")
    params = FilterParams(confidence=0.3, max_ratio=0.5, top_k=1, kinds=("face",))
    assert filter_detections([huge, small, faint, big, a_hand], SHAPE, params) == [big]
    # both kinds, top-1 of each kind (ADetailer's k is per model): the largest face left (big) and the only hand,
    # then sorted left to right; the smaller face does not compete with the hand
    params = FilterParams(confidence=0.3, max_ratio=0.5, top_k=1, sort="left-right")
    assert filter_detections([huge, big, faint, small, a_hand], SHAPE, params) == [a_hand, big]
    params = FilterParams(confidence=0.3, max_ratio=0.5, top_k=2, sort="left-right")
    assert filter_detections([huge, big, faint, small, a_hand], SHAPE, params) == [small, a_hand, big]


def test_top_k_counts_each_kind_apart() -> None:
    faces = [det(0, 0, 30, 30, 0.5), det(40, 0, 60, 20, 0.9), det(70, 0, 80, 10, 0.7)]
    hands = [det(0, 50, 10, 60, 0.4, "hand"), det(20, 50, 60, 90, 0.6, "hand")]
    mixed = [faces[0], hands[0], faces[1], hands[1], faces[2]]
    assert top_k_per_kind(mixed, 1, "area") == [faces[0], hands[1]]  # the largest of each, in the detector's order
    assert top_k_per_kind(mixed, 2, "confidence") == [hands[0], faces[1], hands[1], faces[2]]
    assert top_k_per_kind(mixed, 0, "area") == mixed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"confidence": 1.2}, "confidence must be a number within 0..1"),
        ({"min_ratio": 0.5, "max_ratio": 0.2}, "must not exceed max_ratio"),
        ({"top_k": -1}, "top_k must be a whole number"),
        ({"top_k": 1.5}, "top_k must be a whole number"),
        ({"rank_by": "size"}, "rank_by must be one of area, confidence"),
        ({"sort": "random"}, "sort must be one of none, left-right"),
        ({"kinds": ("face", "foot")}, "kinds must be a non-empty choice of face, hand"),
        ({"kinds": ()}, "kinds must be a non-empty choice"),
        ({"classes": ("face", " ")}, "classes must be non-empty class names"),
    ],
)
def test_bad_filter_settings_are_named(fields: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        FilterParams(**fields)


def test_a_single_kind_given_as_text_is_one_kind() -> None:
    assert FilterParams(kinds="hand").kinds == ("hand",)  # type: ignore[arg-type]


def test_detect_all_concatenates_detectors_in_order_and_refuses_a_wrong_result() -> None:
    face, hand = det(0, 0, 9, 9), det(5, 5, 20, 20, kind="hand")

    class Scripted:
        def __init__(self, name: str, result: object) -> None:
            self.name, self.result = name, result

        def __call__(self, image: np.ndarray) -> object:
            return self.result

    image = np.zeros((32, 32, 3), np.uint8)
    assert detect_all(image, [Scripted("faces", [face]), Scripted("hands", [hand])]) == [face, hand]
    assert detect_all(image, Scripted("faces", [face])) == [face]
    with pytest.raises(TypeError, match="detector broken must return a list of PartDetection"):
        detect_all(image, Scripted("broken", np.zeros((1, 4))))
