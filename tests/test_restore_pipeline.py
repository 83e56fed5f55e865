"""restore_image end to end on synthetic scenes with a scripted detector (and once with a real Haar cascade):
what regenerate is given, what comes back where, what stays bit-exact, and what is refused before any model."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from lib_garment.errors import BadInput, GarmentError
from lib_garment.restore.detect import PartDetection
from lib_garment.restore.detectors.haar import HaarFaceDetector
from lib_garment.restore.pipeline import (
    NOTHING_DETECTED,
    RestoreSettings,
    execute_plan,
    plan_detections,
    plan_restore,
    restore_image,
    settings_from_dict,
    settings_from_options,
)

SKIN = (224, 172, 150)
BACKDROP = (60, 110, 170)
H, W = 320, 480
FACE_A = ((120, 120), (40, 55))  # centre, half axes
FACE_B = ((330, 110), (35, 50))
HAND = ((250, 260), (22, 16))


def scene() -> np.ndarray:
    image = np.empty((H, W, 3), np.uint8)
    image[:] = BACKDROP
    for centre, axes in (FACE_A, FACE_B, HAND):
        cv2.ellipse(image, centre, axes, 0, 0, 360, SKIN, -1)
    noise = np.random.default_rng(0).integers(-4, 5, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def box_of(shape: tuple[tuple[int, int], tuple[int, int]], pad: int = 12) -> tuple[float, float, float, float]:
    (cx, cy), (ax, ay) = shape
    return float(cx - ax - pad), float(cy - ay - pad), float(cx + ax + pad), float(cy + ay + pad)


def boxes_mask(boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    inside = np.zeros((H, W), bool)
    for x0, y0, x1, y1 in boxes:
        inside[int(np.floor(y0)) : int(np.ceil(y1)), int(np.floor(x0)) : int(np.ceil(x1))] = True
    return inside


class Scripted:
    """A detector that returns fixed detections and counts its calls."""

    name = "scripted"

    def __init__(self, detections: list[PartDetection]) -> None:
        self.detections = detections
        self.calls = 0

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        self.calls += 1
        return list(self.detections)


class Restyle:
    """regenerate: the crop with new structure (stripes, 8 crop px apart) and ``offset`` more light; records
    every call. (A pure brightness offset would not do: Poisson blending keeps the original's level.)"""

    def __init__(self, offset: int = 20) -> None:
        self.offset = offset
        self.calls: list[tuple[np.ndarray, np.ndarray, PartDetection, int]] = []

    def __call__(self, crop: np.ndarray, matte: np.ndarray, detection: PartDetection, index: int) -> np.ndarray:
        self.calls.append((crop, matte, detection, index))
        stripes = np.where((np.arange(crop.shape[1]) // 8) % 2 == 0, 30, -30)[None, :, None]
        return np.clip(crop.astype(np.int16) + self.offset + stripes, 0, 255).astype(np.uint8)


def changed(after: np.ndarray, before: np.ndarray, centre: tuple[int, int], half: int = 6) -> float:
    """Mean absolute change in a small window around ``centre`` (x, y)."""
    x, y = centre
    window = np.s_[y - half : y + half, x - half : x + half]
    return float(np.abs(after[window].astype(int) - before[window]).mean())


def detections() -> list[PartDetection]:
    return [
        PartDetection(box_of(FACE_B), 0.9, "face"),
        PartDetection(box_of(HAND), 0.8, "hand"),
        PartDetection(box_of(FACE_A), 0.95, "face"),
    ]


def test_a_matte_the_garment_covers_entirely_is_skipped_before_any_pass() -> None:
    image = scene()
    keep = np.zeros((H, W), np.float32)
    x0, y0, x1, y1 = box_of(FACE_A)
    keep[int(y0) - 5 : int(y1) + 5, int(x0) - 5 : int(x1) + 5] = 1.0  # the garment hides face A entirely
    regenerate = Restyle()
    result = restore_image(image, Scripted(detections()), regenerate, keep_alpha=keep)
    by_box = {r.detection.box: r for r in result.records}
    covered = by_box[box_of(FACE_A)]
    assert covered.status == "skipped"
    assert "the kept garment covers the skin matte (0 px left): no pass" in covered.note
    assert covered.skin_pixels == 0
    assert [call[2].box for call in regenerate.calls] == [box_of(FACE_B), box_of(HAND)]  # no pass for face A
    assert np.array_equal(result.image[keep == 1], image[keep == 1])


def test_the_kept_garment_is_taken_out_of_the_matte_the_pass_gets() -> None:
    image = scene()
    keep = np.zeros((H, W), np.float32)
    keep[120:, :] = 1.0  # the garment covers the lower half of face A (centre row 120)
    regenerate = Restyle()
    face_a = PartDetection(box_of(FACE_A), 0.9, "face")
    result = restore_image(image, Scripted([face_a]), regenerate, keep_alpha=keep)
    ((crop, matte, _, _),) = regenerate.calls
    (record,) = result.records
    region = record.region
    kept_in_crop = region.extract(keep) >= 0.5
    assert kept_in_crop.any()
    assert matte[kept_in_crop].max() == 0.0  # nothing the garment keeps is asked to be regenerated
    assert matte[~kept_in_crop].max() == 1.0  # the upper half still is
    assert record.skin_pixels == int(np.count_nonzero(matte))
    assert np.array_equal(result.image[keep == 1], image[keep == 1])


def test_each_detection_is_regenerated_in_its_crop_and_blended_back_inside_its_box_only() -> None:
    image = scene()
    found = detections()
    regenerate = Restyle()
    result = restore_image(image, Scripted(found), regenerate, {"filter": {"sort": "left-right"}})
    assert [r.status for r in result.records] == ["restored"] * 3
    assert [r.detection for r in result.records] == [found[2], found[1], found[0]]  # left to right
    assert [call[3] for call in regenerate.calls] == [0, 1, 2]
    for (crop, matte, detection, _), record in zip(regenerate.calls, result.records, strict=True):
        assert crop.shape == (512, 512, 3)
        assert crop.dtype == np.uint8
        assert matte.shape == (512, 512)
        assert matte.dtype == np.float32
        assert detection is record.detection
        # the matte is zero outside the detection box as the crop sees it
        x0, y0, x1, y1 = record.region.box_to_crop(detection.box)
        outside = np.ones((512, 512), bool)
        outside[int(np.floor(y0)) : int(np.ceil(y1)), int(np.floor(x0)) : int(np.ceil(x1))] = False
        assert matte[outside].max() == 0.0
        assert matte.max() == 1.0
        assert record.skin_pixels == int(np.count_nonzero(matte))
        assert record.seam is not None
        assert record.seam >= 0
        assert set(record.timings) == {"crop", "skin", "regenerate", "blend", "seam"}
    # outside every box, bit for bit; inside each skin region, restyled
    untouched = ~boxes_mask([d.box for d in found])
    assert np.array_equal(result.image[untouched], image[untouched])
    for centre, _ in (FACE_A, FACE_B, HAND):
        assert changed(result.image, image, centre) > 15
    assert result.restored == 3
    assert result.notes == ()
    assert result.timings["total"] >= result.timings["skin"] + result.timings["blend"]
    assert image[0, 0].tolist() != [0, 0, 0]  # the input array itself was not modified
    assert np.array_equal(image, scene())


def test_the_kept_garment_stays_exact_inside_a_detection() -> None:
    image = scene()
    keep = np.zeros((H, W), np.float32)
    keep[110:200, 60:180] = 1.0  # the garment covers the lower half of face A
    result = restore_image(image, Scripted(detections()), Restyle(), keep_alpha=keep)
    assert np.array_equal(result.image[keep == 1], image[keep == 1])
    assert changed(result.image, image, (120, 90), half=4) > 15  # face A above it


def test_nothing_detected_passes_the_image_through_untouched() -> None:
    image = scene()
    regenerate = Restyle()
    result = restore_image(image, Scripted([]), regenerate)
    assert np.array_equal(result.image, image)
    assert result.notes == (NOTHING_DETECTED,)
    assert result.records == ()
    assert regenerate.calls == []


def test_detections_the_filters_drop_are_reported() -> None:
    image = scene()
    result = restore_image(image, Scripted(detections()), Restyle(), {"filter": {"confidence": 0.99}})
    assert np.array_equal(result.image, image)
    assert result.notes == ("3 detection(s), none kept by the filters: image passed through untouched",)
    hands_off = restore_image(image, Scripted(detections()), Restyle(), {"hands": False})
    assert [r.detection.kind for r in hands_off.records] == ["face", "face"]


def test_prompts_follow_the_kind_lists_and_skip_leaves_a_face_alone() -> None:
    image = scene()
    settings = RestoreSettings(
        face_prompt="[PROMPT], first face [SEP] [SKIP]",
        hand_prompt="a relaxed hand",
        negative_prompt="blurry",
        main_prompt="a model in a linen shirt",
        filter=settings_from_dict({"filter": {"sort": "left-right"}}).filter,
    )
    regenerate = Restyle()
    result = restore_image(image, Scripted(detections()), regenerate, settings)
    prompts = [(r.detection.kind, r.prompt, r.negative_prompt, r.status) for r in result.records]
    assert prompts == [
        ("face", "a model in a linen shirt, first face", "blurry", "restored"),
        ("hand", "a relaxed hand", "blurry", "restored"),
        ("face", None, "blurry", "skipped"),
    ]
    assert [call[3] for call in regenerate.calls] == [0, 1]
    skipped = boxes_mask([result.records[2].detection.box])
    assert np.array_equal(result.image[skipped], image[skipped])  # face B untouched
    assert result.records[2].note == "[SKIP] prompt"


def test_a_plan_can_be_made_first_and_executed_with_its_prompts() -> None:
    image = scene()
    settings = RestoreSettings(prompt="face one [SEP] face two [SEP] the hand")
    detector = Scripted(detections())
    plan = plan_restore(image, detector, settings)
    assert [item.prompt for item in plan.items] == ["face one", "face two", "the hand"]
    assert plan.found == 3
    prompts_seen: list[str | None] = []

    def regenerate(crop: np.ndarray, matte: np.ndarray, detection: PartDetection, index: int) -> np.ndarray:
        prompts_seen.append(plan.items[index].prompt)
        return crop

    result = execute_plan(image, plan, regenerate, settings)
    assert prompts_seen == ["face one", "face two", "the hand"]
    assert detector.calls == 1
    assert result.plan is plan
    # regenerating the crop unchanged changes the image only by resampling (up and back down), within the boxes
    inside = boxes_mask([d.box for d in detections()])
    assert np.array_equal(result.image[~inside], image[~inside])
    assert np.abs(result.image.astype(int) - image)[inside].mean() < 1.0


def test_detections_are_restored_one_after_the_other_on_the_updated_image() -> None:
    image = scene()
    first = PartDetection(box_of(FACE_A), 0.9, "face")
    overlapping = PartDetection((90.0, 100.0, 200.0, 200.0), 0.9, "face")  # overlaps face A's lower half
    regenerate = Restyle(40)
    restore_image(image, Scripted([first, overlapping]), regenerate)
    second_crop = regenerate.calls[1][0]
    region = plan_detections([first, overlapping], image.shape[:2]).items[1].region
    assert not np.array_equal(second_crop, region.extract(image))  # it saw the first pass's brighter face


def test_regenerate_may_decline_and_must_return_a_crop() -> None:
    image = scene()
    result = restore_image(image, Scripted(detections()), lambda crop, matte, det, i: None)
    assert [r.status for r in result.records] == ["skipped"] * 3
    assert result.records[0].note == "regenerate returned nothing"
    assert "no detection was restored" in result.notes[-1]
    assert np.array_equal(result.image, image)
    with pytest.raises(GarmentError, match=r"expected a \(512, 512, 3\) uint8 crop"):
        restore_image(image, Scripted(detections()), lambda crop, matte, det, i: crop[:256])


def test_a_detection_without_skin_is_skipped_with_the_reason() -> None:
    image = scene()
    result = restore_image(image, Scripted([PartDetection((400.0, 250.0, 460.0, 310.0), 0.9, "hand")]), Restyle())
    (record,) = result.records
    assert record.status == "skipped"
    assert "no skin" in record.note
    assert np.array_equal(result.image, image)


def test_poisson_leaves_a_smaller_seam_than_a_plain_paste() -> None:
    image = scene()
    # a regenerated patch with another exposure and a texture of its own
    rng = np.random.default_rng(3)

    def regenerate(crop: np.ndarray, matte: np.ndarray, detection: PartDetection, index: int) -> np.ndarray:
        return np.clip(crop.astype(np.int16) + 35 + rng.integers(-3, 4, crop.shape), 0, 255).astype(np.uint8)

    found = [PartDetection(box_of(FACE_A), 0.9, "face")]
    seams = {}
    for blend in ("normal", "alpha"):
        rng = np.random.default_rng(3)
        result = restore_image(image, Scripted(found), regenerate, {"blend": blend, "matte": "none"})
        seams[blend] = result.records[0].seam
    assert seams["normal"] < 0.5 * seams["alpha"]


def test_a_real_haar_face_is_restored_and_nothing_else_changes() -> None:
    from skimage import data

    image = data.astronaut()
    result = restore_image(image, HaarFaceDetector(), Restyle(20))
    (record,) = result.records
    assert record.status == "restored"
    assert record.detection.kind == "face"
    untouched = ~boxes_mask_for(image.shape[:2], record.detection.box)
    assert np.array_equal(result.image[untouched], image[untouched])
    assert (result.image != image).any()


def boxes_mask_for(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    inside = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    inside[int(np.floor(y0)) : int(np.ceil(y1)), int(np.floor(x0)) : int(np.ceil(x1))] = True
    return inside


class Exploding:
    name = "exploding"

    def __call__(self, image: np.ndarray) -> list[PartDetection]:
        raise AssertionError("the detector must not run when the arguments are bad")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": {"blend": "screen"}}, "restore: restore blend must be one of normal, mixed, alpha"),
        ({"options": {"colour": 1}}, "restore: unknown field"),
        ({"options": {"filter": {"confidence": 2}}}, "restore.filter: confidence must be a number within 0..1"),
        ({"options": {"crop": {"size": 500}}}, "restore.crop: crop size must be a multiple of 8"),
        ({"options": {"skin": {"combine": "any"}}}, "restore.skin: skin combine must be one of"),
        ({"options": {"faces": False, "hands": False}}, "restore needs faces or hands"),
        ({"options": {"hands": False, "filter": {"kinds": ["hand"]}}}, "which are switched off"),
        ({"options": {"matte": "vitmatte"}}, "restore matte must be one of model, classic, none"),
        ({"options": {"trimap_radius": 0}}, "trimap_radius must be a whole number >= 1"),
        ({"options": {"prompt": 3}}, "restore prompt must be text"),
        ({"options": "fast"}, "restore settings must be an object"),
        ({"keep_alpha": np.ones((10, 10), np.float32)}, "keep alpha is 10x10 but the image is 480x320"),
        ({"keep_alpha": np.full((H, W), 2.0)}, r"keep alpha must hold values in \[0, 1\]"),
        ({"regenerate": "img2img"}, "regenerate must be a function"),
        ({"image": np.zeros((H, W), np.uint8)}, r"image must be \(H, W, 3\) RGB"),
    ],
)
def test_bad_arguments_are_refused_before_the_detector_runs(kwargs: dict, message: str) -> None:
    arguments = {"image": scene(), "detector": Exploding(), "regenerate": Restyle(), **kwargs}
    with pytest.raises(BadInput, match=message):
        restore_image(**arguments)


def test_no_detector_is_bad_input() -> None:
    with pytest.raises(BadInput, match="restore needs a detector"):
        restore_image(scene(), [], Restyle())  # type: ignore[arg-type]


def test_a_plan_for_another_image_is_refused() -> None:
    plan = plan_detections(detections(), (H, W))
    with pytest.raises(BadInput, match="the plan is for a 480x320 image, got 100x100"):
        execute_plan(np.zeros((100, 100, 3), np.uint8), plan, Restyle())


def test_settings_from_plain_data_and_from_the_request_options() -> None:
    settings = settings_from_dict(
        {"filter": {"kinds": ["face"], "top_k": 2}, "skin": {"cr": [130, 175]}, "blend": "mixed", "hands": True}
    )
    assert settings.filter.kinds == ("face",)
    assert settings.skin.cr == (130, 175)
    assert settings.kinds == ("face",)
    options = SimpleNamespace(
        enabled=True, faces=True, hands=False, prompt="p", negative_prompt="n", denoising_strength=0.4
    )
    from_request = settings_from_options(options, main_prompt="main", blend="alpha")
    assert (from_request.faces, from_request.hands, from_request.prompt, from_request.negative_prompt) == (
        True,
        False,
        "p",
        "n",
    )
    assert from_request.main_prompt == "main"
    assert from_request.blend == "alpha"
