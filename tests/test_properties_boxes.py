"""Properties of box selection over random detections (hypothesis): the paper's largest box with its
tie-break, greedy NMS as documented, top k as NMS's first k, and the selection per phrase."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lib_garment.segment.boxes import Box, PhraseDetection, SelectParams, box_iou, largest, nms, select_boxes, top_k
from tests.properties import BOUNDED

PHRASES = ("dress", "hat", "shoe")
# Small whole coordinates make equal areas, touching and identical boxes common (the cases rules decide).
COORD = st.integers(0, 12).map(float)
SCORE = st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9])


@st.composite
def detections(draw: st.DrawFn, phrases: tuple[str, ...] = PHRASES) -> PhraseDetection:
    box = Box(draw(COORD), draw(COORD), draw(COORD), draw(COORD))  # corners in any order, zero areas included
    text = draw(st.none() | SCORE)
    return PhraseDetection(box, draw(SCORE), draw(st.sampled_from(phrases)), text_score=text)


DETECTIONS = st.lists(detections(), max_size=8)
IOU = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])


@BOUNDED
@given(detections(), detections())
def test_iou_is_symmetric_bounded_and_one_with_itself(a, b) -> None:
    iou = box_iou(a.box, b.box)
    assert 0.0 <= iou <= 1.0
    assert iou == box_iou(b.box, a.box)
    assert box_iou(a.box, a.box) == (1.0 if a.box.area > 0 else 0.0)


@BOUNDED
@given(DETECTIONS)
def test_largest_is_the_first_of_the_greatest_area_then_score(found) -> None:
    with_area = [d for d in found if d.box.area > 0]
    chosen = largest(found)
    if not with_area:
        assert chosen is None
        return
    best = max((d.box.area, d.score) for d in with_area)
    assert chosen is next(d for d in with_area if (d.box.area, d.score) == best)


@BOUNDED
@given(DETECTIONS, IOU)
def test_nms_keeps_distinct_boxes_and_drops_only_overlaps_with_a_better_kept_one(found, threshold) -> None:
    kept = nms(found, threshold)
    assert all(d.box.area > 0 for d in kept)
    assert [d.score for d in kept] == sorted((d.score for d in kept), reverse=True)
    for i, a in enumerate(kept):
        assert all(box_iou(a.box, b.box) <= threshold for b in kept[i + 1 :])
    ids = {id(d) for d in kept}
    position = {id(d): i for i, d in enumerate(found)}  # by identity: equal detections may repeat
    for dropped in (d for d in found if d.box.area > 0 and id(d) not in ids):
        # Suppressed by a kept box that came first in score order (higher score, or equal and earlier).
        assert any(
            box_iou(dropped.box, k.box) > threshold
            and (k.score > dropped.score or (k.score == dropped.score and position[id(k)] < position[id(dropped)]))
            for k in kept
        )


@BOUNDED
@given(DETECTIONS, st.integers(1, 4), IOU)
def test_top_k_is_the_first_k_that_nms_keeps(found, k, threshold) -> None:
    assert top_k(found, k, threshold) == nms(found, threshold)[:k]


@BOUNDED
@given(
    DETECTIONS,
    st.sampled_from(["largest", "all", "topk"]),
    st.integers(1, 3),
    IOU,
    st.none() | SCORE,
    st.none() | SCORE,
)
def test_selection_per_phrase_follows_the_mode_after_the_thresholds(found, mode, k, iou, box_t, text_t) -> None:
    params = SelectParams(mode=mode, top_k=k, iou_threshold=iou, box_threshold=box_t, text_threshold=text_t)
    chosen = select_boxes(found, PHRASES, params)
    assert list(chosen) == list(PHRASES)
    for phrase, picked in chosen.items():
        passing = [
            d
            for d in found
            if d.phrase == phrase
            and (box_t is None or d.score > box_t)
            and (text_t is None or d.text_score is None or d.text_score > text_t)
        ]
        if mode == "largest":
            best = largest(passing)
            assert picked == (() if best is None else (best,))
        elif mode == "all":
            assert list(picked) == nms(passing, iou)
        else:
            assert list(picked) == nms(passing, iou)[:k]
