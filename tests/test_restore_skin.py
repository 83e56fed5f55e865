"""The skin matte inside a detection: colour rules, clean-up, trimap + matte, confined to the box."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lib_garment.errors import BadInput, GarmentError
from lib_garment.restore.skin import SkinParams, clean_skin, colour_skin, skin_mask, skin_matte
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN

SKIN = (224, 172, 150)  # YCrCb (185, 156, 108), HSV (9, 84, 224): inside both rules
BACKDROP = (60, 110, 170)  # a blue: Cr 98, far outside
SIZE = 256


def scene(seed: int = 0, centre: tuple[int, int] = (128, 128), axes: tuple[int, int] = (50, 70)) -> np.ndarray:
    """A skin-coloured ellipse on a blue backdrop, with a little noise on both."""
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = BACKDROP
    cv2.ellipse(image, centre, axes, 0, 0, 360, SKIN, -1)
    noise = np.random.default_rng(seed).integers(-4, 5, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def ellipse(centre: tuple[int, int] = (128, 128), axes: tuple[int, int] = (50, 70), grow: int = 0) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(mask, centre, (axes[0] + grow, axes[1] + grow), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def box_region(box: tuple[float, float, float, float]) -> np.ndarray:
    inside = np.zeros((SIZE, SIZE), bool)
    x0, y0, x1, y1 = (int(v) for v in box)
    inside[y0:y1, x0:x1] = True
    return inside


BOX = (58.0, 38.0, 198.0, 218.0)  # the ellipse (78..178, 58..198) with 20 px around it


def test_the_colour_rules_know_skin_from_the_backdrop() -> None:
    swatches = np.array([[SKIN, BACKDROP, (30, 160, 40), (250, 250, 250), (20, 15, 10)]], np.uint8)
    assert colour_skin(swatches).tolist() == [[True, False, False, False, False]]
    for combine in ("either", "ycrcb", "hsv"):
        assert colour_skin(swatches, SkinParams(combine=combine))[0, :2].tolist() == [True, False]


def test_the_matte_covers_the_skin_and_is_zero_outside_the_box() -> None:
    image = scene()
    mask = skin_mask(image, BOX)
    matte = skin_matte(image, BOX, mask)
    assert matte.method == "classic"
    assert matte.alpha.dtype == np.float32
    core = ellipse(grow=-4)  # the ellipse less the trimap band
    assert matte.alpha[core].min() == 1.0
    backdrop = ~ellipse(grow=4)
    assert matte.alpha[backdrop].max() == 0.0
    assert matte.alpha[~box_region(BOX)].max() == 0.0
    assert np.array_equal(mask, ellipse() & mask)  # nothing of the backdrop is taken for skin
    assert mask.sum() >= 0.98 * ellipse().sum()


def test_skin_that_leaves_the_box_is_cut_at_the_box() -> None:
    image = scene()
    box = (60.0, 40.0, 200.0, 128.0)  # cuts the ellipse in half
    matte = skin_matte(image, box, skin_mask(image, box))
    assert matte.alpha[~box_region(box)].max() == 0.0
    assert matte.alpha[100:120, 110:150].min() == 1.0  # skin inside the box, away from the edges
    assert ellipse()[128:].any()  # there is skin below the box, and none of it is in the matte
    assert not matte.alpha[128:].any()


def test_holes_in_the_skin_are_filled_and_speckle_is_dropped() -> None:
    image = scene()
    cv2.circle(image, (108, 110), 8, (40, 30, 30), -1)  # eyes
    cv2.circle(image, (148, 110), 8, (40, 30, 30), -1)
    rng = np.random.default_rng(5)
    backdrop = ~ellipse(grow=6) & box_region(BOX)
    ys, xs = np.nonzero(backdrop)
    pick = rng.choice(len(ys), 60, replace=False)
    image[ys[pick], xs[pick]] = SKIN  # single skin-coloured pixels in the backdrop
    raw = colour_skin(image)
    assert not raw[110, 108]  # the eye itself is not skin colour
    assert raw[ys[pick], xs[pick]].all()
    mask = skin_mask(image, BOX)
    assert mask[110, 108]  # filled
    assert mask[110, 148]
    assert not mask[ys[pick], xs[pick]].any()  # speckle gone
    unfilled = skin_mask(image, BOX, SkinParams(fill_holes=False))
    assert not unfilled[110, 108]


def test_clean_up_scales_with_the_box_and_keeps_nothing_outside_it() -> None:
    raw = np.ones((SIZE, SIZE), bool)
    box = (10.5, 20.2, 60.0, 90.0)
    cleaned = clean_skin(raw, box)
    x0, y0, x1, y1 = 10, 20, 60, 90  # every pixel the box touches
    assert cleaned[y0:y1, x0:x1].all()
    cleaned[y0:y1, x0:x1] = False
    assert not cleaned.any()


def test_no_skin_gives_an_empty_matte_that_says_so() -> None:
    image = scene()
    box = (0.0, 0.0, 40.0, 40.0)  # backdrop only
    matte = skin_matte(image, box, skin_mask(image, box))
    assert matte.empty
    assert "no skin" in matte.note
    assert not matte.trimap.any()


class HalfMatte:
    """A matting model standing in for ViTMatte: 0.5 everywhere; records what it was given."""

    name = "half"

    def __init__(self) -> None:
        self.trimaps: list[np.ndarray] = []

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        self.trimaps.append(trimap)
        return np.full(trimap.shape, 0.5, np.float32)


def test_a_matting_model_refines_the_unknown_band_and_the_sure_regions_stay_exact() -> None:
    image = scene()
    mask = skin_mask(image, BOX)
    model = HalfMatte()
    matte = skin_matte(image, BOX, mask, method="model", matte_model=model, trimap_radius=6)
    assert matte.method == "model"
    (trimap,) = model.trimaps
    assert np.array_equal(trimap, matte.trimap)
    assert set(np.unique(trimap)) == {BACKGROUND, UNKNOWN, FOREGROUND}
    inside = box_region(BOX)
    band = (trimap == UNKNOWN) & inside
    assert band.any()
    assert np.all(matte.alpha[band] == 0.5)
    assert np.all(matte.alpha[trimap == FOREGROUND] == 1.0)
    assert np.all(matte.alpha[trimap == BACKGROUND] == 0.0)
    assert matte.alpha[~inside].max() == 0.0
    # the band's half-width follows trimap_radius
    assert (trimap[128, :] == UNKNOWN).sum() == pytest.approx(4 * 6 + 2, abs=4)


def test_without_a_matting_model_the_classic_matte_is_used_and_noted() -> None:
    image = scene()
    matte = skin_matte(image, BOX, skin_mask(image, BOX), method="model")
    assert matte.method == "classic"
    assert "no matting model" in matte.note


def test_matte_none_is_the_hard_mask() -> None:
    image = scene()
    mask = skin_mask(image, BOX)
    matte = skin_matte(image, BOX, mask, method="none")
    assert np.array_equal(matte.alpha, mask.astype(np.float32))


class ProbabilityDisc:
    """A skin model standing in for FCN: probability 0.9 in a disc, 0.1 elsewhere."""

    name = "disc"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        probability = np.full(image.shape[:2], 0.1, np.float32)
        cv2.circle(probability, (100, 100), 30, 0.9, -1)
        return probability


def test_a_skin_model_decides_instead_of_the_colour_rules() -> None:
    image = np.zeros((SIZE, SIZE, 3), np.uint8)  # black: no skin colour anywhere
    mask = skin_mask(image, (50.0, 50.0, 150.0, 150.0), model=ProbabilityDisc())
    disc = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(disc, (100, 100), 30, 1, -1)
    # the disc, give or take the clean-up's smoothing of its rasterised outline
    assert (mask ^ disc.astype(bool)).sum() <= 0.01 * disc.sum()
    assert mask[100, 100]
    assert not mask[100, 135]
    assert not skin_mask(image, (50.0, 50.0, 150.0, 150.0), SkinParams(threshold=0.95), ProbabilityDisc()).any()


def test_a_skin_model_with_a_wrong_answer_is_an_error() -> None:
    class Wrong:
        name = "wrong"

        def __call__(self, image: np.ndarray) -> np.ndarray:
            return np.zeros((10, 10), np.float32)

    with pytest.raises(GarmentError, match="skin model wrong returned shape"):
        skin_mask(np.zeros((64, 64, 3), np.uint8), (0.0, 0.0, 32.0, 32.0), model=Wrong())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cr": (180, 120)}, "cr must satisfy 0 <= low <= high <= 255"),
        ({"hue_low": (0, 200)}, "hue_low must satisfy"),
        ({"saturation": "low"}, "saturation must be two whole numbers"),
        ({"combine": "any"}, "combine must be one of both, either, ycrcb, hsv"),
        ({"open_fraction": 0.9}, "open_fraction must be within 0..0.5"),
        ({"threshold": 1.0}, "threshold must be within"),
        ({"y_min": 300}, "y_min"),
    ],
)
def test_bad_skin_settings_are_named(fields: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        SkinParams(**fields)


def test_bad_matte_arguments_are_named() -> None:
    image = scene()
    mask = skin_mask(image, BOX)
    with pytest.raises(BadInput, match="skin matte method must be one of"):
        skin_matte(image, BOX, mask, method="vitmatte")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="trimap radius"):
        skin_matte(image, BOX, mask, trimap_radius=0)
    with pytest.raises(BadInput, match="must be a uint8 RGB array"):
        skin_mask(image.astype(np.float32), BOX)


@pytest.mark.parametrize(
    "box", [BOX, (0.0, 20.0, 120.0, 230.0), (150.0, 0.0, 256.0, 256.0)], ids=["inner", "left", "right"]
)
def test_the_matte_is_the_whole_crop_computation_restricted_to_the_box(box) -> None:
    """The matte is computed on a window around the box; it must equal the trimap and classic matte of the whole
    crop (then cut to the box), whatever the box's place, at the crop's own trimap radius."""
    from lib_garment.segment.matte import classic_alpha
    from lib_garment.segment.trimap import make_trimap

    image = scene(seed=3, centre=(110, 128), axes=(70, 90))
    mask = skin_mask(image, box)
    matte = skin_matte(image, box, mask)
    trimap = make_trimap(mask)
    assert np.array_equal(matte.trimap, trimap)
    whole = classic_alpha(image, trimap, mask)
    whole[~box_region(box)] = 0.0
    assert np.allclose(matte.alpha, whole, atol=1e-6)
