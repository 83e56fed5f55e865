"""The fast paths of framing's pixel work give exactly what the whole-image formulas give: the soft band mixed on
its own pixels, the shadow multiplied inside its box, the canvas filled row by row, the colour test channel by
channel, and the JPEG/WebP quality found by halves equal to trying 95, 90, … in order. (Speed is the bench's job.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib_garment.presets import background, edges, encode, shadows
from lib_garment.presets.compliance import _of_colour
from lib_garment.presets.load import read_preset
from tests.presets_support import product_photo, write_preset


def reference_composite(foreground: np.ndarray, alpha: np.ndarray, back: np.ndarray, image: np.ndarray) -> np.ndarray:
    """α·F + (1−α)·B over the whole image in float32, then the exact pixels written out (the first version)."""
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    out = np.clip(np.rint(a * foreground + (1.0 - a) * back.astype(np.float32)), 0, 255).astype(np.uint8)
    out[alpha >= 1.0] = image[alpha >= 1.0]
    out[alpha <= 0.0] = back[alpha <= 0.0]
    return out


def noisy_background(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)


def test_the_band_only_mix_is_the_whole_image_formula() -> None:
    photo, alpha = product_photo(box=(0, 30, 120, 110))  # soft band also against the image's left edge
    back = noisy_background(photo.shape)
    foreground = edges.foreground_colours(photo, alpha)
    expected = reference_composite(foreground, alpha, back, photo)
    assert np.array_equal(edges.halo_free_composite(photo, alpha, back), expected)
    assert np.array_equal(edges.composite(foreground, alpha, back, photo), expected)
    plain = reference_composite(photo.astype(np.float32), alpha, back, photo)
    assert np.array_equal(edges.plain_composite(photo, alpha, back), plain)


def test_no_soft_band_means_no_estimate() -> None:
    photo, alpha = product_photo(soft=0)
    back = noisy_background(photo.shape)
    assert not edges.soft_band(alpha).any()
    assert np.array_equal(edges.foreground_colours(photo, alpha), photo.astype(np.float32))
    assert np.array_equal(edges.halo_free_composite(photo, alpha, back), np.where(alpha[..., None] >= 1, photo, back))


def test_the_estimate_leaves_numbas_thread_count_as_it_found_it() -> None:
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    photo, alpha = product_photo()
    edges.foreground_colours(photo, alpha)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("kind", ["contact", "drop"])
def test_darkening_inside_the_shadows_box_is_the_whole_image_formula(kind: str) -> None:
    _, alpha = product_photo()
    strength = shadows.shadow_strength(alpha, shadows.ShadowSpec(kind=kind, opacity=0.6, softness=0.1))
    back = noisy_background((*alpha.shape, 3))
    expected = np.clip(np.rint(back.astype(np.float32) * (1.0 - strength[..., None])), 0, 255).astype(np.uint8)
    assert np.array_equal(shadows.darken(back, strength), expected)
    assert np.array_equal(shadows.darken(back, np.zeros_like(strength)), back)


def test_a_plain_canvas_is_exactly_its_colour() -> None:
    canvas = background.plain(7, 5, (1, 2, 250))
    assert canvas.shape == (5, 7, 3)
    assert canvas.dtype == np.uint8
    assert (canvas == (1, 2, 250)).all()
    strided = np.zeros((5, 14, 3), np.uint8)[:, ::2]
    background.fill(strided, (9, 8, 7))
    assert (strided == (9, 8, 7)).all()


def test_the_colour_test_is_per_pixel_equality() -> None:
    pixels = np.random.default_rng(5).integers(254, 256, (40, 30, 3), dtype=np.uint8)
    assert np.array_equal(_of_colour(pixels, (255, 255, 254)), np.all(pixels == (255, 255, 254), axis=-1))


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_the_quality_search_finds_what_trying_in_order_finds(tmp_path: Path, fmt: str, monkeypatch) -> None:
    photo, _ = product_photo(width=240, height=180)
    sizes = [len(encode._save(encode.Image.fromarray(photo), fmt, q)) for q in encode._QUALITIES]
    assert sizes == sorted(sizes, reverse=True)  # a file grows with its quality: what the search relies on
    saved: list[int | None] = []
    real_save = encode._save
    monkeypatch.setattr(encode, "_save", lambda picture, f, q=None: saved.append(q) or real_save(picture, f, q))
    for limit in sorted({1, *sizes, *(s - 1 for s in sizes)}):
        rules = [{"id": "size", "kind": "max_file_bytes", "value": limit}]
        preset = read_preset(write_preset(tmp_path, f"q{limit}", {"width": 10, "format": fmt}, rules))
        in_order = next((q for q, size in zip(encode._QUALITIES, sizes, strict=True) if size <= limit), 70)
        saved.clear()
        found = encode.encode(photo, preset)
        assert found.quality == in_order, limit
        assert found.data == real_save(encode.Image.fromarray(photo), fmt, in_order)
        assert len(saved) <= 4
