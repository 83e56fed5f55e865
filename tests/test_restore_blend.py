"""Poisson blending back through the skin matte: exact outside the matte and on kept pixels, safe at the edges,
and a seam metric on which Poisson beats a plain paste of a patch with another exposure."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.restore.blend import alpha_paste, poisson_blend, seam_band, seam_metric

H, W = 160, 200


def photo(seed: int = 0) -> np.ndarray:
    """Smooth shading with fine texture: gradients everywhere, no flat areas."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.dstack([90 + 0.4 * xx, 110 + 0.3 * yy, 80 + 0.2 * (xx + yy)])
    texture = 6 * np.sin(xx / 3.0)[..., None] * np.cos(yy / 4.0)[..., None]
    noise = np.random.default_rng(seed).normal(0, 1.5, base.shape)
    return np.clip(base + texture + noise, 0, 255).astype(np.uint8)


def brighter(image: np.ndarray, offset: int = 40) -> np.ndarray:
    """The regenerated patch: the same structure under another exposure."""
    return np.clip(image.astype(np.int16) + offset, 0, 255).astype(np.uint8)


def disc(cx: float, cy: float, rx: float, ry: float, soft: float = 0.0) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = np.sqrt(((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2)
    if soft <= 0:
        return (r <= 1).astype(np.float32)
    return np.clip((1 + soft - r) / soft, 0, 1).astype(np.float32)  # 1 inside, ramps to 0 over `soft`


@pytest.mark.parametrize("mode", ["normal", "mixed", "alpha"])
@pytest.mark.parametrize("soft", [0.0, 0.15])
def test_outside_the_matte_the_output_is_the_original_bit_for_bit(mode: str, soft: float) -> None:
    original, alpha = photo(), disc(100, 80, 50, 40, soft)
    out = poisson_blend(original, brighter(original), alpha, mode)  # type: ignore[arg-type]
    assert np.array_equal(out[alpha == 0], original[alpha == 0])
    assert not np.array_equal(out[alpha == 1], original[alpha == 1])


@pytest.mark.parametrize("mode", ["normal", "mixed"])
def test_poisson_hides_the_seam_that_a_plain_paste_leaves(mode: str) -> None:
    original = photo()
    generated = brighter(photo(seed=1))  # another exposure, and other noise: a real regeneration differs
    alpha = disc(100, 80, 50, 40)
    pasted = alpha_paste(original, generated, alpha)
    blended = poisson_blend(original, generated, alpha, mode)  # type: ignore[arg-type]
    seam_pasted = seam_metric(pasted, original, generated, alpha)
    seam_blended = seam_metric(blended, original, generated, alpha)
    assert seam_pasted > 5.0  # the 40-level step, averaged over the 5 px wide band
    assert seam_blended < 0.3 * seam_pasted
    # and inside, Poisson keeps the generated structure: its difference from the patch is a smooth field
    inner = disc(100, 80, 40, 30) > 0
    shift = blended.astype(np.float32) - generated.astype(np.float32)
    bumps = np.abs(np.diff(shift, axis=1))[inner[:, 1:]]
    assert bumps.mean() < 2.0


def test_the_clone_is_not_shifted() -> None:
    """A patch with strong structure cloned in place: the output's edges are the patch's, not a pixel off."""
    original = photo()
    generated = original.copy()
    generated[:, ::4] = 255  # vertical lines every 4 px
    alpha = disc(100, 80, 50, 40)
    out = poisson_blend(original, generated, alpha, "normal")
    inner = disc(100, 80, 40, 30) > 0
    lines = np.zeros((H, W), bool)
    lines[:, ::4] = True
    brightness = out.astype(np.float32).mean(axis=2)
    assert brightness[inner & lines].mean() > brightness[inner & ~lines].mean() + 60


def test_pixels_to_keep_stay_exact_even_inside_the_matte() -> None:
    original, alpha = photo(), disc(100, 80, 50, 40)
    keep = np.zeros((H, W), np.float32)
    keep[60:100, 60:140] = 1.0  # the garment, across the middle of the face region
    keep[100:110, 60:140] = 0.6  # soft garment edge: not kept, blended
    for mode in ("normal", "mixed", "alpha"):
        out = poisson_blend(original, brighter(original), alpha, mode, keep=keep)  # type: ignore[arg-type]
        assert np.array_equal(out[keep == 1], original[keep == 1])
        assert np.array_equal(out[alpha == 0], original[alpha == 0])
        assert not np.array_equal(out[100:110, 60:140], original[100:110, 60:140])
    as_uint8 = (keep * 255).astype(np.uint8)
    out = poisson_blend(original, brighter(original), alpha, keep=as_uint8)
    assert np.array_equal(out[keep == 1], original[keep == 1])


@pytest.mark.parametrize(
    "alpha",
    [
        disc(0, 80, 50, 40),  # cut by the left edge
        disc(200, 160, 60, 50),  # the bottom-right corner
        disc(100, 80, 50, 200),  # top and bottom edges
        np.ones((H, W), np.float32),  # everything
    ],
    ids=["left", "corner", "top-bottom", "whole"],
)
def test_a_matte_touching_the_image_edge_blends(alpha: np.ndarray) -> None:
    original = photo()
    generated = brighter(photo(seed=2))
    out = poisson_blend(original, generated, alpha)
    assert np.array_equal(out[alpha == 0], original[alpha == 0])
    inside = alpha == 1
    assert np.abs(out[inside].astype(np.int16) - original[inside]).mean() > 1.0  # something was blended in
    if not alpha.all():
        assert seam_metric(out, original, generated, alpha) < 0.3 * seam_metric(
            alpha_paste(original, generated, alpha), original, generated, alpha
        )


def test_the_seam_metric_is_zero_when_nothing_changed_and_ignores_far_pixels() -> None:
    original, alpha = photo(), disc(100, 80, 50, 40)
    assert seam_metric(original, original, brighter(original), alpha) == 0.0
    assert seam_metric(alpha_paste(original, original, alpha), original, original, alpha) == 0.0
    # a change far from the boundary does not count
    out = original.copy()
    out[78:82, 98:102] = 0
    assert seam_metric(out, original, original, alpha) == 0.0
    assert seam_metric(original, original, original, np.zeros((H, W), np.float32)) == 0.0  # no boundary
    band = seam_band(alpha, 2)
    assert band[80, 48:53].all()  # the boundary at x = 50 and 2 px either side
    assert not band[80, 100]
    assert not band[80, 10]


def test_nothing_to_blend_returns_the_original() -> None:
    original = photo()
    out = poisson_blend(original, brighter(original), np.zeros((H, W), np.float32))
    assert np.array_equal(out, original)
    assert out is not original


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda o, a: poisson_blend(o, o[:10], a), "differ in size"),
        (lambda o, a: poisson_blend(o, o, a, "screen"), "blend must be one of normal, mixed, alpha"),
        (lambda o, a: poisson_blend(o, o, a * 2), r"skin matte must hold values in \[0, 1\]"),
        (lambda o, a: poisson_blend(o, o, a[:10]), "skin matte is 200x10"),
        (lambda o, a: poisson_blend(o.astype(np.float32), o, a), "original must be a uint8 RGB array"),
        (lambda o, a: alpha_paste(o, o, a, keep=np.ones((3, 3))), "keep mask is 3x3"),
        (lambda o, a: seam_metric(o, o, o, a, band=-1), "seam band"),
    ],
)
def test_bad_arguments_are_named(call, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        call(photo(), disc(100, 80, 50, 40))
