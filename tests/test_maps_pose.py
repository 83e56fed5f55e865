"""Pose: COCO-17 → OpenPose-18, drawing in ControlNet's openpose style, and OpenPose JSON both ways."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.maps.pose_format import (
    Pose,
    PoseParams,
    coco_to_openpose,
    pose_from_coco,
    pose_from_json,
    pose_to_json,
    read_pose_json,
)
from lib_garment.maps.pose_render import LIMB_COLOURS, LIMBS, PALETTE, render_pose

# The OpenPose-18 slot each COCO-17 index lands in, written out from the two layouts' definitions:
# COCO: nose, l/r eye, l/r ear, l/r shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle.
# OpenPose: nose, neck, r shoulder/elbow/wrist, l shoulder/elbow/wrist, r hip/knee/ankle, l hip/knee/ankle,
# r eye, l eye, r ear, l ear.
COCO_OF_OPENPOSE = [0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]

# A standing person on a 512 x 512 canvas, in OpenPose order (x, y).
SKELETON = [
    (256, 80), (256, 130), (200, 130), (140, 130), (80, 130), (312, 130), (372, 130), (432, 130),
    (226, 260), (226, 360), (226, 460), (286, 260), (286, 360), (286, 460), (244, 68), (268, 68),
    (230, 80), (282, 80),
]  # fmt: skip


def skeleton_pose(confidence: float = 0.9, people: int = 1, shift: int = 0) -> Pose:
    points = np.array([[(x + shift * p, y, confidence) for x, y in SKELETON] for p in range(people)], float)
    return Pose(points, 512, 512)


def coco_person(confidence: float = 0.9) -> np.ndarray:
    coco = np.zeros((1, 17, 3))
    for c in range(17):
        coco[0, c] = (100 + 10 * c, 50 + 7 * c, confidence)
    return coco


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    points = np.atleast_2d(points)
    d = b - a
    t = np.clip(((points - a) @ d) / max(d @ d, 1e-9), 0, 1)
    return np.linalg.norm(points - (a + t[:, None] * d), axis=-1)


def test_coco_keypoints_are_reordered_to_openpose() -> None:
    coco = coco_person()
    points = coco_to_openpose(coco)
    assert points.shape == (1, 18, 3)
    for slot, index in enumerate(COCO_OF_OPENPOSE):
        if index is not None:
            np.testing.assert_array_equal(points[0, slot], coco[0, index])


def test_neck_is_the_midpoint_of_confident_shoulders() -> None:
    coco = coco_person()
    coco[0, 5] = (100, 200, 0.8)  # left shoulder
    coco[0, 6] = (160, 210, 0.6)  # right shoulder
    neck = coco_to_openpose(coco)[0, 1]
    np.testing.assert_allclose(neck, (130, 205, 0.6))


@pytest.mark.parametrize("missing", [[5], [6], [5, 6]])
def test_no_neck_without_both_shoulders(missing: list[int]) -> None:
    coco = coco_person()
    coco[0, missing, 2] = 0.2  # under the 0.5 threshold
    points = coco_to_openpose(coco, threshold=0.5)
    np.testing.assert_array_equal(points[0, 1], (0, 0, 0))
    assert points[0, 2, 2] == coco[0, 6, 2]  # shoulders keep their own confidence; drawing drops them
    assert points[0, 5, 2] == coco[0, 5, 2]


def test_several_people_convert_independently() -> None:
    coco = np.concatenate([coco_person(), coco_person()])
    coco[1, :, :2] += 300
    coco[1, 6, 2] = 0.0
    points = coco_to_openpose(coco)
    assert points[0, 1, 2] > 0
    assert points[1, 1, 2] == 0
    np.testing.assert_array_equal(points[1, 0, :2], coco[1, 0, :2])


def test_coco_keypoints_must_have_the_coco_shape() -> None:
    with pytest.raises(BadInput, match="17, 3"):
        coco_to_openpose(np.zeros((1, 18, 3)))


def test_rendering_puts_each_palette_colour_on_its_keypoint() -> None:
    canvas = render_pose(skeleton_pose())
    assert canvas.shape == (512, 512, 3)
    assert canvas.dtype == np.uint8
    for index, (x, y) in enumerate(SKELETON):
        assert tuple(canvas[y, x]) == PALETTE[index], index


def test_limbs_are_dimmed_palette_ellipses_and_the_rest_is_black() -> None:
    canvas = render_pose(skeleton_pose())
    xy = np.array(SKELETON, float)
    checked = 0
    for limb, (a, b) in enumerate(LIMBS):
        middle = (xy[a] + xy[b]) / 2
        others = [segment_distance(middle, xy[p], xy[q]) for j, (p, q) in enumerate(LIMBS) if j != limb]
        if min(others) > 10 and np.linalg.norm(xy - middle, axis=1).min() > 6:
            assert tuple(canvas[round(middle[1]), round(middle[0])]) == LIMB_COLOURS[limb], limb
            checked += 1
    assert checked >= 8
    assert LIMB_COLOURS[0] == (153, 0, 0)  # 255 x 0.6, truncated as ControlNet does
    ys, xs = np.mgrid[0:512, 0:512]
    pixels = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(float)
    near = np.min([segment_distance(pixels, xy[a], xy[b]) for a, b in LIMBS], axis=0)
    near = np.minimum(near, np.min(np.linalg.norm(pixels[:, None] - xy[None], axis=2), axis=1))
    far = (near > 6).reshape(512, 512)  # beyond the 4 px limb half-width and dot radius, with a margin
    assert canvas[far].max() == 0
    assert canvas[~far].any()


def test_low_confidence_points_and_their_limbs_are_left_out() -> None:
    pose = skeleton_pose()
    points = pose.keypoints.copy()
    points[0, 4, 2] = 0.3  # right wrist, under 0.5
    canvas = render_pose(Pose(points, 512, 512))
    assert canvas[130, 80].max() == 0  # no dot
    assert canvas[130, 110].max() == 0  # no elbow-wrist limb
    assert tuple(canvas[130, 140]) == PALETTE[3]  # the elbow is still there
    assert tuple(canvas[130, 80]) == (0, 0, 0)
    lowered = render_pose(Pose(points, 512, 512), params=PoseParams(threshold=0.25))
    assert tuple(lowered[130, 80]) == PALETTE[4]


def test_several_people_are_all_drawn() -> None:
    # Two people side by side, each squeezed to half the width.
    canvas = render_pose(Pose(skeleton_pose(people=2, shift=512).keypoints * [0.5, 1, 1], 512, 512))
    for person in range(2):
        for index, (x, y) in enumerate(SKELETON):
            assert tuple(canvas[y, round((x + 512 * person) * 0.5)]) == PALETTE[index]


def test_sizes_and_positions_scale_with_the_image() -> None:
    nose_only = np.zeros((1, 18, 3))
    nose_only[0, 0] = (100, 60, 1.0)
    pose = Pose(nose_only, 512, 512)
    small = render_pose(pose)
    assert tuple(small[60, 104]) == PALETTE[0]
    assert small[60, 105].max() == 0  # radius 4 at 512
    big = render_pose(pose, 1024, 1024)  # same pose on a canvas twice as large
    assert tuple(big[120, 200]) == PALETTE[0]
    assert tuple(big[120, 208]) == PALETTE[0]
    assert big[120, 209].max() == 0  # radius 8 at 1024


def test_an_empty_pose_is_a_black_canvas() -> None:
    canvas = render_pose(Pose(np.zeros((0, 18, 3)), 40, 30))
    assert canvas.shape == (30, 40, 3)
    assert canvas.max() == 0


def test_json_round_trip() -> None:
    pose = skeleton_pose(people=2, shift=10)
    points = pose.keypoints.copy()
    points[1, 5, 2] = 0.2  # dropped when written
    points[0, :, :2] += 0.25  # sub-pixel positions survive
    pose = Pose(points, 512, 512)
    data = json.loads(json.dumps(pose_to_json(pose)))
    assert data["canvas_width"] == 512
    assert data["canvas_height"] == 512
    assert [len(p["pose_keypoints_2d"]) for p in data["people"]] == [54, 54]
    assert data["people"][1]["pose_keypoints_2d"][15:18] == [0.0, 0.0, 0.0]
    back = pose_from_json(data)
    kept = points[..., 2] >= 0.5
    np.testing.assert_array_equal(back.keypoints[..., :2][kept], points[..., :2][kept])
    np.testing.assert_array_equal(back.keypoints[..., 2], kept.astype(float))
    np.testing.assert_array_equal(render_pose(back), render_pose(pose))


def test_people_with_nothing_confident_are_not_written() -> None:
    data = pose_to_json(skeleton_pose(confidence=0.1))
    assert data["people"] == []


def test_pose_from_coco_keeps_the_image_canvas() -> None:
    pose = pose_from_coco(coco_person(), 640, 480)
    assert (pose.width, pose.height, pose.people) == (640, 480, 1)


def test_normalised_json_from_controlnet_is_scaled_to_its_canvas() -> None:
    flat = []
    for x, y in SKELETON:
        flat += [x / 512, y / 1024, 1.0]
    pose = pose_from_json({"people": [{"pose_keypoints_2d": flat}], "canvas_width": 512, "canvas_height": 1024})
    np.testing.assert_allclose(pose.keypoints[0, :, :2], np.array(SKELETON, float))


def test_json_canvas_is_scaled_to_the_image() -> None:
    pose = pose_from_json(pose_to_json(skeleton_pose()))
    canvas = render_pose(pose, 256, 1024)
    x, y = SKELETON[7]
    assert tuple(canvas[y * 2, x // 2]) == PALETTE[7]


def test_openpose_files_without_canvas_use_the_image_size() -> None:
    data = pose_to_json(skeleton_pose())
    del data["canvas_width"], data["canvas_height"]
    pose = pose_from_json(data, image_size=(512, 512))
    assert (pose.width, pose.height) == (512, 512)
    with pytest.raises(BadInput, match="canvas"):
        pose_from_json(data)


def test_body25_and_coco_layouts_are_accepted() -> None:
    body25 = np.zeros((25, 3))
    body25[:, 0] = np.arange(25) * 10 + 5
    body25[:, 1] = 7
    body25[:, 2] = 1
    pose = pose_from_json({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}], "canvas_width": 300,
                           "canvas_height": 300})  # fmt: skip
    expected_x = [i * 10 + 5 for i in (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)]
    np.testing.assert_array_equal(pose.keypoints[0, :, 0], expected_x)
    coco = coco_person(1.0)[0]
    pose = pose_from_json({"people": [{"pose_keypoints_2d": coco.ravel().tolist()}], "canvas_width": 400,
                           "canvas_height": 400})  # fmt: skip
    np.testing.assert_array_equal(pose.keypoints[0], coco_to_openpose(coco[None])[0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "object with 'people'"),
        ({"canvas_width": 10, "canvas_height": 10}, "no 'people' list"),
        ({"people": [{"pose_keypoints_2d": [1.0] * 53}], "canvas_width": 9, "canvas_height": 9}, "has 53 numbers"),
        ({"people": [{"pose_keypoints_2d": ["a"] * 54}], "canvas_width": 9, "canvas_height": 9}, "finite numbers"),
        ({"people": [{"pose_keypoints_2d": [float("nan")] * 54}], "canvas_width": 9, "canvas_height": 9}, "finite"),
        ({"people": ["x"], "canvas_width": 9, "canvas_height": 9}, r"people\[0\] must be an object"),
        ({"people": [], "canvas_width": 0, "canvas_height": 9}, "canvas_width"),
        ({"people": [], "canvas_width": True, "canvas_height": 9}, "canvas_width"),
        ({"people": [], "canvas_width": 9}, "canvas_height"),
    ],
)
def test_malformed_json_is_bad_input(data: object, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        pose_from_json(data)


def test_json_files_that_do_not_parse_are_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "pose.json"
    broken.write_text('{"people": [', encoding="utf-8")
    with pytest.raises(BadInput, match="not valid JSON"):
        read_pose_json(broken)
    with pytest.raises(BadInput, match="not found"):
        read_pose_json(tmp_path / "absent.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(pose_to_json(skeleton_pose())), encoding="utf-8")
    assert read_pose_json(good).people == 1


def test_pose_keypoints_are_read_only_copies() -> None:
    points = np.array(skeleton_pose().keypoints)
    pose = Pose(points, 512, 512)
    points[0, 0, 0] = -1
    assert pose.keypoints[0, 0, 0] == SKELETON[0][0]
    assert not pose.keypoints.flags.writeable
    with pytest.raises(BadInput, match="18, 3"):
        Pose(np.zeros((1, 17, 3)), 10, 10)
