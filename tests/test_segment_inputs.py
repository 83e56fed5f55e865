"""Input limits of the shared reader (size, pixels, bombs, formats, truncation) and coarse masks."""

from __future__ import annotations

import struct
import sys
import types
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from lib_garment import imageio
from lib_garment.errors import BadInput
from lib_garment.imageio import ImageLimits, check_pixel_count, check_same_size, image_to_mask, image_to_rgb
from lib_garment.segment.coarse import coarse_mask_from_array, coarse_mask_from_image, read_coarse_mask


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and IHDR claiming width x height, a tiny IDAT and IEND: a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def photo(path: Path, size: tuple[int, int] = (48, 64)) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def test_a_bomb_header_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = png_header_only(tmp_path / "bomb.png", 30000, 30000)  # 900 MP: Pillow's own bomb error fires
    with pytest.raises(BadInput, match="too large to open safely"):
        imageio.read_image(bomb)


def test_our_pixel_limit_holds_whatever_pillow_is_set_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = png_header_only(tmp_path / "big.png", 12000, 12000)  # 144 MP: above our 134 MP, below Pillow's error
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning leaks out either
        with pytest.raises(BadInput, match=r"12000x12000 = 144\.0 megapixels, more than the limit of 134\.2"):
            imageio.read_image(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as hosts and other extensions sometimes set it
    bomb = png_header_only(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(BadInput, match="more than the limit"):
        imageio.read_mask(bomb)


def test_limits_are_configurable(tmp_path: Path) -> None:
    path = photo(tmp_path / "photo.png", (10, 12))
    assert imageio.read_image(path, ImageLimits(max_pixels=120)).shape == (10, 12, 3)
    with pytest.raises(BadInput, match="more than the limit"):
        imageio.read_image(path, ImageLimits(max_pixels=119))
    with pytest.raises(BadInput, match="MiB, more than the limit"):
        imageio.read_image(path, ImageLimits(max_file_bytes=100))
    with pytest.raises(ValueError, match="positive"):
        ImageLimits(max_pixels=0)


def test_truncated_pngs_are_refused_even_when_pillow_tolerates_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = photo(tmp_path / "whole.png").read_bytes()
    half = tmp_path / "half.png"
    half.write_bytes(whole[: len(whole) // 2])
    no_end = tmp_path / "no_end.png"
    no_end.write_bytes(whole[:-12])  # every pixel there, the IEND chunk missing
    for path in (half, no_end):
        with pytest.raises(BadInput, match="cannot read image .* truncated"):
            imageio.read_image(path)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what many extensions switch on
    for path in (half, no_end):
        with pytest.raises(BadInput, match="truncated"):
            imageio.read_image(path)


def test_corrupt_empty_and_unsupported_files(tmp_path: Path) -> None:
    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="cannot read image"):
        imageio.read_image(tmp_path / "cut.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(BadInput, match="the file is empty"):
        imageio.read_image(tmp_path / "empty.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "icon.ico")  # Pillow reads it; we do not take it
    with pytest.raises(BadInput, match="not a PNG, JPEG, WebP, TIFF, BMP or GIF image"):
        imageio.read_image(tmp_path / "icon.ico")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(BadInput, match="not a PNG"):
        imageio.read_mask(tmp_path / "text.png")
    assert imageio.read_image(jpeg).shape == (20, 30, 3)  # the whole file still reads


def test_zero_size_pictures_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot read image"):
        imageio.read_image(png_header_only(tmp_path / "flat.png", 0, 5))
    with pytest.raises(BadInput, match=r"has no pixels \(0x3\)"):
        image_to_rgb(Image.new("RGB", (0, 3)))
    with pytest.raises(BadInput, match="has no pixels"):
        check_pixel_count(4, 0)
    with pytest.raises(BadInput, match="no pixels"):
        coarse_mask_from_array(np.zeros((0, 4), np.uint8))


def test_decoded_pictures_pass_the_same_limits() -> None:
    assert image_to_rgb(Image.new("RGBA", (5, 4), (1, 2, 3, 0))).shape == (4, 5, 3)
    assert image_to_rgb(Image.new("I;16", (5, 4), 65535))[0, 0].tolist() == [255, 255, 255]
    assert image_to_mask(Image.new("LA", (5, 4), (200, 100)))[0, 0] == 100  # transparency: the alpha
    with pytest.raises(BadInput, match="more than the limit"):
        image_to_rgb(Image.new("RGB", (20, 20)), limits=ImageLimits(max_pixels=399))


def test_mask_and_image_sizes_must_match(tmp_path: Path) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    check_same_size(image, np.zeros((48, 64), np.uint8))
    with pytest.raises(BadInput, match="mask is 63x48 but the image is 64x48"):
        check_same_size(image, np.zeros((48, 63), np.uint8))
    with pytest.raises(BadInput, match="the mask is 64x47 but the image is 64x48"):
        coarse_mask_from_array(np.ones((47, 64), np.uint8), (48, 64))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(BadInput, match="10x10 but the image is 64x48"):
        read_coarse_mask(tmp_path / "small.png", (48, 64))


# Coarse masks: any non-zero pixel is foreground


def test_any_non_zero_pixel_is_foreground() -> None:
    gray = np.zeros((3, 4), np.uint8)
    gray[0, 0], gray[1, 2] = 1, 255
    np.testing.assert_array_equal(coarse_mask_from_array(gray), gray > 0)
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[0, 1] = (1, 0, 0)  # a very dark red: gray conversion would make it 0
    rgb[2, 3] = (0, 0, 255)
    expected = np.zeros((3, 4), bool)
    expected[0, 1] = expected[2, 3] = True
    np.testing.assert_array_equal(coarse_mask_from_array(rgb), expected)
    np.testing.assert_array_equal(coarse_mask_from_array(rgb.astype(np.float32) / 255), expected)
    np.testing.assert_array_equal(coarse_mask_from_image(Image.fromarray(rgb)), expected)


def test_cut_outs_count_by_alpha_opaque_pictures_by_colour() -> None:
    cutout = np.zeros((2, 3, 4), np.uint8)
    cutout[..., :3] = 255  # white everywhere...
    cutout[0, 0, 3] = 1  # ...but only these are (barely) visible
    cutout[1, 2, 3] = 255
    expected = np.zeros((2, 3), bool)
    expected[0, 0] = expected[1, 2] = True
    np.testing.assert_array_equal(coarse_mask_from_array(cutout), expected)
    np.testing.assert_array_equal(coarse_mask_from_image(Image.fromarray(cutout, "RGBA")), expected)
    opaque = np.zeros((2, 3, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[1, 1, 1] = 7
    only = np.zeros((2, 3), bool)
    only[1, 1] = True
    np.testing.assert_array_equal(coarse_mask_from_array(opaque), only)
    la = Image.fromarray(np.stack([np.full((2, 3), 255, np.uint8), expected.astype(np.uint8) * 9], axis=2), "LA")
    np.testing.assert_array_equal(coarse_mask_from_image(la), expected)


def test_coarse_masks_from_files_and_other_modes(tmp_path: Path) -> None:
    pixels = np.zeros((6, 8), np.uint8)
    pixels[2:4, 3:7] = 3
    Image.fromarray(pixels).save(tmp_path / "mask.png")
    np.testing.assert_array_equal(read_coarse_mask(tmp_path / "mask.png", (6, 8)), pixels > 0)
    Image.fromarray(pixels > 0).save(tmp_path / "bilevel.png")  # mode "1"
    np.testing.assert_array_equal(read_coarse_mask(tmp_path / "bilevel.png"), pixels > 0)
    palette = Image.fromarray(pixels).convert("P")
    np.testing.assert_array_equal(coarse_mask_from_image(palette), pixels > 0)
    with pytest.raises(BadInput, match="mask not found"):
        read_coarse_mask(tmp_path / "absent.png")


def test_a_damaged_file_never_reaches_ultralytics_pillow_patch(tmp_path: Path, monkeypatch) -> None:
    """ultralytics replaces PIL.Image.open with a wrapper that pip-installs pi-heif on failure; we bypass it."""
    loaded = sys.modules.get("ultralytics.utils.patches")
    pillow_open = getattr(loaded, "_image_open", None) or Image.open  # the unpatched function
    calls = []

    def patched_open(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("the ultralytics wrapper must not be called")

    patched_open.__module__ = "ultralytics.utils.patches"
    fake_patches = types.ModuleType("ultralytics.utils.patches")
    fake_patches._image_open = pillow_open
    monkeypatch.setitem(sys.modules, "ultralytics.utils.patches", fake_patches)
    monkeypatch.setattr(Image, "open", patched_open)
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(BadInput, match="cannot read image"):
        imageio.read_image(damaged)
    good = tmp_path / "good.png"
    np_image = np.zeros((3, 4, 3), np.uint8)
    imageio.write_png(good, np_image)
    assert imageio.read_image(good).shape == (3, 4, 3)
    assert calls == []
