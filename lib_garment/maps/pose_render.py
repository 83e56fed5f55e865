"""Drawing OpenPose-18 bodies the way ControlNet's openpose models learned to read them.

Black canvas; each limb is a filled ellipse between its two keypoints in its palette colour dimmed to 60 %;
then each keypoint a filled circle in its full colour, person after person. Widths are ControlNet's 4 px
limb half-width and 4 px dot radius at 512 px on the short side, scaled with the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from lib_garment.maps.pose_format import DEFAULT_POSE, Pose, PoseParams
from lib_garment.maps.scale import scaled_size

# Limbs as OpenPose-18 index pairs, in drawing order; limb i takes PALETTE[i].
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
# The 18-colour OpenPose palette (RGB): keypoint i takes PALETTE[i].
PALETTE = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
LIMB_DIM = 0.6
LIMB_HALF_WIDTH = 4  # px at 512
KEYPOINT_RADIUS = 4  # px at 512
LIMB_COLOURS = tuple(tuple(int(c * LIMB_DIM) for c in colour) for colour in PALETTE[: len(LIMBS)])


def render_pose(
    pose: Pose, width: int | None = None, height: int | None = None, params: PoseParams = DEFAULT_POSE
) -> np.ndarray:
    """The pose map: (H, W, 3) uint8 RGB, by default on the pose's own canvas size.

    Keypoints under ``params.threshold`` are not drawn, nor is any limb that touches one.
    """
    width = pose.width if width is None else width
    height = pose.height if height is None else height
    if (width, height) != (pose.width, pose.height):
        pose = pose.scaled_to(width, height)
    canvas = np.zeros((height, width, 3), np.uint8)
    half_width = scaled_size(LIMB_HALF_WIDTH, height, width)
    radius = scaled_size(KEYPOINT_RADIUS, height, width)
    limit = 8 * max(width, height)
    for person in pose.keypoints:
        kept = person[:, 2] >= params.threshold
        # Far-off points (an edited JSON) would overflow OpenCV's int coordinates; limbs toward them still cross.
        xy = np.clip(person[:, :2], -limit, limit)
        for (a, b), colour in zip(LIMBS, LIMB_COLOURS, strict=True):
            if kept[a] and kept[b]:
                _fill_limb(canvas, xy[a], xy[b], half_width, colour)
        for i in np.flatnonzero(kept):
            cv2.circle(canvas, (round(xy[i, 0]), round(xy[i, 1])), radius, PALETTE[i], thickness=-1)
    return canvas


def _fill_limb(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, half_width: int, colour: tuple[int, ...]) -> None:
    dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
    centre = (round((a[0] + b[0]) / 2), round((a[1] + b[1]) / 2))
    half_length = round(math.hypot(dx, dy) / 2)
    angle = round(math.degrees(math.atan2(dy, dx)))
    polygon = cv2.ellipse2Poly(centre, (half_length, half_width), angle, 0, 360, 1)
    cv2.fillConvexPoly(canvas, polygon, colour)
