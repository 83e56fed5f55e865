"""Map inputs read from files (upright, masks from alpha) and outputs written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment import imageio as images
from lib_garment.errors import BadInput


def test_photos_are_read_upright(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = images.read_image(tmp_path / "phone.jpg")
    assert upright.shape == (40, 20, 3)
    assert upright[:10].mean() > 200  # the band is now on top
    assert upright[-10:].mean() < 50


def test_masks_come_from_alpha_when_the_file_has_transparency(tmp_path: Path) -> None:
    cutout = np.zeros((8, 8, 4), np.uint8)
    cutout[..., :3] = 255
    cutout[2:6, 2:6, 3] = 255
    Image.fromarray(cutout).save(tmp_path / "cutout.png")
    np.testing.assert_array_equal(images.read_mask(tmp_path / "cutout.png"), cutout[..., 3])
    gray = np.zeros((8, 8), np.uint8)
    gray[1:3] = 200
    Image.fromarray(gray).convert("RGB").save(tmp_path / "mask.png")
    np.testing.assert_array_equal(images.read_mask(tmp_path / "mask.png"), gray)


def test_unreadable_files_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="image not found"):
        images.read_image(tmp_path / "absent.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(BadInput, match="cannot read mask"):
        images.read_mask(tmp_path / "text.png")


def test_writes_replace_the_target_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "canny.png"
    images.write_png(target, np.full((4, 4), 255, np.uint8))
    before = target.read_bytes()

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        images.write_png(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canny.png"]  # no temporary left behind


def test_written_pngs_read_back_exactly(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    images.write_png(tmp_path / "normal.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "normal.png")), rgb)
    images.write_json(tmp_path / "pose.json", {"people": []})
    assert (tmp_path / "pose.json").read_text() == '{\n "people": []\n}\n'
