"""The shared request model: same behaviour on pydantic 1 (A1111) and 2 (Forge); bad input names the field."""

from __future__ import annotations

import json

import pytest

from lib_garment.errors import BadInput
from lib_garment.request import GarmentRequest, parse_request, request_json_schema


def test_empty_settings_give_the_paper_defaults() -> None:
    request = parse_request({})
    assert request.version == 1
    assert request.task == "background"
    assert request.segment.select == "largest"
    assert request.segment.min_area == 50
    assert request.control is None


def test_none_counts_as_empty_settings() -> None:
    assert parse_request(None) == GarmentRequest()


def test_nested_fields_validate() -> None:
    request = parse_request(
        {
            "task": "model",
            "segment": {"phrases": "dress . belt", "select": "all"},
            "control": [{"kind": "pose", "weight": 0.8}],
        }
    )
    assert request.segment.phrases == "dress . belt"
    assert request.control[0].kind == "pose"
    assert request.control[0].weight == 0.8


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"taks": "model"}, "taks: unknown field"),
        ({"segment": {"min_aera": 3}}, "segment.min_aera: unknown field"),
        ({"task": "shoes"}, "task:"),
        ({"segment": {"box_threshold": 1.5}}, "segment.box_threshold:"),
        ({"control": [{"kind": "canny", "weight": 3}]}, "control.0.weight:"),
        ({"control": [{"kind": "canny", "guidance_start": 0.9, "guidance_end": 0.1}]}, "guidance_start must not"),
        ({"version": 2}, "version:"),
    ],
)
def test_bad_input_names_the_field(settings: dict, named: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_request(settings)
    assert named in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize("preset", ["marketplace-amazon", ""])
def test_a_preset_is_refused_not_ignored(preset: str) -> None:
    """Presets do not exist yet: a value would silently do nothing, so it is refused, naming the field."""
    with pytest.raises(BadInput) as caught:
        parse_request({"preset": preset, "prompt": "on a beach"})
    assert str(caught.value) == (
        "invalid Garment Studio request: preset: marketplace presets are not available yet; leave it out"
    )
    with pytest.raises(BadInput, match="preset: must be a string"):
        parse_request({"preset": 3})
    assert parse_request({"preset": None}).preset is None  # null is the same as leaving it out
    assert parse_request({}).preset is None
    assert "preset" in request_json_schema()["properties"]  # still named, so clients learn why it is refused


@pytest.mark.parametrize("settings", [[True], "task=model", 3])
def test_non_object_settings_are_refused(settings: object) -> None:
    with pytest.raises(BadInput, match="must be a JSON object"):
        parse_request(settings)


def test_every_problem_is_listed() -> None:
    with pytest.raises(BadInput) as caught:
        parse_request({"task": "x", "seed": -5})
    assert "task:" in str(caught.value)
    assert "seed:" in str(caught.value)


def test_schema_is_json_and_forbids_unknown_fields() -> None:
    schema = json.loads(json.dumps(request_json_schema()))
    assert schema["title"] == "GarmentRequest"
    assert schema["additionalProperties"] is False
    assert {"task", "prompt", "segment", "control", "restore", "seed", "version"} <= set(schema["properties"])


def test_round_trip_through_json() -> None:
    request = parse_request({"task": "model", "seed": 7, "restore": {"enabled": True}})
    assert parse_request(json.loads(request.json())) == request


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"seed": 1.9}, "seed: must be an integer, got a number (1.9)"),
        ({"prompt": 5}, "prompt: must be a string, got an integer (5)"),
        ({"generation": {"only_masked": "yes"}}, "generation.only_masked: must be a boolean, got a string"),
        ({"allow_without_controlnet": 1}, "allow_without_controlnet: must be a boolean, got an integer"),
        ({"segment": {"box_threshold": True}}, "segment.box_threshold: must be a number, got a boolean"),
        ({"control": [{"kind": "canny", "weight": "0.5"}]}, "control.0.weight: must be a number, got a string"),
        ({"task": 1}, "task: must be one of 'background', 'model', got an integer"),
        ({"version": True}, "version: must be one of 1, got a boolean"),
        ({"segment": "white shirt"}, "segment: must be an object, got a string"),
    ],
)
def test_wrong_types_are_refused_not_converted(settings: dict, named: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_request(settings)
    assert named in str(caught.value)


def test_whole_numbers_are_fine_numbers() -> None:
    request = parse_request({"generation": {"cfg_scale": 7, "denoising_strength": 1}, "control": [{"kind": "canny"}]})
    assert request.generation.cfg_scale == 7.0
    assert isinstance(request.generation.cfg_scale, float)
    assert request.generation.denoising_strength == 1.0
