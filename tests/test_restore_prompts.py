"""ADetailer-style prompt lists: [SEP], [PROMPT], [SKIP], and the per-kind choice."""

from __future__ import annotations

import pytest

from lib_garment.errors import BadInput
from lib_garment.restore.prompts import count_entries, kind_prompt, prompt_for, split_prompts


def test_sep_gives_each_detection_its_entry_and_the_last_one_repeats() -> None:
    text = "smiling face [SEP]  serious face[SEP]face with glasses"
    assert [prompt_for(text, i) for i in range(5)] == [
        "smiling face",
        "serious face",
        "face with glasses",
        "face with glasses",
        "face with glasses",
    ]
    assert count_entries(text) == 3
    assert count_entries("  ") == 0
    assert count_entries("one prompt") == 1


def test_prompt_placeholder_and_empty_entries_use_the_main_prompt() -> None:
    main = "a model in a linen shirt"
    assert prompt_for("[PROMPT], detailed face", 0, main) == "a model in a linen shirt, detailed face"
    assert prompt_for("detailed [SEP] [SEP] hands", 1, main) == main
    assert prompt_for("", 3, main) == main


def test_skip_leaves_that_detection_alone() -> None:
    text = "face [SEP] [SKIP] [SEP] other face"
    assert prompt_for(text, 0) == "face"
    assert prompt_for(text, 1) is None
    assert prompt_for(text, 2) == "other face"
    assert prompt_for("[SKIP] this", 0) == "[SKIP] this"  # only an entry that is exactly [SKIP]


def test_split_keeps_empty_entries() -> None:
    assert split_prompts("a [SEP] [SEP] b") == ["a", "", "b"]


def test_kind_prompt_prefers_the_kind_then_the_shared_list_then_the_main_prompt() -> None:
    assert kind_prompt("face A [SEP] face B", "shared", "main", kind_index=1, index=0) == "face B"
    assert kind_prompt("", "shared 0 [SEP] shared 1", "main", kind_index=0, index=1) == "shared 1"
    assert kind_prompt(" ", "", "main", kind_index=4, index=7) == "main"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("face", -1), "detection index must be a whole number >= 0"),
        (("face", 1.0), "detection index"),
        (("face", True), "detection index"),
        ((None, 0), "a prompt must be text"),
        (("face", 0, 3), "the main prompt must be text"),
    ],
)
def test_bad_prompt_arguments_are_named(args: tuple, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        prompt_for(*args)
