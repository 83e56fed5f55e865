"""The chained steps with stand-in models that answer from the working image they are given."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.imageio import ImageLimits
from lib_garment.request import SegmentOptions
from lib_garment.segment.boxes import Box, PhraseDetection, SelectParams
from lib_garment.segment.matte_tiles import band_window, context_margin
from lib_garment.segment.overlay import PALETTE, TINT, overlay_image
from lib_garment.segment.pipeline import SegmentSettings, segment, settings_from_options

RED, BLUE = (220, 30, 30), (30, 40, 220)
RED_BOX, BLUE_BOX = Box(100, 50, 400, 350), Box(500, 300, 800, 550)  # original pixels, x1/y1 exclusive


def garment_photo() -> np.ndarray:
    image = np.full((600, 900, 3), 235, np.uint8)
    image[50:350, 100:400] = RED
    image[300:550, 500:800] = BLUE
    return image


def close_to(colour: tuple[int, int, int], image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - colour).sum(axis=2) < 60


class ColourDetector:
    """Finds each phrase's colour in the working image; also reports a smaller, surer box inside it."""

    name = "colour-detector"

    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def __call__(
        self, image: np.ndarray, phrases: tuple[str, ...], box_threshold: float, text_threshold: float
    ) -> Iterable[PhraseDetection]:
        self.seen.append(image.shape)
        for phrase in phrases:
            colour = {"red": RED, "blue": BLUE}.get(phrase)
            if colour is None:
                continue
            rows, cols = np.nonzero(close_to(colour, image))
            if rows.size:
                box = Box(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)  # continuous coordinates
                yield PhraseDetection(box, 0.6, phrase)
                yield PhraseDetection(Box(box.x0 + 5, box.y0 + 5, box.x0 + 20, box.y0 + 20), 0.9, phrase)
                yield PhraseDetection(box, 0.2, phrase)  # below the box threshold: a detector that does not filter


class BoxSam:
    """Masks the pixels of the box's colour inside each box."""

    name = "box-sam"

    def __init__(self) -> None:
        self.boxes: list[np.ndarray] = []

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        self.boxes.append(boxes)
        masks = np.zeros((len(boxes), 1, *image.shape[:2]), bool)
        for index, (x0, y0, x1, y1) in enumerate(boxes):
            inside = np.zeros(image.shape[:2], bool)
            inside[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = True
            masks[index, 0] = inside & (np.abs(image.astype(int) - 235).sum(axis=2) > 60)
        return masks


class HalfMatte:
    name = "half-matte"

    def __init__(self, dtype: type = np.float32) -> None:
        self.dtype = dtype
        self.seen: list[tuple[int, ...]] = []

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        assert image.shape[:2] == trimap.shape
        self.seen.append(trimap.shape)
        return np.full(trimap.shape, 128 if self.dtype == np.uint8 else 0.5, self.dtype)


class Refuse:
    name = "refuse"

    def __call__(self, *args: object) -> object:
        raise AssertionError("no model may run here")


def settings(**kw: object) -> SegmentSettings:
    base = {"phrases": ("red", "blue"), "model_max_side": 256, "matte_max_side": 320, "select": SelectParams(
        box_threshold=0.35)}  # fmt: skip
    return SegmentSettings(**{**base, **kw})  # type: ignore[arg-type]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_text_segmentation_maps_everything_back_to_the_photo() -> None:
    image = garment_photo()
    detector, sam = ColourDetector(), BoxSam()
    result = segment(image, settings(), detector=detector, segmenter=sam)
    assert detector.seen == [(171, 256, 3)]  # the models saw a bounded working image
    assert result.source == "text"
    assert result.mask.shape == (600, 900)
    assert result.mask.dtype == np.uint8
    # The largest box per phrase, in original pixels, within one working pixel (3.5 px) of the truth.
    chosen = result.selected
    assert list(chosen) == ["red", "blue"]
    for phrase, truth in (("red", RED_BOX), ("blue", BLUE_BOX)):
        (best,) = chosen[phrase]
        assert best.score == 0.6
        np.testing.assert_allclose(best.box.as_tuple(), truth.as_tuple(), atol=3.6)
    assert len(result.detections) == 6  # all reported, in original coordinates
    assert len(sam.boxes[0]) == 2
    # The mask: each garment's edges within a working pixel of the truth, and its centre not shifted (the
    # stand-in detector loses the blended edge pixels of the working image on every side alike).
    for colour, truth in ((RED, RED_BOX), (BLUE, BLUE_BOX)):
        rows, cols = np.nonzero((result.mask > 0) & close_to(colour, image))
        extent = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        np.testing.assert_allclose(extent, truth.as_tuple(), atol=3.6)
        centre = ((truth.x0 + truth.x1) / 2, (truth.y0 + truth.y1) / 2)
        np.testing.assert_allclose(((cols + 0.5).mean(), (rows + 0.5).mean()), centre, atol=0.6)
    assert iou(result.mask > 0, close_to(RED, image) | close_to(BLUE, image)) > 0.95
    # Trimap and alpha at the photo's size, exact where sure.
    assert result.trimap.shape == (600, 900)
    assert result.trimap_radius == 6  # 1 % of 600
    assert (result.mask[result.trimap == 255] == 255).all()
    assert (result.mask[result.trimap == 0] == 0).all()
    assert result.alpha.shape == (600, 900)
    assert result.alpha.dtype == np.float32
    assert (result.alpha[result.trimap == 255] == 1).all()
    assert (result.alpha[result.trimap == 0] == 0).all()
    assert result.matte.method == "classic"
    assert "ViTMatte is not available" in result.matte.note
    assert result.missing == ()
    data = result.to_json()
    assert data["source"] == "text"
    assert data["matte"] == "classic"
    assert data["trimap_radius"] == 6
    assert [d["score"] for d in data["selected"]["red"]] == [0.6]


def test_nothing_found_gives_an_empty_result_without_running_sam() -> None:
    image = garment_photo()
    result = segment(image, settings(phrases=("green",)), detector=ColourDetector(), segmenter=Refuse())
    assert result.missing == ("green",)
    assert not result.mask.any()
    assert not result.trimap.any()
    assert not result.alpha.any()


def test_a_coarse_mask_skips_detection_and_sam_and_is_cleaned() -> None:
    image = garment_photo()
    coarse = np.zeros((600, 900), np.uint8)
    coarse[50:350, 100:400] = 1  # any non-zero value is foreground
    coarse[500:507, 10:17] = 9  # 49 px speck: removed
    coarse[500:505, 40:50] = 9  # 50 px: kept
    result = segment(image, settings(), coarse_mask=coarse, detector=Refuse(), segmenter=Refuse())
    expected = np.zeros((600, 900), np.uint8)
    expected[50:350, 100:400] = 255
    expected[500:505, 40:50] = 255
    np.testing.assert_array_equal(result.mask, expected)
    assert result.source == "mask"
    assert result.selected == {}
    assert result.missing == ()


def test_bad_input_and_missing_models_are_refused_before_any_model_runs() -> None:
    image = garment_photo()
    refuse = Refuse()
    with pytest.raises(BadInput, match="segment.phrases"):
        segment(image, settings(phrases=()), detector=refuse, segmenter=refuse)
    with pytest.raises(BadInput, match="the mask is 900x599 but the image is 900x600"):
        segment(image, settings(), coarse_mask=np.ones((599, 900), np.uint8), detector=refuse, segmenter=refuse)
    with pytest.raises(BadInput, match="more than the limit"):
        segment(image, settings(), detector=refuse, segmenter=refuse, limits=ImageLimits(max_pixels=500_000))
    with pytest.raises(BadInput, match="RGB"):
        segment(image[..., 0], settings(), detector=refuse, segmenter=refuse)
    with pytest.raises(ModelUnavailable, match="GroundingDINO and SAM"):
        segment(image, settings())
    with pytest.raises(ModelUnavailable, match="ViTMatte"):
        segment(image, settings(fallback_to_classic=False), detector=refuse, segmenter=refuse)


def test_a_matte_model_runs_at_a_bounded_size_and_its_alpha_is_finished() -> None:
    image = garment_photo()
    for dtype in (np.float32, np.uint8):
        matte = HalfMatte(dtype)
        result = segment(image, settings(), detector=ColourDetector(), segmenter=BoxSam(), matte_model=matte)
        # The band's box plus its context margin (16 px here: k = 6), its longest side scaled to 320.
        crop = band_window(result.trimap == 128, context_margin(6))
        assert crop is not None
        assert crop.width > crop.height
        assert matte.seen == [(int(crop.height * 320 / crop.width + 0.5), 320)]
        assert result.matte.method == "vitmatte"
        assert result.matte.note == ""
        unknown = result.trimap == 128
        np.testing.assert_allclose(result.alpha[unknown], 128 / 255 if dtype == np.uint8 else 0.5, atol=1e-6)
        assert (result.alpha[result.trimap == 255] == 1).all()
        assert (result.alpha[result.trimap == 0] == 0).all()


def test_matte_none_is_the_clean_mask_and_no_band_needs_no_matte() -> None:
    image = garment_photo()
    result = segment(image, settings(matte="none"), detector=ColourDetector(), segmenter=BoxSam())
    np.testing.assert_array_equal(result.alpha, (result.mask > 0).astype(np.float32))
    assert result.matte.method == "none"
    full = segment(image, settings(phrases=()), coarse_mask=np.ones((600, 900), bool), matte_model=Refuse())
    assert (full.trimap == 255).all()
    assert (full.alpha == 1).all()


def test_request_options_become_settings() -> None:
    options = SegmentOptions(
        phrases="Dress . BELT .", select="topk", top_k=2, min_area=10, trimap_size=7, matte="classic"
    )
    s = settings_from_options(options)
    assert s.phrases == ("dress", "belt")
    assert s.select == SelectParams(mode="topk", top_k=2, box_threshold=0.35, text_threshold=0.25)
    assert (s.min_area, s.trimap_radius, s.matte) == (10, 7, "classic")


def test_overlay_tints_the_kept_part_and_labels_the_boxes() -> None:
    image = garment_photo()
    result = segment(image, settings(), detector=ColourDetector(), segmenter=BoxSam())
    preview = result.overlay(image)
    assert preview.shape == image.shape
    assert preview.dtype == np.uint8
    inside = image[200, 250].astype(float)
    expected = inside * (1 - 0.45) + np.array(TINT) * 0.45
    np.testing.assert_allclose(preview[200, 250], expected, atol=1)
    np.testing.assert_array_equal(preview[590, 20], image[590, 20])  # far from masks and boxes: untouched
    (red,) = result.selected["red"]
    col0, row0 = int(red.box.x0), int(red.box.y0)
    assert tuple(preview[row0 + 60, col0]) == PALETTE[0]  # the red phrase's box edge, in its colour
    (blue,) = result.selected["blue"]
    assert tuple(preview[int(blue.box.y0) + 100, int(blue.box.x1) - 1]) == PALETTE[1]
    plain = overlay_image(image, None, [PhraseDetection(Box(-50, -50, -10, -10), 0.5, "x")])  # off the photo: nothing
    np.testing.assert_array_equal(plain, image)
