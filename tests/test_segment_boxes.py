"""Phrases and box selection: the paper's largest box (with its tie-break), NMS for every instance, top k."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.segment.boxes import (
    Box,
    PhraseDetection,
    SelectParams,
    box_iou,
    filter_detections,
    largest,
    nms,
    select_boxes,
    top_k,
)
from lib_garment.segment.phrases import assign_phrase, caption, normalise_phrase, parse_phrases


def det(
    x0: float, y0: float, x1: float, y1: float, score: float = 0.5, phrase: str = "dress", **kw: float
) -> PhraseDetection:
    return PhraseDetection(Box(x0, y0, x1, y1), score, phrase, **kw)


# Phrases


def test_phrases_are_split_on_dots_trimmed_lowercased_and_empty_parts_dropped() -> None:
    assert parse_phrases("dress . belt") == ("dress", "belt")
    assert parse_phrases("  White   T-Shirt .. . Belt .") == ("white t-shirt", "belt")
    assert parse_phrases("dress . Dress . belt") == ("dress", "belt")  # a repeat would select the same boxes twice
    assert parse_phrases("") == ()
    assert parse_phrases(" . . ") == ()
    assert normalise_phrase("\tRed\n Scarf ") == "red scarf"


def test_caption_is_groundingdino_text() -> None:
    assert caption(("dress", "belt")) == "dress . belt ."
    assert caption(parse_phrases("White T-shirt")) == "white t-shirt ."


def test_decoded_labels_map_back_to_phrases() -> None:
    phrases = ("white t-shirt", "belt", "leather belt")
    assert assign_phrase("white t - shirt", phrases) == "white t-shirt"  # how the tokenizer decodes it
    assert assign_phrase("shirt", phrases) == "white t-shirt"
    assert assign_phrase("leather belt", phrases) == "leather belt"  # same words beat a partial match
    assert assign_phrase("belt", phrases) == "belt"
    assert assign_phrase("white belt", phrases) == "white t-shirt"  # one word each: the earlier phrase
    assert assign_phrase("hat", phrases) is None


# Boxes and detections


def test_box_area_is_the_papers_sigma_in_continuous_coordinates() -> None:
    assert Box(10, 20, 30, 25).area == 100.0  # no "+1": x1, y1 are far edges
    assert Box(30, 25, 10, 20).area == 100.0  # |(x1 - x0)(y1 - y0)|
    assert Box(30, 25, 10, 20).ordered() == Box(10, 20, 30, 25)
    assert Box(-5, 3, 50, 80).clipped(40, 60) == Box(0, 3, 40, 60)


def test_model_numbers_become_plain_floats_and_non_finite_ones_are_refused() -> None:
    d = PhraseDetection(Box(*np.float32([1, 2, 3, 4])), np.float32(0.75), "dress", np.float64(0.5))
    assert all(type(v) is float for v in (*d.box.as_tuple(), d.score, d.text_score))
    assert d.to_json() == {"phrase": "dress", "box": [1.0, 2.0, 3.0, 4.0], "score": 0.75, "text_score": 0.5}
    with pytest.raises(ValueError, match="finite"):
        Box(0, 0, float("nan"), 1)
    with pytest.raises(ValueError, match="finite"):
        det(0, 0, 1, 1, score=float("inf"))


def test_iou() -> None:
    a = Box(0, 0, 10, 10)
    assert box_iou(a, a) == 1.0
    assert box_iou(a, Box(10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert box_iou(a, Box(0, 0, 10, 5)) == 0.5
    assert box_iou(a, Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou(Box(10, 10, 0, 0), Box(5, 0, 15, 10)) == pytest.approx(50 / 150)  # corner order ignored
    assert box_iou(Box(1, 1, 1, 1), Box(1, 1, 1, 1)) == 0.0


# Thresholds


def test_thresholds_pass_only_strictly_greater_scores() -> None:
    at, above = det(0, 0, 5, 5, score=0.35), det(0, 0, 5, 5, score=0.3500001)
    assert filter_detections([at, above], box_threshold=0.35) == [above]
    low_text = det(0, 0, 5, 5, score=0.9, text_score=0.25)
    high_text = det(0, 0, 5, 5, score=0.9, text_score=0.26)
    no_text = det(0, 0, 5, 5, score=0.9)
    kept = filter_detections([low_text, high_text, no_text], box_threshold=0.35, text_threshold=0.25)
    assert kept == [high_text, no_text]  # an unreported text score cannot fail the text threshold
    assert filter_detections([at, low_text]) == [at, low_text]  # no thresholds: the detector applied them


# Largest (the paper's rule)


def test_largest_box_wins_whatever_its_score() -> None:
    small = det(0, 0, 10, 10, score=0.9)
    big = det(0, 0, 30, 20, score=0.4)
    medium = det(5, 5, 25, 25, score=0.6)
    assert largest([small, big, medium]) is big
    assert largest([medium, small, big]) is big
    assert largest([]) is None


def test_largest_ties_go_to_the_higher_score_then_to_the_first() -> None:
    a = det(0, 0, 10, 10, score=0.5)
    b = det(50, 50, 60, 60, score=0.7)  # same area, higher score
    c = det(20, 20, 30, 30, score=0.7)  # same area, same score as b
    assert largest([a, b]) is b
    assert largest([b, a]) is b
    assert largest([a, b, c]) is b  # full tie: first come
    assert largest([a, c, b]) is c
    assert largest([det(0, 0, 10, 10, score=0.5), det(10, 10, 0, 0, score=0.5)]).box == Box(0, 0, 10, 10)


def test_boxes_without_area_are_never_selected() -> None:
    flat = det(0, 0, 100, 0, score=0.99)
    assert largest([flat]) is None
    assert nms([flat]) == []
    assert select_boxes([flat], ["dress"]) == {"dress": ()}


def test_one_selection_per_phrase_in_phrase_order() -> None:
    dress_small, dress_big = det(0, 0, 10, 10, phrase="dress"), det(0, 0, 40, 40, phrase="dress")
    belt = det(10, 18, 30, 22, phrase="belt")
    stranger = det(0, 0, 90, 90, phrase="hat")
    chosen = select_boxes([belt, dress_small, stranger, dress_big], ["dress", "belt", "shoes"])
    assert list(chosen) == ["dress", "belt", "shoes"]
    assert chosen == {"dress": (dress_big,), "belt": (belt,), "shoes": ()}
    # Without phrases: those the detections carry, in order of first appearance.
    assert list(select_boxes([belt, dress_small, stranger])) == ["belt", "dress", "hat"]


def test_selection_applies_the_thresholds_before_choosing() -> None:
    big_weak = det(0, 0, 90, 90, score=0.3)
    small_sure = det(0, 0, 10, 10, score=0.8)
    params = SelectParams(box_threshold=0.35)
    assert select_boxes([big_weak, small_sure], ["dress"], params) == {"dress": (small_sure,)}


# Every instance (NMS) and top k


def test_nms_keeps_every_instance_and_drops_duplicates() -> None:
    left_shoe = det(0, 0, 10, 10, score=0.8, phrase="shoes")
    left_again = det(1, 0, 11, 10, score=0.6, phrase="shoes")  # IoU 9/11 with the left shoe
    right_shoe = det(30, 0, 40, 10, score=0.7, phrase="shoes")
    assert nms([left_again, right_shoe, left_shoe]) == [left_shoe, right_shoe]
    chosen = select_boxes([left_again, right_shoe, left_shoe], ["shoes"], SelectParams(mode="all"))
    assert chosen == {"shoes": (left_shoe, right_shoe)}


def test_nms_suppresses_only_above_the_iou_threshold() -> None:
    a, b = det(0, 0, 10, 10, score=0.9), det(0, 0, 10, 5, score=0.8)  # IoU exactly 0.5
    assert nms([a, b], iou_threshold=0.5) == [a, b]
    assert nms([a, b], iou_threshold=0.49) == [a]
    assert nms([a, b], iou_threshold=1.0) == [a, b]  # 1.0 switches suppression off


def test_nms_orders_by_score_with_ties_in_input_order() -> None:
    boxes = [det(20 * i, 0, 20 * i + 10, 10, score=s) for i, s in enumerate([0.5, 0.9, 0.5, 0.7])]
    assert nms(boxes) == [boxes[1], boxes[3], boxes[0], boxes[2]]


def test_top_k_takes_the_best_distinct_boxes() -> None:
    first = det(0, 0, 10, 10, score=0.9)
    duplicate = det(0, 0, 10, 9, score=0.85)  # the same garment again
    second = det(50, 0, 60, 10, score=0.6)
    third = det(100, 0, 110, 10, score=0.3)
    assert top_k([third, duplicate, second, first], 2) == [first, second]
    assert top_k([third, second], 5) == [second, third]
    params = SelectParams(mode="topk", top_k=2)
    assert select_boxes([third, duplicate, second, first], ["dress"], params) == {"dress": (first, second)}


def test_select_params_are_checked() -> None:
    with pytest.raises(ValueError, match="select mode"):
        SelectParams(mode="biggest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        SelectParams(mode="topk", top_k=0)
    with pytest.raises(ValueError, match="iou_threshold"):
        SelectParams(iou_threshold=1.5)


# Edges found by mutation testing (tools/mutation.sh): sub-pixel boxes, one-sided overlaps, the accepted ends


def test_boxes_under_one_square_pixel_are_boxes_like_any_other() -> None:
    tiny = det(0.2, 0.2, 0.7, 0.7)  # area 0.25
    assert box_iou(tiny.box, tiny.box) == 1.0
    assert largest([tiny]) is tiny
    assert nms([tiny]) == [tiny]
    half = Box(0, 0, 0.5, 1)
    assert box_iou(half, Box(0.25, 0, 0.75, 1)) == pytest.approx(0.25 / 0.75)  # a 0.25 px wide overlap counts


def test_a_box_without_area_does_not_end_the_search_for_the_largest() -> None:
    flat, real = det(0, 0, 100, 0, score=0.99), det(0, 0, 10, 10)
    assert largest([flat, real]) is real


def test_iou_needs_overlap_on_both_axes() -> None:
    a = Box(0, 0, 10, 10)
    assert box_iou(a, Box(2, 20, 8, 30)) == 0.0  # overlapping columns, rows apart
    assert box_iou(a, Box(20, 2, 30, 8)) == 0.0  # overlapping rows, columns apart
    assert box_iou(a, Box(0, 5, 10, 15)) == pytest.approx(50 / 150)  # offset in y only
    assert box_iou(Box(0, 3, 10, 7), Box(0, 5, 10, 9)) == pytest.approx(20 / 60)


def test_clipping_keeps_far_edges_inside_the_first_pixel() -> None:
    assert Box(-2, -2, 0.5, 0.25).clipped(40, 60) == Box(0, 0, 0.5, 0.25)
    assert Box(-3, -3, -1, -1).clipped(40, 60) == Box(0, 0, 0, 0)  # entirely outside: nothing left


def test_select_params_accept_both_ends_of_the_iou_range_and_name_the_modes() -> None:
    assert SelectParams(iou_threshold=0.0).iou_threshold == 0.0
    assert SelectParams(iou_threshold=1.0).iou_threshold == 1.0
    with pytest.raises(ValueError, match=r"^select mode must be one of largest, all, topk, got 'biggest'$"):
        SelectParams(mode="biggest")  # type: ignore[arg-type]
