"""8-bit depth reconstruction (``dequantise``) and its plane-preserving blur, against plain-numpy references of
the rules their docstrings state: the tent is a (2r+1)-box applied twice with replicated borders; the blur pads by
point reflection, runs wide tents on a grid coarsened by r // 4 (area down, bilinear up), and continues the
inside out to the frame in a straight line; dequantise stays within half a step, goes from an eighth of the short
side down to 1 px in quarters, with Nesterov momentum, and ends a width at the first pass that moves nothing more
than 1e-4 of a step. Also the normal map's own choices around it: a uint8 map's step is 1, and smoothing pads
with the edge value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib_garment.maps import normal
from lib_garment.maps.normal import NormalParams, dequantise, normal_from_depth

FACING = (128, 128, 255)


# ---- plain-numpy references ---------------------------------------------------------------------------------


def box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window, edge values repeated beyond the array."""
    out = np.asarray(a, np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
        upper = np.take(c, np.arange(2 * r + 1, c.shape[axis]), axis=axis)
        lower = np.take(c, np.arange(0, c.shape[axis] - 2 * r - 1), axis=axis)
        out = (upper - lower) / (2 * r + 1)
    return out


def tent(a: np.ndarray, r: int) -> np.ndarray:
    return box(box(a, r), r)


def area_down(a: np.ndarray, c: int) -> np.ndarray:
    """Mean of each c x c block (sizes divisible by c)."""
    h, w = a.shape
    return a.reshape(h // c, c, w // c, c).mean(axis=(1, 3))


def linear_up(a: np.ndarray, c: int) -> np.ndarray:
    """Bilinear, pixel centres aligned ((d + 0.5) / c - 0.5), the edge value held beyond the first/last centre."""
    for axis in (0, 1):
        n = a.shape[axis]
        f = (np.arange(n * c) + 0.5) / c - 0.5
        i0 = np.clip(np.floor(f).astype(int), 0, n - 1)
        t = np.clip(f - i0, 0, None)
        t[f >= n - 1] = 0
        i1 = np.minimum(i0 + 1, n - 1)
        shape = [1, 1]
        shape[axis] = -1
        t = t.reshape(shape)
        a = np.take(a, i0, axis=axis) * (1 - t) + np.take(a, i1, axis=axis) * t
    return a


def plane_preserving_blur(a: np.ndarray, r: int) -> np.ndarray:
    h, w = a.shape
    py, px = min(2 * r, h - 1), min(2 * r, w - 1)
    # 2·edge − mirror: the point reflection through the nearest border pixel (through the corner pixel in the
    # corners, where reflecting rows and then columns would differ for anything but a plane).
    wide, pads = np.asarray(a, np.float64), ((py, py), (px, px))
    padded = 2 * np.pad(wide, pads, mode="edge") - np.pad(wide, pads, mode="reflect")
    c = max(1, r // 4)
    if c > 1:
        assert padded.shape[0] % c == 0, "the reference coarsens whole blocks only"
        assert padded.shape[1] % c == 0, "the reference coarsens whole blocks only"
        blurred = linear_up(tent(area_down(padded, c), round(r / c)), c)
    else:
        blurred = tent(padded, r)
    out = blurred[py : py + h, px : px + w].copy()
    m = min(r, (w - 1) // 2)
    if m >= 1:
        out[:, 0] = 2 * out[:, m] - out[:, 2 * m]
        out[:, -1] = 2 * out[:, -1 - m] - out[:, -1 - 2 * m]
    m = min(r, (h - 1) // 2)
    if m >= 1:
        out[0] = 2 * out[m] - out[2 * m]
        out[-1] = 2 * out[-1 - m] - out[-1 - 2 * m]
    return out


def noise(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * 10).astype(np.float32)


# ---- the tent and the plane-preserving blur --------------------------------------------------------------------


def test_the_reference_box_is_a_plain_mean() -> None:
    a = np.arange(12, dtype=np.float64).reshape(3, 4) ** 2
    # Top-left pixel, r = 1: the window holds rows (0, 0, 1) and columns (0, 0, 1) of the edge-padded array.
    rows, cols = [0, 0, 1], [0, 0, 1]
    assert box(a, 1)[0, 0] == pytest.approx(a[np.ix_(rows, cols)].mean())
    assert box(a, 1)[1, 2] == pytest.approx(a[0:3, 1:4].mean())


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("shape", [(9, 13), (13, 9), (3, 4), (1, 6)])
def test_the_tent_is_a_box_applied_twice_with_replicated_borders(shape, radius) -> None:
    a = noise(shape)
    np.testing.assert_allclose(normal._tent(a, radius), tent(a, radius), atol=1e-4)


@pytest.mark.parametrize(
    ("height", "width", "radius", "tolerance"),
    [
        *[(3, 5, 1, 2e-4), (5, 3, 1, 2e-4), (5, 9, 2, 2e-4), (9, 5, 2, 2e-4), (7, 7, 3, 2e-4), (20, 31, 3, 2e-4)],
        *[(31, 20, 7, 2e-4), (36, 60, 8, 2e-4), (36, 60, 9, 2e-4), (60, 36, 9, 2e-4), (36, 60, 12, 2e-4)],
        # Not exact on the coarse grid where its tent reaches the end of the padding one pixel in from the frame, or
        # where the padded size is not a whole number of cells: off by hundredths of a level there (the later,
        # finer widths of dequantise take it out; the last, 1 px, is exact).
        *[(36, 60, 16, 0.01), (37, 61, 8, 0.01), (41, 50, 12, 0.01), (256, 256, 32, 0.1)],
    ],
)
def test_the_blur_maps_a_plane_to_itself_frame_included(height, width, radius, tolerance) -> None:
    """Wherever the point reflection has room (2r + 1 px and more)."""
    y, x = np.mgrid[:height, :width]
    plane = (30 + 0.37 * x - 0.81 * y).astype(np.float32)
    np.testing.assert_allclose(normal._plane_preserving_blur(plane, radius), plane, atol=tolerance, rtol=0)


@pytest.mark.parametrize("radius", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(1, 7), (2, 9), (3, 5), (5, 3), (4, 6), (6, 4), (7, 7), (11, 16), (16, 11)])
def test_the_blur_matches_the_reference_at_any_size(shape, radius) -> None:
    """Small maps included, where the padding is cut to the map's size and the straight-line continuation to
    the frame runs over fewer pixels than the radius."""
    a = noise(shape, seed=radius)
    np.testing.assert_allclose(normal._plane_preserving_blur(a, radius), plane_preserving_blur(a, radius), atol=1e-4)


@pytest.mark.parametrize(("shape", "radius"), [((36, 60), 8), ((36, 60), 9), ((60, 36), 9), ((36, 60), 12)])
def test_a_wide_blur_runs_on_a_coarser_grid(shape, radius) -> None:
    """r 8 and 9 on a grid of 2 px (tent radius 4 there), r 12 on one of 3 px: area down, bilinear up."""
    a = noise(shape, seed=radius)
    np.testing.assert_allclose(normal._plane_preserving_blur(a, radius), plane_preserving_blur(a, radius), atol=1e-4)


# ---- dequantise ----------------------------------------------------------------------------------------------


def test_dequantise_keeps_a_step_edge_within_half_a_level_by_default() -> None:
    """The default step is one level: a jump of 10 moves by at most half a level on either side (by all of
    it right at the jump, where the smoothest surface bends as far as the band lets it)."""
    depth = np.full((16, 24), 10.0, np.float32)
    depth[:, 12:] = 20
    moved = np.abs(dequantise(depth) - depth)
    assert moved.max() <= 0.5 + 1e-6
    assert (moved[:, 11:13] >= 0.5 - 1e-6).all()
    np.testing.assert_array_equal(dequantise(depth), dequantise(depth, 1.0))


def test_dequantise_returns_float32_for_any_input_type() -> None:
    stored = np.rint(np.random.default_rng(1).normal(100, 5, (16, 24)))
    expected = dequantise(stored.astype(np.float32))
    for given in (stored.astype(np.uint8), stored, stored.astype(np.int32)):
        got = dequantise(given)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def expected_radii(height: int, width: int) -> list[int]:
    radii = [max(1, min(height, width) // 8)]
    while radii[-1] > 1:
        radii.append(max(1, radii[-1] // 4))
    return radii


def test_expected_radii_are_an_eighth_then_quarters() -> None:
    assert expected_radii(512, 700) == [64, 16, 4, 1]
    assert expected_radii(100, 90) == [11, 2, 1]
    assert expected_radii(12, 20) == [1]


CASES = [
    pytest.param(np.full((64, 64), 3.0), 1.0, id="flat-64"),
    pytest.param(np.full((100, 90), 7.0), 1.0, id="flat-100x90"),
    pytest.param(np.tile(np.arange(9.0), (1, 1)), 1.0, id="one-row"),
    pytest.param(np.rint(np.random.default_rng(2).normal(size=(40, 30)) * 3) / 2, 0.5, id="noise-step-half"),
    pytest.param(np.rint(30 + 0.37 * np.mgrid[:97, :61][1] + 0.21 * np.mgrid[:97, :61][0]), 1.0, id="plane"),
    pytest.param(np.rint(np.random.default_rng(3).normal(size=(12, 20)) * 4), 1.0, id="noise-small"),
]


@pytest.mark.parametrize(("stored", "step"), CASES)
def test_dequantise_runs_its_widths_down_to_1_px_with_momentum_until_settled(monkeypatch, stored, step) -> None:
    """Every blur pass is recorded and replayed: the widths come in the documented order, each width's passes
    are Nesterov steps from the clipped surfaces (ahead = s + k/(k+3)·(s − s_prev)), a width ends at the first
    pass that moves no pixel by 1e-4 of a step (or after DEQUANTISE_PASSES), and the answer is the last one."""
    calls: list[tuple[np.ndarray, int, np.ndarray]] = []
    blur = normal._plane_preserving_blur

    def recording(ahead: np.ndarray, radius: int) -> np.ndarray:
        out = blur(ahead, radius)
        calls.append((ahead.copy(), radius, out.copy()))
        return out

    monkeypatch.setattr(normal, "_plane_preserving_blur", recording)
    values = stored.astype(np.float32)
    result = dequantise(values, step)
    low, high = values - np.float32(step / 2), values + np.float32(step / 2)
    settled = normal.DEQUANTISE_SETTLED * step

    radii = [r for i, (_, r, _) in enumerate(calls) if i == 0 or calls[i - 1][1] != r]
    assert radii == expected_radii(*values.shape)
    surface = values
    for radius in radii:
        passes = [(ahead, out) for ahead, r, out in calls if r == radius]
        assert 1 <= len(passes) <= normal.DEQUANTISE_PASSES
        before, current = surface, surface
        for k, (ahead, out) in enumerate(passes):
            expected_ahead = current + k / (k + 3) * (current - before)
            np.testing.assert_allclose(ahead, expected_ahead, atol=1e-5 * step, rtol=0)
            before, current = current, np.minimum(np.maximum(out, low), high)
            moved = float(np.abs(current - before).max())
            if k < len(passes) - 1:
                assert moved >= settled, f"radius {radius}: pass {k} moved {moved}, settled, yet went on"
            elif len(passes) < normal.DEQUANTISE_PASSES:
                assert moved < settled, f"radius {radius}: ended at pass {k} though it moved {moved}"
        surface = current
    np.testing.assert_array_equal(result, surface)
    assert np.abs(result - values).max() <= step / 2 + 1e-6 * step


def test_a_flat_map_takes_one_pass_per_width() -> None:
    """For a plane the finer widths find nothing left to do: a flat map settles at each width's first pass."""
    counted: list[int] = []
    blur = normal._plane_preserving_blur

    def counting(ahead: np.ndarray, radius: int) -> np.ndarray:
        counted.append(radius)
        return blur(ahead, radius)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(normal, "_plane_preserving_blur", counting)
        np.testing.assert_array_equal(dequantise(np.full((64, 80), 5.0)), np.full((64, 80), 5.0, np.float32))
    assert counted == [8, 2, 1]


@pytest.mark.parametrize(("height", "width", "slope"), [(256, 256, 0.03), (48, 64, 0.37), (48, 64, 2.9)])
def test_dequantise_recovers_rounded_ramps_within_a_tenth_of_a_level(height, width, slope) -> None:
    """The DEQUANTISE_PASSES promise: ramps of 0.03 to 3 levels/px come back within 0.1 level, frame included."""
    x = np.arange(width) * slope + 0.3
    ramp = np.tile(x, (height, 1))
    recovered = dequantise(np.rint(ramp))
    assert np.abs(recovered - ramp).max() < 0.1


# ---- normal_from_depth around it -----------------------------------------------------------------------------


def test_a_uint8_maps_step_is_one_level() -> None:
    """A 2-level step: within half a level of each side the surface must still rise by a level somewhere (so
    some normals tilt), which a band of a whole level either side would flatten away."""
    depth = np.full((32, 48), 100, np.uint8)
    depth[:, 24:] = 102
    normals = normal_from_depth(depth)
    np.testing.assert_array_equal(normals, normal_from_depth(depth, step=1.0))
    tilted = np.abs(normals.astype(int) - FACING).max(axis=2) > 0
    assert tilted[:, 20:28].any(axis=1).all()  # every row rises somewhere near the step
    assert not tilted[:, :8].any()


def gaussian_edge_padded(depth: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian (truncated at 4 sigma, as OpenCV sizes it for float maps), the edge value repeated."""
    r = int(round(sigma * 4))
    kernel = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    out = depth.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="edge")
        out = sum(w * np.take(padded, np.arange(i, i + out.shape[axis]), axis=axis) for i, w in enumerate(kernel))
    return out


@pytest.mark.parametrize("along", ["x", "y"])
def test_smoothing_continues_the_depth_flat_beyond_the_frame(along) -> None:
    """``smooth`` blurs with the frame's value repeated outside, so a ramp's edge rows and columns tilt as the
    blurred ramp's one-sided difference says (a mirrored border would flatten them further)."""
    size, smooth = 64, 16.0  # sigma 2 px at 64 px
    ramp = np.tile(np.arange(size, dtype=np.float32) / size, (size, 1))
    depth = ramp if along == "x" else ramp.T.copy()
    blurred = gaussian_edge_padded(depth, smooth * size / 512)
    # The normal map's rule on the blurred depth: central differences, at the frame the one-sided v1 - v0 (half
    # a step with the edge repeated, doubled), scaled by depth_scale · short side; the ramp tilts one way only.
    line = blurred[size // 2] if along == "x" else blurred[:, size // 2]
    slope = np.gradient(line) * 0.5 * size
    slope[0], slope[-1] = (line[1] - line[0]) * 0.5 * size, (line[-1] - line[-2]) * 0.5 * size
    expected = np.rint(slope / np.sqrt(slope**2 + 1) * 127.5 + 127.5)
    normals = normal_from_depth(depth, NormalParams(smooth=smooth)).astype(int)
    got = normals[size // 2, :, 0] if along == "x" else normals[:, size // 2, 1]
    assert np.abs(got - expected).max() <= 1
    assert math.isclose(expected[0], expected[-1])  # the ramp's two ends tilt alike
