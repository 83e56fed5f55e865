"""Session-scoped fixtures: each tiny model is built once per test session under one session tmp folder.

Every fixture returns a frozen record (see the family modules) with the paths and the key config numbers.
The transformers-format fixtures build in-process when the running transformers has the classes and
otherwise in the model-worker subprocess; their record's ``built_with`` says which. Where neither is
possible (a transformers without the class and no ``$GARMENT_WORKER_PACKAGES``) they skip with the reason —
except where the environment is meant to have the worker (``GARMENT_REQUIRE_WORKER=1``, which
tools/run_tests.sh and so CI set): there they fail, so a run cannot go green with the worker folder gone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from tests.factories.depth import DEPTH_ANYTHING_HF_CLASSES, TinyDepthAnything
from tests.factories.depth_fm import DEPTH_FM_CLASSES, TinyDepthFm
from tests.factories.grounding_dino import (
    GROUNDINGDINO_HF_CLASSES,
    GROUNDINGDINO_HF_SIZE,
    TinyGroundingDinoHF,
    TinyGroundingDinoPy,
    make_groundingdino_py,
)
from tests.factories.hf_subprocess import CallResult, HFRunner, WorkerUnavailableError
from tests.factories.matting import VITMATTE_HF_CLASSES, TinyVitMatte
from tests.factories.sam import (
    SAM_HF_CLASSES,
    TinyMobileSam,
    TinySamCheckpoint,
    TinySamHF,
    make_mobile_sam,
    make_sam_vit,
)
from tests.factories.sam_hq import TinySamHQ, make_sam_hq
from tests.factories.yolo import FACE_NAMES, HAND_NAMES, TinyYolo, ensure_yolo_environment, make_yolo

R = TypeVar("R")
REQUIRE_WORKER_ENV = "GARMENT_REQUIRE_WORKER"


def worker_missing(reason: str) -> NoReturn:
    """Skip a test that needs the model worker — or fail it where the environment promises one."""
    if os.environ.get(REQUIRE_WORKER_ENV) == "1":
        pytest.fail(f"the model worker is required here (${REQUIRE_WORKER_ENV}=1) but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session folder all tiny models are written under."""
    return tmp_path_factory.mktemp("tiny_models")


@pytest.fixture(scope="session")
def hf_runner(tiny_model_root: Path) -> Iterator[HFRunner]:
    """Runs ``module:function`` targets in-process or in the shared model-worker subprocess."""
    runner = HFRunner(log_path=tiny_model_root / "hf-worker.log")
    yield runner
    runner.close()


def _build_hf(runner: HFRunner, target: str, required: tuple[str, ...], out_dir: Path) -> tuple[CallResult, float]:
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = runner.call(target, required, out_dir=str(out_dir))
    except WorkerUnavailableError as exc:
        worker_missing(str(exc))
    return result, round(time.perf_counter() - start, 2)


def _hf_record(cls: Callable[..., R], out_dir: Path, result: CallResult, seconds: float, **fields: Any) -> R:
    """The record for a built directory: the builder's numbers, updated by ``fields``, plus where it ran."""
    return cls(
        path=out_dir,
        built_with=result.built_with,
        transformers_version=result.transformers_version,
        build_seconds=seconds,
        **{**result.value, **fields},
    )


# -- GroundingDINO -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def inception(tiny_model_root: Path) -> tuple[Path, str, int]:
    """Random FID Inception weights in the real file's format (tests/factories/inception.py), with the SHA-256
    and size a test registry entry needs: built once, shared by the evaluation tests (seconds to build)."""
    import hashlib

    from tests.factories.inception import make_random_inception

    made = make_random_inception(tiny_model_root / "inception")
    data = made.path.read_bytes()
    return made.path, hashlib.sha256(data).hexdigest(), len(data)


@pytest.fixture(scope="session")
def tiny_groundingdino_py(tiny_model_root: Path) -> TinyGroundingDinoPy:
    """groundingdino-py: config .py + groundingdino_swint_ogc.pth-style checkpoint + local BERT dir."""
    return make_groundingdino_py(tiny_model_root / "groundingdino_py")


@pytest.fixture(scope="session")
def tiny_groundingdino_hf(tiny_model_root: Path, hf_runner: HFRunner) -> TinyGroundingDinoHF:
    """transformers GroundingDINO directory like IDEA-Research/grounding-dino-tiny."""
    out_dir = tiny_model_root / "grounding-dino-tiny"
    result, seconds = _build_hf(
        hf_runner, "tests.factories.grounding_dino:build_groundingdino_hf", GROUNDINGDINO_HF_CLASSES, out_dir
    )
    return _hf_record(
        TinyGroundingDinoHF,
        out_dir,
        result,
        seconds,
        shortest_edge=GROUNDINGDINO_HF_SIZE["shortest_edge"],
        longest_edge=GROUNDINGDINO_HF_SIZE["longest_edge"],
    )


# -- SAM -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_sam_vit(tiny_model_root: Path) -> TinySamCheckpoint:
    """segment-anything state dict .pth (sam_vit_b_01ec64.pth format, tiny encoder)."""
    return make_sam_vit(tiny_model_root / "sam")


@pytest.fixture(scope="session")
def tiny_mobile_sam(tiny_model_root: Path) -> TinyMobileSam:
    """MobileSAM vit_t state dict (mobile_sam.pt format, real architecture, random weights)."""
    return make_mobile_sam(tiny_model_root / "mobile_sam")


@pytest.fixture(scope="session")
def tiny_sam_hf(tiny_model_root: Path, hf_runner: HFRunner) -> TinySamHF:
    """transformers SAM directory like facebook/sam-vit-base."""
    out_dir = tiny_model_root / "sam-vit-tiny-hf"
    result, seconds = _build_hf(hf_runner, "tests.factories.sam:build_sam_hf", SAM_HF_CLASSES, out_dir)
    indexes = tuple(result.value["vision_global_attn_indexes"])  # JSON gave a list
    return _hf_record(TinySamHF, out_dir, result, seconds, vision_global_attn_indexes=indexes)


# -- ViTMatte and Depth Anything ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_vitmatte(tiny_model_root: Path, hf_runner: HFRunner) -> TinyVitMatte:
    """transformers ViTMatte directory like hustvl/vitmatte-small-composition-1k."""
    out_dir = tiny_model_root / "vitmatte-tiny"
    result, seconds = _build_hf(hf_runner, "tests.factories.matting:build_vitmatte", VITMATTE_HF_CLASSES, out_dir)
    return _hf_record(TinyVitMatte, out_dir, result, seconds)


@pytest.fixture(scope="session")
def tiny_depth_anything(tiny_model_root: Path, hf_runner: HFRunner) -> TinyDepthAnything:
    """transformers Depth Anything directory like depth-anything/Depth-Anything-V2-Small-hf."""
    out_dir = tiny_model_root / "depth-anything-tiny"
    result, seconds = _build_hf(
        hf_runner, "tests.factories.depth:build_depth_anything", DEPTH_ANYTHING_HF_CLASSES, out_dir
    )
    return _hf_record(TinyDepthAnything, out_dir, result, seconds)


@pytest.fixture(scope="session")
def tiny_depth_fm(tiny_model_root: Path, hf_runner: HFRunner) -> TinyDepthFm:
    """depthfm-v1.ckpt (LDM layout) and SD 1.5's VAE folder beside it, built where diffusers is (Forge's set:
    here; AUTOMATIC1111's: the model worker's folder)."""
    out_dir = tiny_model_root / "depth-fm"
    result, seconds = _build_hf(hf_runner, "tests.factories.depth_fm:build_depth_fm", DEPTH_FM_CLASSES, out_dir)
    value = dict(result.value)
    return TinyDepthFm(
        path=out_dir,
        checkpoint=Path(value.pop("checkpoint")),
        vae_dir=Path(value.pop("vae_dir")),
        built_with=result.built_with,
        transformers_version=result.transformers_version,
        build_seconds=seconds,
        **value,
    )


# -- YOLO ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def yolo_environment(tiny_model_root: Path) -> Path:
    """YOLO_OFFLINE and a prepared YOLO_CONFIG_DIR, set before ultralytics is imported."""
    return ensure_yolo_environment(tiny_model_root / "yolo-config")


@pytest.fixture(scope="session")
def tiny_yolo_detect(tiny_model_root: Path, yolo_environment: Path) -> TinyYolo:
    """yolov8n.pt-style detector: 80 COCO names."""
    return make_yolo(tiny_model_root / "yolo", task="detect", filename="yolov8n.pt")


@pytest.fixture(scope="session")
def tiny_yolo_pose(tiny_model_root: Path, yolo_environment: Path) -> TinyYolo:
    """yolov8n-pose.pt-style pose model: one class "person", kpt_shape (17, 3)."""
    return make_yolo(tiny_model_root / "yolo", task="pose", filename="yolov8n-pose.pt")


@pytest.fixture(scope="session")
def tiny_yolo_face(tiny_model_root: Path, yolo_environment: Path) -> TinyYolo:
    """ADetailer face_yolov8n.pt-style detector: names {0: "face"}."""
    return make_yolo(tiny_model_root / "yolo", task="detect", names=FACE_NAMES, filename="face_yolov8n.pt")


@pytest.fixture(scope="session")
def tiny_yolo_hand(tiny_model_root: Path, yolo_environment: Path) -> TinyYolo:
    """ADetailer hand_yolov8n.pt-style detector: names {0: "hand"}."""
    return make_yolo(tiny_model_root / "yolo", task="detect", names=HAND_NAMES, filename="hand_yolov8n.pt")


# -- SAM-HQ --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_sam_hq(tiny_model_root: Path) -> TinySamHQ:
    """SAM-HQ state dict .pth (sam_hq_vit_h.pth format, tiny encoder); skips without segment-anything-hq."""
    pytest.importorskip("segment_anything_hq")
    return make_sam_hq(tiny_model_root / "sam_hq")
