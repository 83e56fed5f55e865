"""Normals from depth: flat faces the camera, a plane gives one colour (8-bit planes too), the sign convention,
cut-outs, sharp steps."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.maps.normal import NormalParams, dequantise, normal_from_depth
from tests.depth_planes import PLANES, assert_one_colour, assert_sharp_step, eight_bit_plane, eight_bit_step

FACING = (128, 128, 255)


def expected_colour(nx: float, ny: float) -> tuple[int, int, int]:
    n = np.array([nx, ny, 1.0]) / np.linalg.norm([nx, ny, 1.0])
    return tuple(int(v) for v in np.rint(n * 127.5 + 127.5))


@pytest.mark.parametrize("depth", [np.full((20, 30), 100, np.uint8), np.full((20, 30), 0.3, np.float32)])
def test_flat_depth_faces_the_camera_everywhere(depth: np.ndarray) -> None:
    normal = normal_from_depth(depth)
    assert normal.shape == (20, 30, 3)
    assert normal.dtype == np.uint8
    assert (normal.reshape(-1, 3) == FACING).all()


def test_a_linear_ramp_gives_one_constant_normal() -> None:
    depth = np.tile((np.arange(64) * 3).astype(np.uint8), (48, 1))  # +3 levels per pixel to the right
    normal = normal_from_depth(depth, NormalParams(depth_scale=0.5))
    assert (normal.reshape(-1, 3) == normal[0, 0]).all()  # frame included
    # Slope: 3/255 of the range per pixel; the range is 0.5 x 48 px deep.
    slope = 3 / 255 * 0.5 * 48
    assert tuple(normal[0, 0]) == expected_colour(slope, 0)


def test_a_vertical_ramp_tilts_green_only() -> None:
    depth = np.tile((np.arange(40) * 5).astype(np.uint8)[:, None], (1, 50))
    normal = normal_from_depth(depth)
    assert (normal.reshape(-1, 3) == normal[0, 0]).all()
    assert tuple(normal[0, 0]) == expected_colour(0, 5 / 255 * 0.5 * 40)


def test_sign_convention_red_left_green_up() -> None:
    """Nearer to the right means the surface faces left (red up); nearer below is a floor facing up (green up)."""
    x_ramp = np.tile(np.arange(32, dtype=np.float32) / 32, (32, 1))
    assert normal_from_depth(x_ramp)[16, 16, 0] > 128
    assert normal_from_depth(x_ramp[:, ::-1].copy())[16, 16, 0] < 128
    assert normal_from_depth(x_ramp.T.copy())[16, 16, 1] > 128


def test_normals_do_not_depend_on_resolution() -> None:
    def scene(size: int) -> np.ndarray:
        return np.tile(np.arange(size, dtype=np.float32) / size, (size, 1))

    np.testing.assert_array_equal(normal_from_depth(scene(64))[0, 0], normal_from_depth(scene(128))[0, 0])


def test_background_is_cut_by_depth_threshold() -> None:
    depth = np.tile((np.arange(64) * 4).astype(np.uint8), (16, 1))
    normal = normal_from_depth(depth, NormalParams(background_depth=0.5))
    background = depth < 0.5 * 255
    assert (normal[background] == FACING).all()
    assert (normal[~background][:, 0] > 128).all()


def test_background_is_cut_by_mask() -> None:
    depth = np.tile((np.arange(64) * 4).astype(np.uint8), (16, 1))
    mask = np.zeros((16, 64), bool)
    mask[4:12, 10:50] = True
    normal = normal_from_depth(depth, mask=mask)
    assert (normal[~mask] == FACING).all()
    assert (normal[mask][:, 0] > 128).all()
    with pytest.raises(BadInput, match="mask is"):
        normal_from_depth(depth, mask=mask[:, :10])


def test_smoothing_keeps_flat_flat_and_evens_out_steps() -> None:
    assert (normal_from_depth(np.full((20, 30), 7, np.uint8), NormalParams(smooth=3)).reshape(-1, 3) == FACING).all()
    steps = np.tile((np.arange(64) // 4).astype(np.uint8), (32, 1))  # 8-bit depth: one level every 4 px
    rough = normal_from_depth(steps, NormalParams(depth_scale=8, smooth=0))[16, 8:-8, 0]
    smooth = normal_from_depth(steps, NormalParams(depth_scale=8, smooth=64))[16, 8:-8, 0]  # sigma 4 px
    assert np.ptp(rough) > 3 * np.ptp(smooth)


@pytest.mark.parametrize(("height", "width", "dx", "dy", "start"), PLANES)
def test_an_eight_bit_plane_gives_one_colour_with_its_own_slope(
    height: int, width: int, dx: float, dy: float, start: float
) -> None:
    """Issue 10: rounding to whole levels makes terraces whose risers showed as stripes of up to 8 levels."""
    depth = eight_bit_plane(height, width, dx, dy, start)
    colour = assert_one_colour(normal_from_depth(depth))
    # The plane's own tilt: one level is 1/255 of the range, which is 0.5 x the short side deep.
    scale = 0.5 * min(height, width) / 255
    assert np.abs(colour - expected_colour(dx * scale, dy * scale)).max() <= 1
    as_stored = normal_from_depth(depth, NormalParams(smooth=0))  # the terraces are there to be undone
    assert np.ptp(as_stored.astype(int)[..., :2]) > 8


def test_a_fixed_blur_does_not_undo_the_issues_terraces() -> None:
    """Why 8-bit depth is reconstructed rather than blurred: 3 px at 512 (the old treatment) left stripes."""
    depth = eight_bit_plane(384, 384, 180 / 383, 0, 40)
    red = normal_from_depth(depth, NormalParams(smooth=3))[..., 0].astype(int)
    assert np.abs(np.diff(red, axis=1)).max() > 4


def test_a_step_between_flats_stays_a_sharp_edge() -> None:
    depth, column = eight_bit_step(64, 128)
    assert_sharp_step(normal_from_depth(depth), column)
    # Across a gentle 8-bit slope too: the slope comes back even, the step stays where it was.
    slope = eight_bit_plane(64, 128, 0.3, 0, 40)
    slope[:, column:] += 60
    red = normal_from_depth(slope)[..., 0].astype(int)
    assert np.abs(red[:, : column - 8] - red[0, 0]).max() <= 2
    assert np.abs(red[:, column + 8 :] - red[0, 0]).max() <= 2
    assert (red[:, column - 1 : column + 1] >= 200).all()


def test_dequantise_stays_within_half_a_step_and_finds_the_plane() -> None:
    y, x = np.mgrid[0:120, 0:160]
    plane = 0.2 + 0.003 * x + 0.001 * y  # depth 0..1 stored in steps of 1/100
    stored = np.rint(plane * 100) / 100
    recovered = dequantise(stored, 0.01)
    assert np.abs(recovered - stored).max() <= 0.005 + 1e-6
    assert np.abs(recovered - plane).max() < 0.001  # a tenth of a step
    np.testing.assert_array_equal(dequantise(np.full((5, 7), 3.0), 1.0), np.full((5, 7), 3.0))
    with pytest.raises(BadInput, match="depth step"):
        dequantise(stored, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth_scale": 0}, "depth scale"),
        ({"background_depth": 1.5}, "background depth"),
        ({"smooth": -1}, "smoothing"),
    ],
)
def test_bad_normal_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        NormalParams(**kwargs)


# Edges found by mutation testing (tools/mutation.sh)


def test_bad_depth_is_named() -> None:
    with pytest.raises(BadInput, match=r"^depth for normals must be a \(H, W\) array, got <class 'list'>$"):
        normal_from_depth([[0.0, 1.0]])  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"got \(2, 2, 3\)$"):
        normal_from_depth(np.zeros((2, 2, 3), np.float32))


@pytest.mark.parametrize(("height", "width"), [(32, 32), (32, 2), (2, 32)])
def test_a_float_plane_has_its_exact_normal_up_to_the_frame_at_any_size(height, width) -> None:
    """Float depth is not dequantised: slope s per px over the short side S with depth_scale d tilts the
    normal by d·S·s (here 0.5 · S · 1/S = 0.5), on the frame's rows and columns too (the doubled one-sided
    difference), even when the image is only 2 px across."""
    short = min(height, width)
    ys, xs = np.mgrid[:height, :width].astype(np.float32) / short
    expected_x = expected_colour(0.5, 0.0)
    along_x = normal_from_depth(xs, NormalParams(depth_scale=0.5))
    along_y = normal_from_depth(ys, NormalParams(depth_scale=0.5))
    if width > 1:
        assert (along_x.reshape(-1, 3) == expected_x).all()
    if height > 1:
        assert (along_y.reshape(-1, 3) == expected_colour(0.0, 0.5)).all()


def test_float_depth_keeps_a_sharp_edge_without_a_step() -> None:
    """Only rounded depth (uint8, or float with ``step``) is reconstructed between levels; plain float depth is
    differentiated as it is, so flat areas two pixels from a jump still face the camera."""
    depth = np.full((24, 24), 0.2, np.float32)
    depth[:, 12:] = 0.8
    normal = normal_from_depth(depth)
    assert (normal[:, :10] == FACING).all()
    assert (normal[:, 14:] == FACING).all()
    assert (normal[:, 11:13, 0] > 200).all()


def test_the_background_threshold_is_a_share_of_255_levels_and_strict() -> None:
    depth = np.tile(np.arange(40, 60, dtype=np.uint8), (4, 1))  # 40..59 along x
    normal = normal_from_depth(depth, NormalParams(background_depth=0.2, depth_scale=50))  # 0.2 · 255 = 51
    assert (normal[:, depth[0] < 51] == FACING).all()
    assert (normal[:, depth[0] >= 51][..., 0] > 128).all()  # 51 itself is not background
    floats = depth.astype(np.float32) / 255
    normal = normal_from_depth(floats, NormalParams(background_depth=0.2, depth_scale=50))
    assert (normal[:, floats[0] < 0.2] == FACING).all()
    assert (normal[:, floats[0] > 0.2][..., 0] > 128).all()


def test_background_faces_the_camera_exactly_however_steep_the_depth() -> None:
    depth = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    params = NormalParams(depth_scale=100, background_depth=0.5)
    normal = normal_from_depth(depth, params, mask=mask)
    background = ~mask | (depth < 0.5)  # either rule cuts
    assert (normal[background] == FACING).all()
    assert (~background).sum() == 16 * 8
    assert (normal[~background][:, 0] > 128).all()


def test_background_depth_accepts_both_ends() -> None:
    assert NormalParams(background_depth=0.0).background_depth == 0.0
    assert NormalParams(background_depth=1.0).background_depth == 1.0


def test_rounded_float_depth_is_reconstructed_within_its_own_step() -> None:
    """Float depth rounded to 1/255 steps keeps a jump of many steps sharp: the band the reconstruction may
    move the depth in is half of *that* step, not half of the depth range."""
    depth = np.full((24, 24), 0.2, np.float32)
    depth[:, 12:] = 0.8
    normal = normal_from_depth(depth, step=1 / 255)
    assert (normal[:, :9] == FACING).all()
    assert (normal[:, 15:] == FACING).all()


def test_half_a_pixel_of_smoothing_still_smooths() -> None:
    depth = np.full((512, 512), 0.2, np.float32)  # 512 px: smooth is in pixels as given
    depth[:, 256:] = 0.8
    sharp = normal_from_depth(depth)
    smoothed = normal_from_depth(depth, NormalParams(smooth=0.5))
    assert (sharp[:, 253] == FACING).all()  # 3 px from the jump: untouched without smoothing
    assert (smoothed[:, 254, 0] > 128).all()  # a Gaussian of σ 0.5 reaches 2 px
    assert (smoothed[:, 250] == FACING).all()
    across = normal_from_depth(depth.T.copy(), NormalParams(smooth=0.5))  # the same jump along y
    assert (across[254, :, 1] > 128).all()
    assert (across[250] == FACING).all()


def test_smoothing_is_scaled_with_the_image() -> None:
    """``smooth`` is in pixels at 512 px: at 256 px the same setting blurs half as far."""
    depth = np.full((256, 256), 0.2, np.float32)
    depth[:, 128:] = 0.8
    smoothed = normal_from_depth(depth, NormalParams(smooth=2.0))  # σ = 1 px here
    assert (smoothed[:, 125, 0] > 128).all()
    assert (smoothed[:, 118] == FACING).all()  # σ 4 would still tilt 10 px away
