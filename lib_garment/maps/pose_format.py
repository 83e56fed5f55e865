"""Body keypoints: COCO-17 (what YOLOv8-pose gives) → the 18-point OpenPose body, and OpenPose JSON.

A :class:`Pose` holds every person's 18 OpenPose keypoints in pixels of its canvas, with their confidences;
drawing (pose_render) and writing JSON apply the confidence threshold. The JSON is the OpenPose layout that
sd-webui-controlnet writes and its pose editor reads: ``people[].pose_keypoints_2d`` as flat x, y, c triples
plus ``canvas_width`` / ``canvas_height``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle",
)  # fmt: skip
OPENPOSE_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)  # fmt: skip
NECK = OPENPOSE_NAMES.index("neck")
# For each OpenPose slot, the COCO keypoint it takes (the neck has none: it is made from the shoulders).
_FROM_COCO = tuple(-1 if name == "neck" else COCO_NAMES.index(name) for name in OPENPOSE_NAMES)
# OpenPose's BODY_25 adds a mid-hip (8) and six foot points (19-24); the other 18 are the body points.
_FROM_BODY25 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
_LAYOUTS = {17: "COCO-17", 18: "OpenPose-18", 25: "OpenPose BODY_25"}

DEFAULT_THRESHOLD = 0.5  # ultralytics draws YOLOv8-pose keypoints from this confidence up


@dataclass(frozen=True)
class PoseParams:
    threshold: float = DEFAULT_THRESHOLD  # keypoints below this confidence, and their limbs, are left out

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and 0 < self.threshold <= 1):
            raise BadInput(f"pose confidence threshold must be in (0, 1], got {self.threshold}")


DEFAULT_POSE = PoseParams()


@dataclass(frozen=True, eq=False)
class Pose:
    """Everyone's OpenPose-18 keypoints: ``keypoints[person, point] = (x, y, confidence)``, pixels of the canvas.

    A confidence of 0 means the point is absent. The array is copied and made read-only.
    """

    keypoints: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        points = np.array(self.keypoints, dtype=np.float64)
        if points.size == 0:
            points = np.zeros((0, 18, 3))
        if points.ndim != 3 or points.shape[1:] != (18, 3):
            raise BadInput(f"pose keypoints must be (people, 18, 3) x, y, confidence; got shape {points.shape}")
        if not np.isfinite(points).all():
            raise BadInput("pose keypoints must be finite numbers")
        if self.width < 1 or self.height < 1:
            raise BadInput(f"pose canvas must be at least 1x1, got {self.width}x{self.height}")
        points.flags.writeable = False
        object.__setattr__(self, "keypoints", points)

    @property
    def people(self) -> int:
        return len(self.keypoints)

    def scaled_to(self, width: int, height: int) -> Pose:
        """The same pose on a canvas of another size (each axis scaled on its own)."""
        points = self.keypoints.copy()
        points[..., 0] *= width / self.width
        points[..., 1] *= height / self.height
        return Pose(points, width, height)

    def digest(self) -> str:
        """Content hash, for cache keys."""
        h = hashlib.blake2b(self.keypoints.tobytes(), digest_size=16)
        h.update(f"{self.width}x{self.height}".encode())
        return h.hexdigest()


def coco_to_openpose(coco: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """(people, 17, 3) COCO keypoints → (people, 18, 3) in OpenPose body order.

    The neck is the midpoint of the shoulders, with the lower of their two confidences, when both shoulders
    reach ``threshold``; otherwise it is absent (confidence 0), as are COCO points the model could not see.
    """
    coco = np.asarray(coco, dtype=np.float64)
    if coco.ndim != 3 or coco.shape[1:] != (17, 3):
        raise BadInput(f"COCO keypoints must be (people, 17, 3) x, y, confidence; got shape {coco.shape}")
    index = np.array(_FROM_COCO)
    points = coco[:, np.where(index < 0, 0, index), :].copy()
    left, right = coco[:, COCO_NAMES.index("left_shoulder")], coco[:, COCO_NAMES.index("right_shoulder")]
    both = (left[:, 2] >= threshold) & (right[:, 2] >= threshold)
    neck = np.zeros((len(coco), 3))
    neck[:, :2] = (left[:, :2] + right[:, :2]) / 2
    neck[:, 2] = np.minimum(left[:, 2], right[:, 2])
    neck[~both] = 0.0
    points[:, NECK] = neck
    # Models report non-finite coordinates for points they did not place; those are absent.
    points[~np.isfinite(points).all(axis=2)] = 0.0
    return points


def pose_from_coco(coco: np.ndarray, width: int, height: int, threshold: float = DEFAULT_THRESHOLD) -> Pose:
    """A Pose from a pose model's COCO keypoints in pixels of a ``width`` x ``height`` image."""
    return Pose(coco_to_openpose(coco, threshold), width, height)


def pose_to_json(pose: Pose, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """OpenPose JSON with pixel coordinates; people with no point over the threshold are left out.

    Kept points get confidence 1.0 and dropped ones 0, 0, 0: sd-webui-controlnet treats any confidence below
    1.0 as absent when it reads this format, so the file renders there exactly as it does here.
    """
    people = []
    for person in pose.keypoints:
        kept = person[:, 2] >= threshold
        if not kept.any():
            continue
        flat: list[float] = []
        for (x, y, _), keep in zip(person, kept, strict=True):
            flat.extend((float(x), float(y), 1.0) if keep else (0.0, 0.0, 0.0))
        people.append({"pose_keypoints_2d": flat})
    return {"people": people, "canvas_width": pose.width, "canvas_height": pose.height}


def pose_from_json(data: Any, image_size: tuple[int, int] | None = None) -> Pose:
    """Read OpenPose JSON (already parsed): ControlNet's, its pose editor's, or OpenPose's own output.

    Body keypoints may be OpenPose-18 (54 numbers), BODY_25 (75) or COCO-17 (51); coordinates in pixels or,
    as ControlNet's detector writes them, normalised to 0..1 (every present point inside 0..1). Without
    ``canvas_width``/``canvas_height`` (OpenPose's own files) the canvas is ``image_size`` (width, height).
    Hands and faces are not drawn and are ignored. Anything malformed is BadInput naming the problem.
    """
    if isinstance(data, list) and len(data) == 1:  # ControlNet's API returns a list of poses
        data = data[0]
    if not isinstance(data, dict):
        raise BadInput(f"pose JSON must be an object with 'people', got {type(data).__name__}")
    people = data.get("people")
    if not isinstance(people, list):
        raise BadInput("pose JSON has no 'people' list")
    width, height = _canvas(data, image_size)
    persons = [points for i, entry in enumerate(people) if (points := _person(entry, i)) is not None]
    keypoints = np.array(persons) if persons else np.zeros((0, 18, 3))
    present = keypoints[..., 2] > 0
    xy = keypoints[..., :2][present]
    if len(xy) and (xy >= 0).all() and (xy <= 1).all():
        keypoints[..., 0] *= width
        keypoints[..., 1] *= height
    return Pose(keypoints, width, height)


def read_pose_json(path: str | Path, image_size: tuple[int, int] | None = None) -> Pose:
    """:func:`pose_from_json` of a file; a missing, unreadable or malformed file is BadInput."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"keypoints file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # Windows editors may add a BOM
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"cannot read keypoints file {path}: {err}") from err
    except json.JSONDecodeError as err:
        raise BadInput(f"keypoints file {path} is not valid JSON: {err}") from err
    try:
        return pose_from_json(data, image_size)
    except BadInput as err:
        raise BadInput(f"keypoints file {path}: {err}") from err


def _canvas(data: dict[str, Any], image_size: tuple[int, int] | None) -> tuple[int, int]:
    width, height = data.get("canvas_width"), data.get("canvas_height")
    if width is None and height is None:
        if image_size is None:
            raise BadInput("pose JSON has no canvas_width/canvas_height and no image size was given")
        return image_size
    for name, value in (("canvas_width", width), ("canvas_height", height)):
        if not _is_number(value) or value < 1 or value != int(value):
            raise BadInput(f"pose JSON {name} must be a whole number >= 1, got {value!r}")
    return int(width), int(height)


def _person(entry: Any, index: int) -> np.ndarray | None:
    if not isinstance(entry, dict):
        raise BadInput(f"pose JSON people[{index}] must be an object, got {type(entry).__name__}")
    numbers = entry.get("pose_keypoints_2d")
    if not numbers:  # ControlNet writes null for a person without a body; nothing to draw
        return None
    if not isinstance(numbers, list) or not all(_is_number(v) for v in numbers):
        raise BadInput(f"pose JSON people[{index}].pose_keypoints_2d must be a list of finite numbers")
    count = len(numbers) // 3
    if len(numbers) % 3 or count not in _LAYOUTS:
        layouts = ", ".join(f"{n * 3} ({name})" for n, name in _LAYOUTS.items())
        raise BadInput(f"pose JSON people[{index}].pose_keypoints_2d has {len(numbers)} numbers; expected {layouts}")
    points = np.array(numbers, dtype=np.float64).reshape(count, 3)
    if count == 25:
        return points[list(_FROM_BODY25)]
    if count == 17:
        # A COCO layout carries its confidences; only present points (c > 0) make the neck.
        return coco_to_openpose(points[None], threshold=np.finfo(float).tiny)[0]
    return points


def _is_number(value: Any) -> bool:
    """A finite JSON number (JSON has no NaN, but Python's parser accepts it; true/false are not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
