"""The delivery after the exact composite (lib_garment/presets/deliver.py), host-free: the up-front check of the
output options, the product on a plain colour without a preset, a preset's frame and report, the infotext line
and the pass/fail table; and every shipped preset file loads with each rule citing a source of its own file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.presets.deliver import (
    check_delivery,
    compliance_line,
    deliver,
    report_markdown,
    wants_delivery,
)
from lib_garment.presets.load import SHIPPED_DIR, load_presets, read_preset
from lib_garment.request import parse_request
from tests.presets_support import product_photo, write_preset

FORBIDS_SHADOWS = [{"id": "no-shadow", "kind": "shadow", "value": "forbidden"}]
PNG_SHOP = {"fill": 0.5, "format": "png", "background": "#FFFFFF"}
PNG_RULES = [
    {"id": "white", "kind": "background_colour", "value": "#FFFFFF"},
    {"id": "png-only", "kind": "formats", "value": ["png"]},
    {"id": "big", "kind": "min_longest_side", "value": 5000, "severity": "recommended"},
]


def user_presets(tmp_path: Path):
    """A models folder with two user presets: one forbidding shadows, one PNG shop."""
    folder = tmp_path / "models" / "garment_studio" / "presets"
    write_preset(folder, "strict-shop", canvas={"background": "#FFFFFF"}, rules=FORBIDS_SHADOWS)
    write_preset(folder, "png-shop", canvas=PNG_SHOP, rules=PNG_RULES)
    return tmp_path / "models"


def test_nothing_to_deliver_without_a_preset_or_a_background() -> None:
    photo, alpha = product_photo()
    request = parse_request({})
    assert not wants_delivery(request)
    assert check_delivery(request) is None
    assert deliver(photo, photo, alpha, request) is None


def test_an_unknown_preset_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    models = user_presets(tmp_path)
    with pytest.raises(BadInput) as err:
        check_delivery(parse_request({"preset": "no-such-shop"}), models_dir=models)
    assert err.value.loc == ("request", "preset")
    assert "no preset 'no-such-shop'" in str(err.value)
    assert "png-shop" in str(err.value)
    assert "amazon-main" in str(err.value)  # the shipped ones are listed too


@pytest.mark.parametrize(
    ("fields", "loc", "words"),
    [
        ({"preset": "strict-shop", "output": {"shadow": "contact"}}, ("request", "output", "shadow"), "forbids"),
        ({"output": {"shadow": "drop"}}, ("request", "output", "shadow"), "set output.background or preset"),
        ({"task": "model", "output": {"background": "white"}}, ("request", "output", "background"), "model task"),
        (
            {"output": {"background": "white"}, "restore": {"enabled": True}},
            ("request", "output", "background"),
            "switch restore off",
        ),
    ],
)
def test_output_options_that_cannot_be_honoured_are_refused(tmp_path: Path, fields, loc, words) -> None:
    with pytest.raises(BadInput) as err:
        check_delivery(parse_request(fields), models_dir=user_presets(tmp_path))
    assert err.value.loc == loc
    assert words in str(err.value)


def test_a_shadow_the_preset_allows_passes_the_check(tmp_path: Path) -> None:
    models = user_presets(tmp_path)
    found = check_delivery(parse_request({"preset": "png-shop", "output": {"shadow": "contact"}}), models_dir=models)
    assert found is not None
    assert "png-shop" in found.names
    assert check_delivery(parse_request({"preset": "strict-shop", "output": {"shadow": "none"}}), models_dir=models)


def test_a_plain_background_without_a_preset_is_the_photos_size_on_exactly_that_colour() -> None:
    photo, alpha = product_photo()
    request = parse_request({"output": {"background": "#102030", "shadow": "contact"}})
    done = deliver(photo, None, alpha, request)
    assert done is not None
    assert done.image.shape == photo.shape  # not framed
    assert done.report is None
    assert done.compliance_json() is None
    assert done.framing_json() is None
    assert done.format == "png"
    keep, away = alpha >= 1.0, alpha <= 0.0
    assert np.array_equal(done.image[keep], photo[keep])  # the photographed pixels, bit for bit
    assert np.all(done.image[away] <= (0x10, 0x20, 0x30))  # the colour, darkened by the shadow only
    far = np.zeros_like(away)
    far[:10] = True  # above the product: no shadow reaches it
    assert np.all(done.image[far] == (0x10, 0x20, 0x30))
    assert done.background_line() == "plain #102030, contact shadow, opacity 0.35, softness 0.05"
    assert done.compliance_line() is None


def test_a_preset_frames_encodes_and_reports_and_the_line_says_so(tmp_path: Path) -> None:
    photo, alpha = product_photo()  # a 200x160 photo, its product 80x80 plus a 3 px soft edge
    request = parse_request({"preset": "png-shop", "output": {"background": "white"}})
    done = deliver(photo, None, alpha, request, models_dir=user_presets(tmp_path))
    assert done is not None
    assert done.report is not None
    assert done.format == "png"
    assert done.image.shape[:2] == (done.framed.placement.height, done.framed.placement.width)
    statuses = {result.rule.id: result.status for result in done.report.results}
    assert statuses == {"white": "pass", "png-only": "pass", "big": "fail"}
    assert done.report.verdict == "warn"  # only a recommended rule fails
    assert done.compliance_line() == "png-shop warn (2/3); failed: big"
    assert done.compliance_json()["verdict"] == "warn"
    assert done.compliance_json()["framing"] == done.framing_json()


def test_compliance_line_names_failing_and_unchecked_rules() -> None:
    photo, alpha = product_photo()
    preset = load_presets().get("amazon-main")
    done = deliver(photo, None, alpha, parse_request({"preset": "amazon-main", "output": {"background": "white"}}))
    assert done is not None
    assert done.report is not None
    line = compliance_line(done.report)
    passed = sum(result.status == "pass" for result in done.report.results)
    assert line.startswith(f"amazon-main {done.report.verdict} ({passed}/{len(preset.rules)})")
    assert "not checked: no-text-or-watermark" in line


def test_the_table_has_a_row_per_rule_and_says_each_failing_rule_in_words(tmp_path: Path) -> None:
    photo, alpha = product_photo()
    request = parse_request({"preset": "png-shop", "output": {"background": "white"}})
    done = deliver(photo, None, alpha, request, models_dir=user_presets(tmp_path))
    table = report_markdown(done.report, "photo")
    assert table.startswith("**photo — png-shop: warn** (2 of 3 rules pass)")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| rule | severity | result | measured | source |"
    assert [row.split(" | ")[0].lstrip("| ") for row in rows[1:]] == ["white", "png-only", "big"]
    assert "| big | recommended | **FAIL** |" in table
    (words,) = [line for line in table.splitlines() if line.startswith("- ")]
    assert words.startswith("- **big** fails (recommended min_longest_side rule, source test-page): measured ")
    assert "against 5000" in words


def test_every_shipped_preset_loads_and_every_rule_cites_a_source_of_its_file(tmp_path: Path) -> None:
    paths = sorted(SHIPPED_DIR.glob("*.toml"))
    assert paths, "presets ship with the extension"
    for path in paths:
        preset = read_preset(path, "shipped")
        ids = {source.id for source in preset.sources}
        assert preset.rules or preset.missing, f"{path.name}: no rules, and no word on why (missing)"
        for rule in preset.rules:
            assert rule.source in ids, f"{path.name}: rule {rule.id} cites {rule.source!r}, not one of {ids}"
        if preset.canvas.source is not None:
            assert preset.canvas.source in ids, path.name
        for source in preset.sources:
            assert source.url.startswith("https://"), f"{path.name}: {source.id}"
    assert set(load_presets(user=tmp_path / "none").names) == {path.stem for path in paths}
