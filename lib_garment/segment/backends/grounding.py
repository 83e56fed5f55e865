"""What both GroundingDINO backends share: where each phrase sits in the caption's tokens, and the model's
per-token scores and normalised boxes turned into detections of the requested phrases.

GroundingDINO scores every query box against every caption token. The caption is the phrases joined as
``"white t-shirt . belt ."`` (:func:`lib_garment.segment.phrases.caption`), so each phrase owns a known run of
tokens. Rather than decoding the tokens above the text threshold into a label and guessing its phrase back
(GroundingDINO's own ``predict``), each box gets the phrase whose tokens score highest:

- ``score``: the box's highest token probability over the whole caption (GroundingDINO's box confidence);
- ``phrase``: the phrase owning the highest-scoring token among the phrases' tokens;
- ``text_score``: that token's probability (the phrase "passes" the text threshold exactly when one of its
  tokens would appear in GroundingDINO's decoded label).

Numpy only: the same code runs on either backend's outputs, in either process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.segment.boxes import Box, PhraseDetection
from lib_garment.segment.phrases import caption

MAX_TEXT_TOKENS = 256  # GroundingDINO's max_text_len (both implementations)


def phrase_token_spans(tokenize: Callable[[str], list[str]], phrases: Sequence[str]) -> list[tuple[int, int]]:
    """Token positions ``[start, end)`` of each phrase in the encoded caption (``[CLS]`` at 0).

    BERT's WordPiece splits on whitespace and punctuation first, so the caption's tokens are each phrase's
    tokens followed by one "." token; the whole caption is tokenised too, to prove it.
    """
    spans = []
    position = 1  # [CLS]
    for phrase in phrases:
        count = len(tokenize(phrase))
        spans.append((position, position + count))
        position += count + 1  # the " ." after it
    whole = len(tokenize(caption(phrases)))
    if whole != position - 1:
        raise ValueError(
            f"the tokenizer splits {caption(phrases)!r} into {whole} tokens, not the {position - 1} expected"
        )
    if position + 1 > MAX_TEXT_TOKENS:  # + [SEP]
        raise BadInput(
            f"the phrases are {position + 1} tokens long; GroundingDINO reads at most {MAX_TEXT_TOKENS}: shorten them"
        )
    return spans


def detections_from_scores(
    probabilities: np.ndarray,
    boxes_cxcywh: np.ndarray,
    spans: Sequence[tuple[int, int]],
    phrases: Sequence[str],
    width: int,
    height: int,
    box_threshold: float,
    text_threshold: float,
) -> list[dict[str, object]]:
    """Detections as plain dicts (``box`` x0, y0, x1, y1 in pixels of the ``width x height`` image the model
    saw, ``score``, ``phrase``, ``text_score``), highest score first, those passing both thresholds (strictly
    greater, as GroundingDINO compares).

    ``probabilities``: (queries, tokens) sigmoid scores; ``boxes_cxcywh``: (queries, 4) centre and size
    normalised to the image (GroundingDINO's output for an unpadded image).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    boxes = np.asarray(boxes_cxcywh, dtype=np.float64)
    if probabilities.ndim != 2 or boxes.shape != (probabilities.shape[0], 4):
        raise ValueError(f"scores {probabilities.shape} and boxes {boxes.shape} do not belong together")
    if not phrases or probabilities.shape[0] == 0:
        return []
    tokens = probabilities.shape[1]
    per_phrase = np.full((probabilities.shape[0], len(phrases)), -np.inf)
    for index, (start, stop) in enumerate(spans):
        end = min(stop, tokens)  # tokens past the model's text length were cut off
        if end > start:
            per_phrase[:, index] = probabilities[:, start:end].max(axis=1)
    best = per_phrase.argmax(axis=1)
    text_scores = per_phrase[np.arange(len(best)), best]
    scores = probabilities.max(axis=1)
    keep = (scores > box_threshold) & (text_scores > text_threshold) & np.isfinite(text_scores)
    cx, cy, w, h = boxes.T
    corners = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], 1)
    found = [
        {
            "box": tuple(float(v) for v in corners[q]),
            "score": float(scores[q]),
            "phrase": phrases[int(best[q])],
            "text_score": float(text_scores[q]),
        }
        for q in np.nonzero(keep & np.isfinite(corners).all(axis=1))[0]
    ]
    found.sort(key=lambda d: -float(d["score"]))  # type: ignore[arg-type]
    return found


def to_detections(found: Sequence[dict[str, object]]) -> list[PhraseDetection]:
    """The engine's plain dicts as :class:`PhraseDetection` values (in the caller's process)."""
    return [
        PhraseDetection(Box(*d["box"]), d["score"], str(d["phrase"]), d["text_score"])  # type: ignore[arg-type, misc]
        for d in found
    ]
