"""Maps are computed once per (image content, parameters) in a job; models plug in through estimators."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps import cache as cache_module
from lib_garment.maps import compute as compute_module
from lib_garment.maps.cache import PARALLEL_DIGEST_MIN, MapCache, array_digest
from lib_garment.maps.compute import MapSettings, MapSources, compute_maps, parse_kinds
from lib_garment.maps.depth import DepthParams, RawDepth, depth_from_pixels
from lib_garment.maps.edges import CannyParams, canny_map, mask_outline
from lib_garment.maps.lines import LineParams
from lib_garment.maps.pose_format import Pose
from lib_garment.maps.pose_render import PALETTE
from lib_garment.request import MAP_KINDS
from tests.depth_planes import PLANES, assert_one_colour, assert_sharp_step, eight_bit_plane, eight_bit_step


def photo() -> np.ndarray:
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:40, 12:50] = (200, 120, 40)
    image[20:30, 20:40] = (20, 200, 220)
    return image


def product_mask() -> np.ndarray:
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 12:50] = 255
    return mask


def test_cache_computes_each_key_once() -> None:
    cache = MapCache()
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.zeros(3)

    first = cache.get_or_compute(("canny", "abc", CannyParams()), compute)
    second = cache.get_or_compute(("canny", "abc", CannyParams()), compute)
    assert first is second
    assert len(calls) == 1
    cache.get_or_compute(("canny", "abc", CannyParams(10, 20)), compute)
    assert len(calls) == 2
    assert (cache.hits, cache.misses) == (1, 2)


def test_cached_maps_are_read_only() -> None:
    value = MapCache().get_or_compute("k", lambda: np.zeros(3))
    with pytest.raises(ValueError, match="read-only"):
        value[0] = 1


def test_cache_forgets_the_least_recently_used() -> None:
    cache = MapCache(max_entries=2)
    for key in "abc":
        cache.get_or_compute(key, lambda: np.zeros(1))
    cache.get_or_compute("b", lambda: np.zeros(1))
    assert len(cache) == 2
    assert cache.misses == 3
    cache.get_or_compute("a", lambda: np.zeros(1))  # evicted: computed again
    assert cache.misses == 4


def test_cache_holds_at_most_its_bytes_of_maps_and_always_the_newest() -> None:
    """Maps are made at the photo's size: the byte bound, not the count, keeps a run of 12 MP photos in memory."""
    mib = 2**20
    cache = MapCache(max_entries=32, max_bytes=3 * mib)
    for key in "abcd":
        cache.get_or_compute(key, lambda: np.zeros(mib, np.uint8))
    assert len(cache) == 3  # "a" went: four would be 4 MiB
    assert cache.nbytes == 3 * mib
    cache.get_or_compute("b", lambda: pytest.fail("b is held"))
    pose = {"keypoints": np.zeros((mib // 8,), np.float64), "boxes": (np.zeros(mib // 2, np.uint8),), "n": 2}
    cache.get_or_compute("pose", lambda: pose)  # arrays inside a dict and a tuple count too: 1.5 MiB
    assert len(cache) == 2  # "c" and "d" went, "b" (used last) stayed
    assert cache.nbytes == 2.5 * mib
    cache.get_or_compute("huge", lambda: np.zeros(5 * mib, np.uint8))
    assert len(cache) == 1  # larger than the bound: kept alone, not refused
    assert cache.nbytes == 5 * mib
    cache.clear()
    assert cache.nbytes == 0


def test_digest_follows_content_not_identity() -> None:
    image = photo()
    assert array_digest(image) == array_digest(image.copy())
    edited = image.copy()
    edited[0, 0, 0] = 1
    assert array_digest(edited) != array_digest(image)
    assert array_digest(image.reshape(64, 48, 3)) != array_digest(image)
    assert array_digest(image[:, ::-1]) == array_digest(np.ascontiguousarray(image[:, ::-1]))


def test_a_large_arrays_digest_sees_every_piece_on_any_number_of_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    side = int((PARALLEL_DIGEST_MIN / 3) ** 0.5) + 64  # hashed in pieces, several at once
    image = np.random.default_rng(3).integers(0, 256, (side, side + 1, 3), dtype=np.uint8)
    digest = array_digest(image)
    assert array_digest(image.copy()) == digest
    for where in ((0, 0, 0), (side // 2, side // 2, 1), (side - 1, side, 2)):  # first, middle and last piece
        edited = image.copy()
        edited[where] ^= 1
        assert array_digest(edited) != digest, where
    assert array_digest(image.reshape(side + 1, side, 3)) != digest
    assert array_digest(image.view(np.int8)) != digest
    assert array_digest(image[:, ::-1]) == array_digest(np.ascontiguousarray(image[:, ::-1]))
    monkeypatch.setattr(cache_module, "_digest_threads", lambda: 1)  # one core: the pieces one after another
    assert array_digest(image) == digest


def test_each_source_is_hashed_once_and_only_when_a_map_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[tuple[int, ...]] = []

    def counting(array: np.ndarray) -> str:
        hashed.append(array.shape)
        return array_digest(array)

    monkeypatch.setattr(compute_module, "array_digest", counting)
    sources = MapSources(photo(), product_mask())
    compute_maps(sources, ["canny", "lines"], cache=MapCache())
    assert hashed == [(48, 64, 3)]  # the mask is not needed: not hashed
    compute_maps(sources, ["canny", "lines", "mask_canny"], cache=MapCache())
    assert hashed == [(48, 64, 3), (48, 64)]  # the photo's digest is kept by its MapSources


def test_a_job_computes_each_map_once_per_image_and_parameters() -> None:
    cache = MapCache()
    sources = MapSources(photo(), product_mask())
    kinds = ("canny", "lines", "mask_canny")
    first = compute_maps(sources, kinds, cache=cache)
    assert cache.misses == 3  # canny (shared by lines), lines, mask outline
    again = compute_maps(MapSources(photo().copy(), product_mask().copy()), kinds, cache=cache)
    assert cache.misses == 3
    for kind in kinds:
        assert again.maps[kind] is first.maps[kind]
    other = MapSettings(canny=CannyParams(10, 50), lines=LineParams(canny=CannyParams(10, 50)))
    compute_maps(sources, kinds, settings=other, cache=cache)
    assert cache.misses == 5  # new canny and lines; the mask outline does not depend on them


def test_maps_match_their_functions_and_have_the_image_size() -> None:
    sources = MapSources(photo(), product_mask(), depth=RawDepth(np.ones((24, 32), np.float32)))
    sources = MapSources(sources.image, sources.mask, Pose(np.zeros((0, 18, 3)), 64, 48), sources.depth)
    result = compute_maps(sources, MAP_KINDS)
    assert set(result.maps) == set(MAP_KINDS)
    for kind, array in result.maps.items():
        assert array.shape[:2] == (48, 64), kind
    np.testing.assert_array_equal(result.maps["canny"], canny_map(photo()))
    np.testing.assert_array_equal(result.maps["mask_canny"], mask_outline(product_mask()))


class FakePose:
    """Stands in for a pose model: one person's COCO keypoints, counting its calls."""

    name = "fake-pose"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        coco = np.zeros((1, 17, 3))
        coco[0, 0] = (30, 12, 0.9)  # nose
        coco[0, 5] = (40, 20, 0.9)  # left shoulder
        coco[0, 6] = (20, 20, 0.9)  # right shoulder
        return coco


class FakeDepth:
    """Stands in for a depth model: distance-like output at half resolution."""

    name = "fake-depth"

    def __call__(self, image: np.ndarray) -> RawDepth:
        far_on_the_right = np.tile(np.arange(32, dtype=np.float32), (24, 1))
        return RawDepth(far_on_the_right, near_is_high=False)


def test_estimators_plug_in_for_pose_and_depth() -> None:
    pose_model = FakePose()
    cache = MapCache()
    result = compute_maps(
        MapSources(photo()), ("pose", "depth", "normal"), cache=cache, pose_estimator=pose_model,
        depth_estimator=FakeDepth(),
    )  # fmt: skip
    assert result.pose is not None
    np.testing.assert_allclose(result.pose.keypoints[0, 1], (30, 20, 0.9))  # the neck, made here
    assert tuple(result.maps["pose"][12, 30]) == PALETTE[0]
    assert result.maps["depth"].shape == (48, 64)
    assert result.maps["depth"][:, 5].min() > result.maps["depth"][:, -5].max()  # near (left) is bright
    assert result.maps["normal"].shape == (48, 64, 3)
    compute_maps(MapSources(photo()), ("pose",), cache=cache, pose_estimator=pose_model)
    assert pose_model.calls == 1


def test_maps_that_need_a_model_say_so_before_any_work() -> None:
    with pytest.raises(ModelUnavailable, match="pose"):
        compute_maps(MapSources(photo()), ("canny", "pose"))
    with pytest.raises(ModelUnavailable, match="depth"):
        compute_maps(MapSources(photo()), ("normal",))


def test_inconsistent_sources_are_bad_input() -> None:
    with pytest.raises(BadInput, match="mask_canny needs a mask"):
        compute_maps(MapSources(photo()), ("mask_canny",))
    with pytest.raises(BadInput, match="mask is 10x10"):
        compute_maps(MapSources(photo(), np.zeros((10, 10), bool)), ("canny",))
    with pytest.raises(BadInput, match="not the image's shape"):
        compute_maps(MapSources(photo(), depth=RawDepth(np.ones((10, 40)))), ("depth",))
    with pytest.raises(BadInput, match="unknown map 'edges'"):
        parse_kinds(["canny", "edges"])
    assert parse_kinds(["normal", "canny", "normal"]) == ("canny", "normal")


def test_normals_come_from_the_unrounded_depth() -> None:
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))  # 255/63 grey levels per pixel: uneven steps
    settings = MapSettings(depth=DepthParams(0, 100))
    result = compute_maps(MapSources(photo(), depth=RawDepth(ramp)), ("depth", "normal"), settings=settings)
    normal = result.maps["normal"]
    assert (normal.reshape(-1, 3) == normal[0, 0]).all()  # one plane, one colour: no terraces
    assert len(np.unique(np.diff(result.maps["depth"][0].astype(int)))) > 1  # the 8-bit map does step unevenly


def test_eight_bit_depth_is_smoothed_before_normals() -> None:
    steps = np.tile((np.arange(512) // 4).astype(np.float32), (512, 1))  # one grey level every 4 px
    image = np.zeros((512, 512, 3), np.uint8)
    kinds, settings = ("normal",), MapSettings(depth=DepthParams(0, 100))
    smoothed = compute_maps(MapSources(image, depth=RawDepth(steps, quantised=True)), kinds, settings=settings)
    as_is = compute_maps(MapSources(image, depth=RawDepth(steps)), kinds, settings=settings)
    row = slice(16, -16)
    assert np.ptp(smoothed.maps["normal"][256, row, 0]) < np.ptp(as_is.maps["normal"][256, row, 0]) / 3


# -- normals of 8-bit depth, on every source compute_maps takes (issue 10) --------------------------------


def blank(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


@pytest.mark.parametrize(("height", "width", "dx", "dy", "start"), PLANES)
def test_a_given_eight_bit_plane_gives_one_normal_colour(
    height: int, width: int, dx: float, dy: float, start: float
) -> None:
    """With the default 2..98 percentiles: the plane's ends beyond them must not turn into flats either."""
    depth = eight_bit_plane(height, width, dx, dy, start)
    result = compute_maps(MapSources(blank(height, width), depth=depth_from_pixels(depth)), ("depth", "normal"))
    colour = assert_one_colour(result.maps["normal"])
    assert (colour[0] > 130) == (dx > 0)  # nearer to the right: facing left
    assert (colour[1] > 130) == (dy > 0)  # nearer below: facing up
    assert (colour[1] < 126) == (dy < 0)
    assert len(np.unique(result.maps["depth"])) > 2  # the depth map itself is still the file's, stretched


def test_eight_bit_depth_of_another_size_or_as_rgb_gives_one_normal_colour() -> None:
    """The levels are recovered at the file's own size, before it is resized to the photo's."""
    half = depth_from_pixels(eight_bit_plane(192, 192, 180 / 191, 0, 40))
    assert_one_colour(compute_maps(MapSources(blank(384, 384), depth=half), ("normal",)).maps["normal"])
    rgb = np.repeat(eight_bit_plane(150, 200, 0.3, 0.5, 50)[..., None], 3, axis=2)  # a gray PNG saved as RGB
    as_rgb = depth_from_pixels(rgb)
    assert_one_colour(compute_maps(MapSources(blank(150, 200), depth=as_rgb), ("normal",)).maps["normal"])


def test_a_given_eight_bit_step_stays_a_sharp_normal_edge() -> None:
    depth, column = eight_bit_step(96, 160)
    result = compute_maps(MapSources(blank(96, 160), depth=depth_from_pixels(depth)), ("normal",))
    assert_sharp_step(result.maps["normal"], column)


class PlaneDepth:
    """Stands in for a depth model: a float (unrounded) tilted plane, distance-like, at the photo's size as the
    real estimators return it."""

    name = "plane-depth"

    def __call__(self, image: np.ndarray) -> RawDepth:
        y, x = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
        return RawDepth(5.0 - 0.005 * x + 0.002 * y, near_is_high=False)


def test_a_models_plane_gives_one_normal_colour() -> None:
    result = compute_maps(MapSources(blank(200, 300)), ("normal",), depth_estimator=PlaneDepth())
    colour = assert_one_colour(result.maps["normal"])
    assert colour[0] > 130  # nearer to the right
    assert colour[1] < 126  # and to the top
