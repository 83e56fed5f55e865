"""Detector backends through their production loaders: tiny random ADetailer-style YOLOv8 files, OpenCV's Haar
cascade and mediapipe's bundled face detector on a real photo (skimage's astronaut), mediapipe's hand tracker on
a real photo with a clear hand (ultralytics' own zidane.jpg), and finding models by name.

Random YOLO weights give meaningless boxes, so the YOLO tests check what does not depend on the weights: the
file is loaded by the loader users hit, detections come back as faces or hands in the image's pixels, most
confident first, and a photo twice the size gives boxes twice as large.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.models import registry
from lib_garment.models.store import UnverifiedFile
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.restore.detect import PartDetection
from lib_garment.restore.detectors.choose import make_detector
from lib_garment.restore.detectors.common import kind_from_name
from lib_garment.restore.detectors.haar import HaarFaceDetector
from lib_garment.restore.detectors.mediapipe import MediapipeFaceDetector, MediapipeHandDetector, landmarks_box
from lib_garment.restore.detectors.yolo import YoloDetector, YoloParams, detect_yolo
from lib_garment.runtime import InProcessRuntime
from lib_garment.runtime.cache import load_count

LOW = YoloParams(conf=0.0, max_det=8)  # random weights: only conf 0 keeps anything
ADETAILER_COMMIT = "53cc19de382014514d9d4038601d261a7faa9b7b"


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# -- YOLOv8 -----------------------------------------------------------------------------------------------------


def test_a_face_model_finds_faces_in_the_images_pixels(tiny_yolo_face, yolo_environment: Path) -> None:
    detector = YoloDetector(
        tiny_yolo_face.path, device="cpu", params=LOW, runtime=InProcessRuntime(check_pickling=True)
    )
    assert detector.kind == "face"  # read from face_yolov8n.pt
    image = _rgb(300, 500)
    found = detector(image)
    assert 1 <= len(found) <= LOW.max_det
    assert all(isinstance(d, PartDetection) and d.kind == "face" and d.label == "face" for d in found)
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= 500
        assert 0 <= y0 < y1 <= 300
        assert 0.0 <= d.score <= 1.0
        assert d.mask is None
    scores = [d.score for d in found]
    assert scores == sorted(scores, reverse=True)


def test_a_hand_model_finds_hands(tiny_yolo_hand, yolo_environment: Path) -> None:
    found = YoloDetector(tiny_yolo_hand.path, device="cpu", params=LOW)(_rgb(200, 200))
    assert found
    assert {d.kind for d in found} == {"hand"}


def test_a_photo_twice_the_size_gives_boxes_twice_as_large(tiny_yolo_face, yolo_environment: Path) -> None:
    # 640 px wide needs no resize; its nearest-neighbour double is resized back to exactly the same input.
    detector = YoloDetector(tiny_yolo_face.path, device="cpu", params=LOW)
    small = _rgb(300, 640, seed=3)
    large = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    a, b = detector(small), detector(large)
    assert len(a) == len(b) > 0
    assert np.allclose([d.box for d in b], 2 * np.array([d.box for d in a]), atol=1e-2)
    assert np.allclose([d.score for d in b], [d.score for d in a], atol=1e-6)


def test_the_kind_comes_from_the_class_name_else_from_the_detector(tiny_yolo_detect, yolo_environment: Path) -> None:
    # COCO classes name neither faces nor hands, and yolov8n.pt says nothing: nothing is a face or a hand ...
    coco = YoloDetector(tiny_yolo_detect.path, device="cpu", params=LOW)
    assert coco.kind is None
    assert coco(_rgb(200, 200)) == []
    # ... unless the user says what this model finds
    as_hands = YoloDetector(tiny_yolo_detect.path, kind="hand", device="cpu", params=LOW)(_rgb(200, 200))
    assert as_hands
    assert {d.kind for d in as_hands} == {"hand"}
    assert all(d.label != "hand" for d in as_hands)  # the COCO names are kept as labels
    assert (kind_from_name("Hand"), kind_from_name("head"), kind_from_name("person")) == ("hand", "face", None)


def test_a_high_threshold_can_leave_nothing(tiny_yolo_face, yolo_environment: Path) -> None:
    found = detect_yolo(_rgb(100, 100), str(tiny_yolo_face.path), "cpu", YoloParams(conf=0.99))
    assert found.boxes.shape == (0, 4)
    assert found.scores.shape == (0,)
    assert found.labels == ()


def test_the_model_is_loaded_once(tiny_yolo_face, yolo_environment: Path, tmp_path: Path) -> None:
    path = tmp_path / "face_yolov8n.pt"  # a path no other test loads, so the load count is this test's alone
    path.write_bytes(tiny_yolo_face.path.read_bytes())
    detector = YoloDetector(path, device="cpu", params=LOW)
    detector(_rgb(64, 64))
    detector(_rgb(64, 64, seed=1))
    assert load_count(("yolo-detect", str(path), "cpu")) == 1
    assert YoloDetector(path, device="cpu", params=replace(LOW, conf=0.5)).name != detector.name


def test_a_pose_model_is_not_taken_for_a_detector(tiny_yolo_pose, yolo_environment: Path) -> None:
    with pytest.raises(BadInput, match="pose model, not a detector"):
        YoloDetector(tiny_yolo_pose.path, kind="face", device="cpu")(_rgb(64, 64))


def test_bad_yolo_settings_are_named() -> None:
    with pytest.raises(BadInput, match="multiple of 32"):
        YoloParams(imgsz=500)
    with pytest.raises(BadInput, match="detector confidence"):
        YoloParams(conf=1.5)
    with pytest.raises(BadInput, match="detector kind must be one of face, hand"):
        YoloDetector(Path("face.pt"), kind="foot")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="device must be cpu, cuda or cuda:N"):
        YoloDetector(Path("face.pt"), device="tpu")


# -- by name: the registry, ADetailer's folder, the user's own files ------------------------------------------------


def test_adetailer_models_are_registered_pinned_and_hashed() -> None:
    for name, size in (("face_yolov8n", 6_230_011), ("face_yolov8s", 22_507_707), ("hand_yolov8n", 6_237_883)):
        spec = registry.get_spec(name)
        assert spec.family == "restore"
        assert spec.reuse_folders == ("adetailer",)
        (model_file,) = spec.files
        assert model_file.name == f"{name}.pt"
        assert model_file.size == size
        assert model_file.sha256 is not None
        assert len(model_file.sha256) == 64
        assert model_file.urls[0] == f"https://huggingface.co/Bingsu/adetailer/resolve/{ADETAILER_COMMIT}/{name}.pt"


def test_a_missing_registry_model_names_the_folders_while_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as missing:
        make_detector("face_yolov8n.pt", tmp_path)  # ADetailer's spelling works too
    message = str(missing.value)
    assert "face_yolov8n.pt" in message
    assert str(tmp_path / MODELS_SUBDIR / "yolo") in message
    assert str(tmp_path / "adetailer") in message


def test_adetailers_own_copy_is_reused_once_its_hash_matches(
    tiny_yolo_face, yolo_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    adetailer = tmp_path / "adetailer"
    adetailer.mkdir()
    copy = adetailer / "face_yolov8n.pt"
    copy.write_bytes(tiny_yolo_face.path.read_bytes())
    # The tiny file is not the released one: refused even when trusted (its hash is known and differs).
    with pytest.raises(ModelUnavailable, match="Not used"):
        make_detector("face_yolov8n", tmp_path, trust_unverified=True)
    # A registry that knows the tiny file's hash (standing in for the real one) lets the same lookup through.
    spec = registry.get_spec("face_yolov8n")
    data = copy.read_bytes()
    tiny_file = replace(spec.files[0], sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    monkeypatch.setattr(
        registry, "MODELS", tuple(replace(s, files=(tiny_file,)) if s is spec else s for s in registry.MODELS)
    )
    detector = make_detector("face_yolov8n", tmp_path, device="cpu", params=LOW, trust_unverified=False)
    assert isinstance(detector, YoloDetector)
    assert detector.model_path == copy  # used where ADetailer keeps it, not copied or downloaded
    assert detector.kind == "face"
    assert detector.config_dir == tmp_path / MODELS_SUBDIR / "ultralytics"
    assert detector(_rgb(64, 64))


def test_a_file_of_ones_own_needs_explicit_trust(tiny_yolo_hand, tmp_path: Path) -> None:
    with pytest.raises(UnverifiedFile, match="GARMENT_TRUST_UNVERIFIED"):
        make_detector(str(tiny_yolo_hand.path), tmp_path, trust_unverified=False)
    detector = make_detector(str(tiny_yolo_hand.path), tmp_path, trust_unverified=True)
    assert isinstance(detector, YoloDetector)
    assert detector.kind == "hand"
    with pytest.raises(BadInput, match="no such file"):
        make_detector("/nowhere/hand.pt", tmp_path, trust_unverified=True)
    with pytest.raises(BadInput, match="unknown detector 'face_yolov9'"):
        make_detector("face_yolov9", tmp_path)
    with pytest.raises(BadInput, match="detector must be a name or a path"):
        make_detector("  ", tmp_path)


# -- Haar and mediapipe on a real photo ----------------------------------------------------------------------------


def test_the_haar_cascade_finds_the_astronauts_face(astronaut: np.ndarray) -> None:
    detector = make_detector(" haar_face ")
    (face,) = detector(astronaut)
    assert face.kind == "face"
    assert 0.5 < face.score <= 1.0
    assert 0.01 < face.area / (512 * 512) < 0.1
    # mirrored photo, mirrored face
    (mirrored,) = detector(np.ascontiguousarray(astronaut[:, ::-1]))
    flipped = (512 - mirrored.box[2], mirrored.box[1], 512 - mirrored.box[0], mirrored.box[3])
    assert iou(face.box, flipped) > 0.8


def test_the_haar_cascade_finds_no_face_in_noise() -> None:
    assert HaarFaceDetector()(_rgb(256, 256)) == []
    with pytest.raises(BadInput, match="scale_factor must be above 1"):
        HaarFaceDetector(scale_factor=1.0)


def test_mediapipe_and_haar_agree_on_the_astronauts_face(astronaut: np.ndarray) -> None:
    pytest.importorskip("mediapipe")
    (haar,) = HaarFaceDetector()(astronaut)
    for model in ("mediapipe_face_short", "mediapipe_face_full"):
        detector = make_detector(model, min_confidence=0.5)
        assert isinstance(detector, MediapipeFaceDetector)
        (face,) = detector(astronaut)
        assert face.kind == "face"
        assert face.score >= 0.5
        assert iou(face.box, haar.box) > 0.5  # two independent detectors, one face
    assert MediapipeFaceDetector()(np.zeros((128, 128, 3), np.uint8)) == []


def zidane() -> np.ndarray:
    """ultralytics' sample photo ``zidane.jpg`` (1280 x 720, shipped inside the package, so offline): the man on
    the right points with his right hand, fingers spread out in front of his dark suit."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("ultralytics")  # located, not imported: its import is slow and not needed
    assert spec is not None
    assert spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "zidane.jpg"
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


POINTING_HAND = (960, 400, 1160, 495)  # drawn by hand around the pointing hand (wrist to fingertip), x0 y0 x1 y1


def test_mediapipe_finds_the_pointing_hand_in_a_real_photo() -> None:
    detector = make_detector("mediapipe_hands", min_confidence=0.3)
    assert isinstance(detector, MediapipeHandDetector)
    (hand,) = detector(zidane())
    assert (hand.kind, hand.label) == ("hand", "hand")
    assert 0.5 <= hand.score <= 1.0  # the handedness probability (see the class)
    x0, y0, x1, y1 = hand.box
    assert x0 <= 975  # the wrist (left) is inside the padded box,
    assert y0 <= 405  # so are the bent fingers' knuckles (top)
    assert x1 >= 1150  # and the index fingertip (right)
    assert y1 >= 485  # and the thumb (bottom)
    assert iou(hand.box, POINTING_HAND) > 0.5  # and it is the hand, not the whole arm or man


def test_mediapipe_finds_no_hand_where_there_is_none(astronaut: np.ndarray) -> None:
    detector = MediapipeHandDetector()
    assert detector(astronaut) == []  # the astronaut's hands are out of the picture
    assert detector(np.zeros((96, 96, 3), np.uint8)) == []


def test_the_hand_box_is_the_landmarks_extent_padded_and_clipped() -> None:
    points = np.array([[100.0, 50.0], [140.0, 60.0], [120.0, 90.0]])  # 40 wide, 40 tall
    assert landmarks_box(points, (200, 300), padding=0.25) == (90.0, 40.0, 150.0, 100.0)  # 10 px on every side
    assert landmarks_box(points, (200, 300), padding=0.0) == (100.0, 50.0, 140.0, 90.0)
    assert landmarks_box(points, (80, 130), padding=0.25) == (90.0, 40.0, 130.0, 80.0)  # clipped to the image
    assert landmarks_box(points + 1000, (200, 300)) is None  # nothing of it inside
    assert landmarks_box(np.zeros((0, 2)), (200, 300)) is None
    with pytest.raises(BadInput, match="hand box padding"):
        MediapipeHandDetector(padding=3.0)


def test_mediapipe_names_are_checked() -> None:
    with pytest.raises(BadInput, match="unknown mediapipe face model"):
        MediapipeFaceDetector("mediapipe_face_mesh")
    with pytest.raises(BadInput, match="mediapipe confidence"):
        MediapipeFaceDetector(min_confidence=2.0)
