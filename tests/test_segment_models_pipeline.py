"""The assembled backends end to end with tiny random models: files found and verified through the registry
(offline), each family in its runtime (AUTOMATIC1111's set: ViTMatte and transformers' GroundingDINO in the
model worker; Forge's: everything in-process; and everything forced into the worker by the runtime policy),
one SAM embedding per image, models resident across images, and the errors when files are missing."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from packaging.version import Version

from lib_garment.errors import ModelUnavailable
from lib_garment.request import SegmentOptions
from lib_garment.runtime import IN_PROCESS, POLICY_ENV, WORKER, get_runtime
from lib_garment.runtime.cache import load_count
from lib_garment.segment.backends.assemble import (
    Backends,
    ModelChoice,
    build_backends,
    clear_backends,
    run_segmentation,
)
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from tests.test_segment_models_support import PHRASES, garment_photo, tiny_registry

HOST_TRANSFORMERS = Version(metadata.version("transformers"))
OPTIONS = SegmentOptions(phrases=PHRASES, box_threshold=0.0, text_threshold=0.0, select="all")


@pytest.fixture(scope="module")
def registry(
    tiny_model_root, tiny_groundingdino_py, tiny_groundingdino_hf, tiny_sam_vit, tiny_mobile_sam, tiny_vitmatte
):
    root = tiny_model_root / "registry-pipeline"
    specs = tiny_registry(
        root,
        groundingdino_py=tiny_groundingdino_py,
        groundingdino_hf=tiny_groundingdino_hf,
        sam_vit=tiny_sam_vit,
        mobile_sam=tiny_mobile_sam,
        vitmatte=tiny_vitmatte,
    )
    return root, specs, tiny_groundingdino_py.config_path


def _choice(registry, **fields) -> ModelChoice:
    _, specs, config = registry
    return ModelChoice(specs=specs, groundingdino_config=config, **fields)


def _check_outputs(run, image: np.ndarray) -> None:
    seg = run.segmentation
    height, width = image.shape[:2]
    assert seg.mask.shape == seg.trimap.shape == seg.alpha.shape == (height, width)
    assert set(np.unique(seg.mask)) <= {0, 255}
    assert set(np.unique(seg.trimap)) <= {BACKGROUND, UNKNOWN, FOREGROUND}
    assert seg.alpha.dtype == np.float32
    assert seg.alpha.min() >= 0.0
    assert seg.alpha.max() <= 1.0
    assert (seg.alpha[seg.trimap == FOREGROUND] == 1.0).all()
    assert (seg.alpha[seg.trimap == BACKGROUND] == 0.0).all()
    assert seg.detections
    assert {d.phrase for d in seg.detections} <= set(seg.phrases)
    for d in seg.detections:  # back in the photo's pixels, inside its frame
        assert 0 <= d.box.x0 <= d.box.x1 <= width
        assert 0 <= d.box.y0 <= d.box.y1 <= height
    assert run.sam_encodings == 1  # three phrases, all their boxes: one image embedding


def test_by_text_in_the_default_runtimes_models_stay_resident(registry) -> None:
    root, _, _ = registry
    clear_backends()
    backends = build_backends(OPTIONS, root, device="cpu", offline=True, choice=_choice(registry))
    assert build_backends(OPTIONS, root, device="cpu", offline=True, choice=_choice(registry)) is backends
    vitmatte_where = IN_PROCESS if Version("4.34") <= HOST_TRANSFORMERS else WORKER
    assert backends.runtimes() == {"detector": IN_PROCESS, "sam": IN_PROCESS, "matte": vitmatte_where}
    assert backends.notes == ()

    image = garment_photo()
    run = run_segmentation(image, OPTIONS, backends)
    _check_outputs(run, image)
    assert run.segmentation.matte.method == "vitmatte"
    assert set(run.runtimes) == {"detector", "sam", "matte"}
    assert run.models["sam"]["registry"] == "sam_vit_b"
    assert run.models["sam"]["embed_dim"] == 32
    assert run.backends["detector"]["load_s"] > 0

    second = run_segmentation(garment_photo(seed=2), OPTIONS, backends)
    assert second.sam_encodings == 1
    assert all(share["load_s"] < share["wall_s"] for share in second.backends.values())
    sam_path = str(backends.segmenter.weights.path)
    assert load_count(("sam", sam_path, "cpu")) == 1  # two images, one load
    detector_files = backends.detector.files
    assert load_count(
        ("groundingdino-py", str(detector_files.config), str(detector_files.checkpoint.path),
         str(detector_files.bert_dir), "cpu")
    ) == 1  # fmt: skip
    assert backends.segmenter.stats.encodings == 2
    json = run.to_json()
    assert json["sam_image_encodings"] == 1
    assert json["runtimes"]["matte"] == vitmatte_where


def test_everything_in_the_worker_when_the_policy_says_so(registry, monkeypatch) -> None:
    root, _, _ = registry
    monkeypatch.setenv(POLICY_ENV, "worker")  # what a user sets to isolate every model in the worker
    backends = build_backends(OPTIONS, root, device="cpu", offline=True, choice=_choice(registry))
    assert backends.runtimes() == {"detector": WORKER, "sam": WORKER, "matte": WORKER}
    image = garment_photo(seed=3)
    run = run_segmentation(image, OPTIONS, backends)
    _check_outputs(run, image)
    assert run.segmentation.matte.method == "vitmatte"
    assert backends.segmenter.model_info["family"] == "sam"
    worker = get_runtime(None, policy="worker")
    resident = worker.call("lib_garment.runtime.cache:cache_info")
    ours = [entry for entry in resident if entry.key[0] in {"groundingdino-py", "sam", "vitmatte"}]
    assert {entry.key[0] for entry in ours} == {"groundingdino-py", "sam", "vitmatte"}
    assert all(entry.loads == 1 for entry in ours)
    # The worker's answer time is what the runtime adds: reported, never asserted on.
    assert run.backends["matte"]["runtime_overhead_s"] >= 0


def test_transformers_detector_with_mobile_sam(registry) -> None:
    pytest.importorskip("mobile_sam")
    root, _, _ = registry
    backends = build_backends(
        OPTIONS.copy(update={"matte": "classic"}), root, device="cpu", offline=True,
        choice=_choice(registry, detector="transformers", sam="mobile"),
    )  # fmt: skip
    detector_where = IN_PROCESS if Version("4.40") <= HOST_TRANSFORMERS else WORKER
    assert backends.runtimes() == {"detector": detector_where, "sam": IN_PROCESS}
    assert backends.matte is None
    assert backends.notes == ()
    image = garment_photo()
    run = run_segmentation(image, OPTIONS.copy(update={"matte": "classic"}), backends)
    _check_outputs(run, image)
    assert run.segmentation.matte.method == "classic"
    assert run.segmentation.matte.note == ""
    assert run.models["sam"]["model"] == "MobileSAM"
    assert run.models["detector"]["registry"] == "grounding-dino-tiny"


def test_a_coarse_mask_needs_neither_detector_nor_sam(tmp_path: Path) -> None:
    options = SegmentOptions(matte="vitmatte")
    empty = tmp_path / "models"
    backends = build_backends(options, empty, device="cpu", offline=True, from_mask=True, choice=ModelChoice())
    assert backends.detector is None
    assert backends.segmenter is None
    assert backends.matte is None
    assert "vitmatte-small-composition-1k" in backends.notes[0]
    assert "classic" in backends.notes[0]
    image = garment_photo()
    coarse = np.zeros(image.shape[:2], np.uint8)
    coarse[40:120, 50:130] = 1
    run = run_segmentation(image, options, backends, coarse)
    assert run.segmentation.source == "mask"
    assert run.segmentation.matte.method == "classic"
    assert "ViTMatte" in run.segmentation.matte.note
    assert run.runtimes == {}
    assert run.sam_encodings == 0
    assert isinstance(backends, Backends)
    assert backends.notes == run.notes


@pytest.mark.parametrize(
    ("present", "missing_file", "folder"),
    [
        ((), "groundingdino_swint_ogc.pth", "garment_studio/grounding-dino"),
        (("groundingdino_swint_ogc",), "vocab.txt", "garment_studio/bert/bert-base-uncased"),
        (("groundingdino_swint_ogc", "bert-base-uncased"), "sam_vit_b_01ec64.pth", "garment_studio/sam"),
    ],
)
def test_offline_without_the_files_names_the_missing_file_and_its_folder(
    registry,
    tmp_path: Path,
    present: tuple[str, ...],
    missing_file: str,
    folder: str,
) -> None:
    source_root, specs, config = registry
    root = tmp_path / "models"
    chosen = tuple(spec for spec in specs if spec.name in present)
    for spec in chosen:  # only these are on disk
        tiny_registry_copy(source_root, root, spec)
    choice = ModelChoice(specs=specs, groundingdino_config=config)
    with pytest.raises(ModelUnavailable) as caught:
        build_backends(OPTIONS.copy(update={"matte": "none"}), root, device="cpu", offline=True, choice=choice)
    message = str(caught.value)
    assert missing_file in message
    assert str(root / folder) in message
    assert "downloads are off" in message


def tiny_registry_copy(source_root: Path, root: Path, spec) -> None:
    """Link one model's files from the shared tiny registry into another models folder."""
    from lib_garment.models.registry import install_path

    source, target = install_path(spec, source_root), install_path(spec, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve() if not spec.is_dir else source, target_is_directory=spec.is_dir)
