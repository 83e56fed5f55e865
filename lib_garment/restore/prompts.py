"""Prompts per detection, written the way ADetailer users already write them (host contract §6).

A prompt text is a ``[SEP]``-separated list: the n-th detection gets the n-th entry, and detections beyond the
list get the last one (ADetailer's ``i2i_prompts_replace``: ``prompts[min(j, len - 1)]``). In an entry,
``[PROMPT]`` stands for the main prompt, an empty entry means the main prompt, and an entry that is exactly
``[SKIP]`` leaves that detection as it is.

Per kind: a face gets the face prompt list (indexed by its rank among the faces), a hand the hand list (by its
rank among the hands); when the kind's list is empty, the shared restore prompt list applies (indexed by the
detection's rank among all), and when that is empty too, the main prompt.
"""

from __future__ import annotations

import re

from lib_garment.errors import BadInput

SEP = "[SEP]"
SKIP = "[SKIP]"
PROMPT = "[PROMPT]"
_SPLIT = re.compile(r"\s*\[SEP\]\s*")
_SKIP = re.compile(r"^\s*\[SKIP\]\s*$")


def split_prompts(text: str) -> list[str]:
    """The ``[SEP]`` entries of ``text`` (at least one, maybe empty), stripped of surrounding spaces."""
    if not isinstance(text, str):
        raise BadInput(f"a prompt must be text, got {type(text).__name__}")
    return [part.strip() for part in _SPLIT.split(text.strip())]


def prompt_for(prompts_text: str, index: int, main_prompt: str = "") -> str | None:
    """The prompt of the ``index``-th detection (0-based) from a ``[SEP]`` list; None for ``[SKIP]``."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise BadInput(f"a detection index must be a whole number >= 0, got {index!r}")
    if not isinstance(main_prompt, str):
        raise BadInput(f"the main prompt must be text, got {type(main_prompt).__name__}")
    parts = split_prompts(prompts_text)
    entry = parts[min(index, len(parts) - 1)]
    if _SKIP.match(entry):
        return None
    if not entry:
        return main_prompt
    return entry.replace(PROMPT, main_prompt).strip() if PROMPT in entry else entry


def count_entries(prompts_text: str) -> int:
    """How many ``[SEP]`` entries the text has (1 for a plain prompt, 0 for an empty text)."""
    return 0 if not prompts_text.strip() else len(split_prompts(prompts_text))


def kind_prompt(kind_text: str, shared_text: str, main_prompt: str, kind_index: int, index: int) -> str | None:
    """The prompt for a detection: the kind's list at its rank among its kind, else the shared list at its rank
    among all, else the main prompt (see the module docstring)."""
    if kind_text.strip():
        return prompt_for(kind_text, kind_index, main_prompt)
    if shared_text.strip():
        return prompt_for(shared_text, index, main_prompt)
    return main_prompt
