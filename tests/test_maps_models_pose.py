"""YOLOv8-pose through the production loader: a tiny random ultralytics checkpoint, in-process and in the worker.

Random weights give meaningless people, so the geometry is checked with a model whose keypoint head is
zeroed: every keypoint then decodes to a corner of the model's anchor grid (multiples of 8 px in the
letterboxed input), which pins down how keypoints are mapped back through the letterbox into the photo.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.pose_model import (
    PoseModelParams,
    YoloPoseEstimator,
    detect_people,
    pose_estimator,
)
from lib_garment.models import registry
from lib_garment.models.store import UnverifiedFile
from lib_garment.models.yolo import precision_arguments
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.runtime import InProcessRuntime, WorkerRuntime, shared_worker
from lib_garment.runtime.cache import load_count

ROOT = Path(__file__).resolve().parents[1]
LOW = PoseModelParams(conf=0.0, max_people=6)  # random weights: only conf 0 keeps anyone


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def grid_pose_model(tiny_yolo_pose, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pose checkpoint with its keypoint output convolutions zeroed: raw keypoint offsets of 0
    decode to (anchor - 0.5) * stride, i.e. grid corners, with confidence sigmoid(0) = 0.5."""
    import torch

    checkpoint = torch.load(tiny_yolo_pose.path, map_location="cpu", weights_only=False)
    head = checkpoint["model"].model[-1]
    for branch in head.cv4:
        torch.nn.init.zeros_(branch[-1].weight)
        torch.nn.init.zeros_(branch[-1].bias)
    path = tmp_path_factory.mktemp("grid-pose") / "grid-pose.pt"
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="module")
def worker() -> WorkerRuntime:
    """The shared model worker (a WorkerRuntime with the default package folder), already running when an
    earlier module used it; the session's end stops it (conftest)."""
    return shared_worker()


def _letterbox(height: int, width: int, imgsz: int = 640, stride: int = 32) -> tuple[float, float, float]:
    """Scale and padding of ultralytics' LetterBox(auto=True), as its documentation describes it."""
    r = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * r), round(height * r)
    pad_w, pad_h = (imgsz - new_w) % stride / 2, (imgsz - new_h) % stride / 2
    return r, round(pad_w - 0.1), round(pad_h - 0.1)


def test_people_come_back_as_coco_keypoints_in_the_photos_pixels(
    tiny_yolo_pose, yolo_environment: Path, tmp_path: Path
) -> None:
    estimator = pose_estimator(
        str(tiny_yolo_pose.path), tmp_path, device="cpu", params=LOW, trust_unverified=True,
        runtime=InProcessRuntime(check_pickling=True),  # the result must survive the worker's pickling
    )  # fmt: skip
    image = _rgb(300, 500)
    found = estimator.detect(image)
    n = len(found.scores)
    assert 1 <= n <= LOW.max_people
    assert found.keypoints.shape == (n, 17, 3)
    assert found.keypoints.dtype == np.float32
    assert found.boxes.shape == (n, 4)
    assert found.boxes.dtype == np.float32
    assert found.scores.dtype == np.float32
    assert np.all(np.diff(found.scores) <= 0)  # most confident first
    xy, conf = found.keypoints[..., :2], found.keypoints[..., 2]
    assert np.all((xy[..., 0] >= 0) & (xy[..., 0] <= 500) & (xy[..., 1] >= 0) & (xy[..., 1] <= 300))
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.array_equal(estimator(image), found.keypoints)  # the PoseEstimator protocol's view


def test_keypoints_are_mapped_back_through_the_letterbox(grid_pose_model: Path, yolo_environment: Path) -> None:
    estimator = YoloPoseEstimator(grid_pose_model, "cpu", PoseModelParams(conf=0.0, max_people=20))
    for height, width in ((300, 640), (450, 960), (700, 340)):  # padded rows; scaled and padded; padded columns
        found = estimator.detect(_rgb(height, width, seed=height))
        assert len(found.scores) > 0
        r, pad_x, pad_y = _letterbox(height, width)
        points = found.keypoints.reshape(-1, 3)
        assert np.allclose(points[:, 2], 0.5)
        # Each person's 17 keypoints sit on their one anchor corner.
        assert np.allclose(found.keypoints[:, :, :2], found.keypoints[:, :1, :2], atol=1e-3)
        x, y = points[:, 0], points[:, 1]
        inside = (x > 0) & (x < width) & (y > 0) & (y < height)  # on the border: clipped, not mapped
        assert inside.any()
        for value, pad in ((x[inside], pad_x), (y[inside], pad_y)):
            grid = value * r + pad  # back into the letterboxed input
            assert np.allclose(grid / 8, np.round(grid / 8), atol=2e-3), (height, width, grid)


def test_a_photo_twice_the_size_gives_keypoints_twice_as_far(tiny_yolo_pose, yolo_environment: Path) -> None:
    # 640 px wide needs no resize; its nearest-neighbour double is resized back to exactly the same input.
    estimator = YoloPoseEstimator(tiny_yolo_pose.path, "cpu", LOW)
    small = _rgb(300, 640, seed=3)
    large = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    a, b = estimator.detect(small), estimator.detect(large)
    assert len(a.scores) == len(b.scores) > 0
    assert np.allclose(b.keypoints[..., :2], 2 * a.keypoints[..., :2], atol=1e-3)
    assert np.allclose(b.keypoints[..., 2], a.keypoints[..., 2])
    assert np.allclose(b.boxes, 2 * a.boxes, atol=1e-3)


def test_the_person_threshold_can_leave_nobody(tiny_yolo_pose, yolo_environment: Path) -> None:
    estimator = YoloPoseEstimator(tiny_yolo_pose.path, "cpu", PoseModelParams(conf=0.99))
    found = estimator.detect(_rgb(200, 200))
    assert found.keypoints.shape == (0, 17, 3)
    assert found.keypoints.dtype == np.float32
    assert found.boxes.shape == (0, 4)
    assert found.scores.shape == (0,)
    # and the pose map of nobody is a black canvas, not an error
    maps = compute_maps(MapSources(_rgb(200, 200)), ["pose"], pose_estimator=estimator)
    assert maps.maps["pose"].shape == (200, 200, 3)
    assert not maps.maps["pose"].any()


def test_the_model_is_loaded_once_and_each_image_is_detected_once_per_job(
    tiny_yolo_pose, yolo_environment: Path, tmp_path: Path
) -> None:
    path = tmp_path / "own-copy.pt"  # a path no other test loads, so the load count is this test's alone
    path.write_bytes(tiny_yolo_pose.path.read_bytes())
    estimator = YoloPoseEstimator(path, "cpu", LOW)
    calls: list[int] = []

    class Counting:
        name = estimator.name

        def __call__(self, image: np.ndarray) -> np.ndarray:
            calls.append(1)
            return estimator(image)

    cache, image = MapCache(), _rgb(128, 96)
    first = compute_maps(MapSources(image), ["pose"], cache=cache, pose_estimator=Counting())
    again = compute_maps(MapSources(image.copy()), ["pose"], cache=cache, pose_estimator=Counting())
    assert len(calls) == 1
    assert np.array_equal(first.maps["pose"], again.maps["pose"])
    assert first.maps["pose"].shape == (128, 96, 3)
    detect_people(_rgb(64, 64), str(path), "cpu", LOW)
    assert load_count(("yolo-pose", str(path), "cpu")) == 1
    # other detection settings are another cache entry
    assert YoloPoseEstimator(path, "cpu", replace(LOW, conf=0.5)).name != estimator.name


def test_the_worker_gives_what_the_webui_process_gives(
    tiny_yolo_pose, yolo_environment: Path, worker: WorkerRuntime
) -> None:
    image = _rgb(240, 320, seed=7)
    here = YoloPoseEstimator(tiny_yolo_pose.path, "cpu", LOW, InProcessRuntime()).detect(image)
    there = YoloPoseEstimator(tiny_yolo_pose.path, "cpu", LOW, worker).detect(image)
    assert worker.pid is not None
    assert worker.pid != os.getpid()
    assert np.allclose(here.keypoints, there.keypoints, atol=1e-4)
    assert np.allclose(here.scores, there.scores, atol=1e-6)


def test_a_file_of_ones_own_needs_explicit_trust(tiny_yolo_pose) -> None:
    with pytest.raises(UnverifiedFile, match="GARMENT_TRUST_UNVERIFIED"):
        pose_estimator(str(tiny_yolo_pose.path), Path("unused"), trust_unverified=False)
    with pytest.raises(BadInput, match="no such file"):
        pose_estimator("/nowhere/pose.pt", Path("unused"), trust_unverified=True)
    with pytest.raises(BadInput, match="unknown pose model 'yolov9-pose'"):
        pose_estimator("yolov9-pose", Path("unused"))


def test_a_detector_is_not_taken_for_a_pose_model(tiny_yolo_detect, yolo_environment: Path) -> None:
    estimator = pose_estimator(str(tiny_yolo_detect.path), Path("unused"), device="cpu", trust_unverified=True)
    with pytest.raises(BadInput, match="detect model, not a pose model"):
        estimator.detect(_rgb(64, 64))


def test_registry_names_are_hash_checked(tiny_yolo_pose, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    folder = models / MODELS_SUBDIR / "yolo"
    # Missing while offline: exit 3, naming the file and the folder to put it in.
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as missing:
        pose_estimator("yolov8n-pose", models)
    assert "yolov8n-pose.pt" in str(missing.value)
    assert str(folder) in str(missing.value)
    # The tiny file under the released file's name is not the released file: refused, even when trusted.
    folder.mkdir(parents=True)
    (folder / "yolov8n-pose.pt").write_bytes(tiny_yolo_pose.path.read_bytes())
    with pytest.raises(ModelUnavailable, match="Not used: .*yolov8n-pose.pt is 6,795,385 bytes|a different") as wrong:
        pose_estimator("yolov8n-pose", models, trust_unverified=True)
    assert "a different" in str(wrong.value)
    # A registry that knows the tiny file's hash (standing in for the real one) lets the same lookup through.
    spec = registry.get_spec("yolov8n-pose")
    data = tiny_yolo_pose.path.read_bytes()
    tiny_file = replace(spec.files[0], sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    test_registry = tuple(replace(s, files=(tiny_file,)) if s is spec else s for s in registry.MODELS)
    monkeypatch.setattr(registry, "MODELS", test_registry)
    estimator = pose_estimator("yolov8n-pose", models, trust_unverified=False)
    assert estimator.model_path == folder / "yolov8n-pose.pt"
    assert estimator.config_dir == models / MODELS_SUBDIR / "ultralytics"


def test_ultralytics_is_made_offline_safe_before_its_import(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("YOLO_CONFIG_DIR", "YOLO_OFFLINE")}
    code = (
        "import os, sys\nfrom pathlib import Path\n"
        "from lib_garment.models.yolo import prepare_ultralytics\n"
        f"print('=', prepare_ultralytics(Path({str(tmp_path / 'cfg')!r})))\n"
        "from ultralytics.utils import ONLINE, USER_CONFIG_DIR\n"
        "print('=', os.environ['YOLO_OFFLINE'], ONLINE, USER_CONFIG_DIR)\n"
        "print('=', prepare_ultralytics(None))\n"  # too late now: says so by returning None
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = [line[2:] for line in result.stdout.split("\n") if line.startswith("= ")]  # ultralytics prints too
    settings = tmp_path / "cfg" / "Ultralytics"
    assert lines[0] == str(tmp_path / "cfg")
    assert lines[1] == f"true False {settings}"
    assert lines[2] == "None"
    assert (settings / "Arial.ttf").is_file()
    assert (settings / "Arial.Unicode.ttf").is_file()
    assert "not writable" not in result.stderr


def test_a_yolo_config_dir_already_set_is_kept(tmp_path: Path) -> None:
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "set"), "YOLO_OFFLINE": "false"}
    code = (
        "import os, sys\nfrom pathlib import Path\n"
        "from lib_garment.models.yolo import prepare_ultralytics\n"
        f"print(prepare_ultralytics(Path({str(tmp_path / 'offered')!r})), os.environ['YOLO_OFFLINE'])\n"
        "print('ultralytics' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"{tmp_path / 'set'} false", "False"]  # the user's choices stand
    assert (tmp_path / "set" / "Ultralytics" / "Arial.ttf").is_file()
    assert not (tmp_path / "offered").exists()


def test_yolov8s_pose_has_no_known_hash_so_it_needs_trust(tmp_path: Path) -> None:
    with pytest.raises(UnverifiedFile, match="yolov8s-pose"):
        pose_estimator("yolov8s-pose", tmp_path / "models", trust_unverified=False)


def test_fp16_is_asked_for_the_way_the_installed_ultralytics_understands(yolo_environment: Path) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    assert precision_arguments(False) == {}  # FP32 is both versions' default: no argument, no deprecation warning
    assert precision_arguments(True) == ({"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True})


def test_a_photo_past_the_copy_bound_is_detected_on_a_bounded_copy_and_mapped_back(
    tiny_yolo_pose, yolo_environment: Path
) -> None:
    """The model gets an area-averaged copy at most MODEL_COPY_MAX_SIDE long (never the photo through the worker's
    pipe); keypoints and boxes come back in the photo's pixels."""
    from lib_garment.maps.scale import MODEL_COPY_MAX_SIDE

    small = _rgb(720, MODEL_COPY_MAX_SIDE, seed=4)
    large = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)  # its copy at the bound is ``small`` exactly
    seen: list[tuple[int, ...]] = []

    class Recording(InProcessRuntime):
        def call(self, target: str, image: np.ndarray, *args: object, **kwargs: object) -> object:
            seen.append(image.shape[:2])
            return super().call(target, image, *args, **kwargs)

    estimator = YoloPoseEstimator(tiny_yolo_pose.path, "cpu", LOW, runtime=Recording())
    a, b = estimator.detect(small), estimator.detect(large)
    assert seen == [(720, MODEL_COPY_MAX_SIDE)] * 2
    assert len(a.scores) == len(b.scores) > 0
    assert np.allclose(b.keypoints[..., :2], 2 * a.keypoints[..., :2], atol=1e-3)
    assert np.array_equal(b.keypoints[..., 2], a.keypoints[..., 2])
    assert np.allclose(b.boxes, 2 * a.boxes, atol=1e-3)
