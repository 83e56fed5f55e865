"""The compliance check: every rule at its boundary, from the test preset's own numbers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.presets.compliance import check
from lib_garment.presets.load import read_preset
from lib_garment.presets.schema import Preset
from tests.presets_support import write_preset

SIDE = 200
FILL = 0.8


def one_rule(tmp_path: Path, kind: str, value: object, **extra: object) -> Preset:
    return read_preset(write_preset(tmp_path, "test-check", rules=[{"id": "r", "kind": kind, "value": value, **extra}]))


def square(box_side: int, width: int = SIDE, height: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """A red square product of ``box_side`` px, centred on white, and its mask."""
    image = np.full((height, width, 3), 255, np.uint8)
    mask = np.zeros((height, width), bool)
    top, left = (height - box_side) // 2, (width - box_side) // 2
    image[top : top + box_side, left : left + box_side] = (200, 30, 30)
    mask[top : top + box_side, left : left + box_side] = True
    return image, mask


def status(preset: Preset, image: np.ndarray | bytes, mask: np.ndarray | None = None, **kw: object) -> str:
    return check(image, mask, preset, **kw).results[0].status


@pytest.mark.parametrize(
    ("kind", "size", "passes"),
    [
        ("min_longest_side", (200, 150), [200, 201]),
        ("max_longest_side", (200, 150), [200, 199]),
        ("min_shortest_side", (200, 150), [150, 151]),
        ("min_width", (200, 150), [200, 201]),
        ("min_height", (200, 150), [150, 151]),
        ("max_width", (200, 150), [200, 199]),
        ("max_height", (200, 150), [150, 149]),
    ],
)
def test_size_rules_at_their_boundary(tmp_path: Path, kind: str, size: tuple[int, int], passes: list[int]) -> None:
    image, mask = square(50, *size)
    at, beyond = passes
    assert status(one_rule(tmp_path, kind, at), image, mask) == "pass"
    assert status(one_rule(tmp_path, kind, beyond), image, mask) == "fail"


def test_fill_just_under_and_at_the_threshold(tmp_path: Path) -> None:
    preset = one_rule(tmp_path, "min_fill", FILL)
    assert status(preset, *square(int(FILL * SIDE))) == "pass"  # 160 / 200 = 0.8
    assert status(preset, *square(int(FILL * SIDE) - 1)) == "fail"
    preset = one_rule(tmp_path, "max_fill", FILL)
    assert status(preset, *square(int(FILL * SIDE))) == "pass"
    assert status(preset, *square(int(FILL * SIDE) + 1)) == "fail"


def test_fill_without_a_mask_uses_the_background_colour(tmp_path: Path) -> None:
    image, _ = square(160)
    report = check(image, None, one_rule(tmp_path, "min_fill", FILL))
    assert report.results[0].status == "pass"
    assert "no mask" in report.notes[0]


def test_margins_every_side(tmp_path: Path) -> None:
    image, mask = square(160)  # 20 px = 0.1 on every side
    assert status(one_rule(tmp_path, "min_margin", 0.1), image, mask) == "pass"
    assert status(one_rule(tmp_path, "min_margin", 0.105), image, mask) == "fail"
    assert status(one_rule(tmp_path, "max_margin", 0.1), image, mask) == "pass"
    assert status(one_rule(tmp_path, "max_margin", 0.095), image, mask) == "fail"


def test_one_off_colour_background_pixel_fails_and_is_counted(tmp_path: Path) -> None:
    image, mask = square(100)
    preset = one_rule(tmp_path, "background_colour", "#FFFFFF")
    assert status(preset, image, mask) == "pass"
    image[3, 3] = (255, 254, 255)
    report = check(image, mask, preset)
    assert report.results[0].status == "fail"
    assert report.measurements["background_off_colour"] == 1
    assert report.results[0].detail.startswith(f"1 of {SIDE * SIDE - 100 * 100} background pixels are not #FFFFFF")
    share = (SIDE * SIDE - 100 * 100 - 1) / (SIDE * SIDE - 100 * 100)
    assert status(one_rule(tmp_path, "background_colour", "#FFFFFF", min_share=share), image, mask) == "pass"


def test_a_shadow_touching_the_product_is_counted_apart(tmp_path: Path) -> None:
    image, mask = square(100)
    image[150:155, 50:150] = 200  # a grey band right under the product (rows 50..149)
    report = check(image, mask, one_rule(tmp_path, "background_colour", "#FFFFFF"))
    assert report.results[0].status == "pass"
    assert report.measurements["shadow_zone_pixels"] == 500
    image[150, 50] = 190  # still a shade: fine; a coloured pixel is not
    image[150, 51] = (200, 180, 200)
    assert (
        check(image, mask, one_rule(tmp_path, "background_colour", "#FFFFFF")).measurements["background_off_colour"]
        == 1
    )
    forbidden = one_rule(tmp_path, "shadow", "forbidden")
    assert status(forbidden, image, mask) == "fail"
    assert status(one_rule(tmp_path, "shadow", "natural_only"), image, mask) == "not_checked"


def test_aspect_within_its_tolerance(tmp_path: Path) -> None:
    image, mask = square(50, 201, 200)  # 0.5 % off 1:1
    assert status(one_rule(tmp_path, "aspect", "1:1"), image, mask) == "pass"  # the default tolerance, 1 %
    assert status(one_rule(tmp_path, "aspect", "1:1", tolerance=0.004), image, mask) == "fail"


def test_megapixels(tmp_path: Path) -> None:
    image, mask = square(50, 200, 100)  # 0.02 MP
    assert status(one_rule(tmp_path, "max_megapixels", 0.02), image, mask) == "pass"
    assert status(one_rule(tmp_path, "max_megapixels", 0.019), image, mask) == "fail"


def encoded(image: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_file_rules_need_the_file(tmp_path: Path) -> None:
    image, mask = square(100)
    data = encoded(image, "PNG")
    assert status(one_rule(tmp_path, "max_file_bytes", len(data)), data, mask) == "pass"
    assert status(one_rule(tmp_path, "max_file_bytes", len(data) - 1), data, mask) == "fail"
    assert status(one_rule(tmp_path, "min_file_bytes", len(data)), data, mask) == "pass"
    assert status(one_rule(tmp_path, "min_file_bytes", len(data) + 1), data, mask) == "fail"
    assert status(one_rule(tmp_path, "formats", ["png"]), data, mask) == "pass"
    assert status(one_rule(tmp_path, "formats", ["jpeg"]), data, mask) == "fail"
    assert status(one_rule(tmp_path, "formats", ["png"]), image, mask) == "not_checked"
    assert status(one_rule(tmp_path, "max_file_bytes", 1), image, mask, encoded=data) == "fail"


def test_colour_space(tmp_path: Path) -> None:
    from PIL import ImageCms

    image, mask = square(100)
    preset = one_rule(tmp_path, "colour_space", "sRGB")
    assert status(preset, encoded(image, "PNG"), mask) == "pass"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert status(preset, encoded(image, "PNG", icc_profile=srgb), mask) == "pass"
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert status(preset, encoded(image, "PNG", icc_profile=lab), mask) == "fail"


def test_text_and_watermarks_need_a_human(tmp_path: Path) -> None:
    image, mask = square(100)
    report = check(image, mask, one_rule(tmp_path, "no_text_or_watermark", True))
    assert report.results[0].status == "not_checked"
    assert report.results[0].detail == "not checked: needs a human"
    assert report.verdict == "pass"


def test_the_verdict_separates_required_from_recommended(tmp_path: Path) -> None:
    image, mask = square(100)
    path = write_preset(
        tmp_path,
        "test-check",
        rules=[{"id": "a", "kind": "min_width", "value": 300, "severity": "recommended"}],
    )
    report = check(image, mask, read_preset(path))
    assert (report.verdict, report.all_pass) == ("warn", False)
    assert check(image, mask, one_rule(tmp_path, "min_width", 300)).verdict == "fail"
