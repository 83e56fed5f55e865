"""Preset files: strict loading (a typo is refused by name), the user's folder, unknown names listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib_garment.errors import BadInput
from lib_garment.presets.load import SHIPPED_DIR, load_presets, read_preset, user_dir
from tests.presets_support import preset_text, write_preset

RULES = [
    {"id": "side", "kind": "min_longest_side", "value": 1000},
    {"id": "ratio", "kind": "aspect", "value": "1:1", "tolerance": 0.02},
    {"id": "white", "kind": "background_colour", "value": "#ffffff", "min_share": 0.99},
    {"id": "fmt", "kind": "formats", "value": ["jpeg", "png"], "severity": "recommended"},
]


def test_a_preset_file_is_read_in_full(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "shop-main", {"width": 1000, "height": 1000, "fill": 0.85, "anchor": "bottom"}, RULES)
    preset = read_preset(path)
    assert preset.name == "shop-main"
    assert preset.canvas.width == 1000
    assert preset.canvas.anchor == "bottom"
    assert preset.sources[0].read.isoformat() == "2026-01-02"
    assert [r.id for r in preset.rules] == ["side", "ratio", "white", "fmt"]
    assert preset.rules[1].tolerance == 0.02
    assert preset.rules[2].value == "#FFFFFF"  # colours are compared upper-case
    assert preset.rules[2].min_share == 0.99
    assert preset.rules[3].value == ("jpeg", "png")
    assert preset.rules[3].severity == "recommended"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('kind = "min_longest_side"', 'kind = "min_longest_sidee"'),
            "rule 'side'.kind: unknown kind 'min_longest_sidee'",
        ),
        (lambda t: t.replace("value = 1000", 'value = "1000"'), "rule 'side'.value: must be a positive integer"),
        (lambda t: t.replace("value = 1000", "value = 1000\nmin_share = 0.5"), "rule 'side'.min_share: unknown key"),
        (lambda t: t.replace('id = "ratio"', 'id = "side"'), "rule 'side'.id: duplicate id"),
        (
            lambda t: t.replace('source = "test-page"', 'source = "other"', 1),
            "rule 'side'.source: 'other' is not a [[source]] id",
        ),
        (
            lambda t: t.replace('name = "shop-main"', 'name = "shop-other"'),
            "name: 'shop-other' must be the file's stem",
        ),
        (
            lambda t: t.replace("read = 2026-01-02", 'read = "2026-01-02"'),
            "source 'test-page'.read: must be a TOML date",
        ),
        (lambda t: t + "colour = 1\n", "rule 'fmt'.colour: unknown key"),
        (lambda t: "titel = 'x'\n" + t, "titel: unknown key"),
        (lambda t: t.replace('value = "#ffffff"', 'value = "white"'), "rule 'white'.value: must be a colour"),
        (
            lambda t: t.replace('severity = "recommended"', 'severity = "optional"'),
            "rule 'fmt'.severity: must be one of",
        ),
        (lambda t: t + "[canvas]\nanchor = 'top'\n", "canvas.anchor: must be one of"),
        (lambda t: t.replace("value = 1000", "value = true"), "rule 'side'.value: must be a positive integer"),
        (lambda t: t.replace("[[rule]]", "[[rule]", 1), "not valid TOML"),
    ],
)
def test_a_wrong_file_is_refused_naming_the_file_and_the_key(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "shop-main.toml"
    path.write_text(edit(preset_text("shop-main", None, RULES)), encoding="utf8")
    with pytest.raises(BadInput) as caught:
        read_preset(path)
    assert str(caught.value).startswith(f"preset file {path}: ")
    assert message in str(caught.value)


def test_the_user_folder_is_listed_alongside_and_wins_by_name(tmp_path: Path) -> None:
    shipped, models = tmp_path / "shipped", tmp_path / "models"
    write_preset(shipped, "alpha-shop", rules=RULES[:1])
    write_preset(shipped, "beta-shop", rules=RULES[:1])
    write_preset(user_dir(models), "beta-shop", rules=RULES[:2])
    write_preset(user_dir(models), "own-shop")
    found = load_presets(models, shipped=shipped)
    assert found.names == ["alpha-shop", "beta-shop", "own-shop"]
    assert found.presets["beta-shop"].origin == "user"
    assert len(found.presets["beta-shop"].rules) == 2
    assert found.notes == (
        f"beta-shop: the user's file {user_dir(models) / 'beta-shop.toml'} replaces the shipped one",
    )
    assert user_dir(models) == models.resolve() / "garment_studio" / "presets"


def test_an_unknown_name_lists_the_valid_ones(tmp_path: Path) -> None:
    write_preset(tmp_path / "s", "alpha-shop")
    with pytest.raises(BadInput, match=r"^preset: no preset 'gamma'; valid names: alpha-shop$") as caught:
        load_presets(tmp_path / "m", shipped=tmp_path / "s").get("gamma")
    assert caught.value.loc == ("preset",)


def test_the_shipped_folder_holds_only_valid_files() -> None:
    """The real marketplace files arrive on their own branch; whatever is shipped must load."""
    for path in SHIPPED_DIR.glob("*.toml"):
        assert read_preset(path, "shipped").name == path.stem
