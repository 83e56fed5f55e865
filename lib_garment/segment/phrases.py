"""What to look for: the dot-separated phrases of a request, normalised, and GroundingDINO's caption of them."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+")


def normalise_phrase(text: str) -> str:
    """Lowercase, trimmed, runs of whitespace as one space: "  White   T-Shirt " → "white t-shirt"."""
    return " ".join(text.lower().split())


def parse_phrases(text: str) -> tuple[str, ...]:
    """``"Dress . belt ."`` → ``("dress", "belt")``.

    Split on ".", each part normalised (:func:`normalise_phrase`), empty parts dropped, and a phrase given twice
    kept once (the first time), since it would select the same boxes twice. The order is kept: results are
    reported per phrase in this order.
    """
    parts = (normalise_phrase(part) for part in text.split("."))
    return tuple(dict.fromkeys(part for part in parts if part))


def caption(phrases: Iterable[str]) -> str:
    """GroundingDINO's text input for the phrases: lowercase, each followed by " .": ``"dress . belt ."``."""
    return " ".join(f"{phrase} ." for phrase in phrases)


def assign_phrase(label: str, phrases: Iterable[str]) -> str | None:
    """The requested phrase a detector's decoded label belongs to, or None.

    GroundingDINO reports for each box the caption tokens above the text threshold, decoded: "white t - shirt"
    for "white t-shirt", sometimes only part of a phrase ("shirt"), or words of two phrases. A detector adapter
    that knows token spans should set the phrase itself; this is for one that only has the label. Rule: the
    phrase with the same words (punctuation and spacing ignored) wins; otherwise the phrase sharing the most
    words with the label, the earlier phrase on a tie; None when no word is shared.
    """
    words = _WORD.findall(label.lower())
    best, best_shared = None, 0
    for phrase in phrases:
        phrase_words = _WORD.findall(phrase.lower())
        if phrase_words == words:
            return phrase
        shared = len(set(words) & set(phrase_words))
        if shared > best_shared:
            best, best_shared = phrase, shared
    return best
