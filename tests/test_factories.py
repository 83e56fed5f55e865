"""The tiny-model factories write what users download, and each library's own loader runs what they write.

Numbers are random; what is checked is the on-disk layout, that the libraries' loading APIs accept the
files (strictly, where the library allows it) and that one forward pass gives the documented shapes.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.factories.depth import DEPTH_ANYTHING_HF_CLASSES, DEPTH_ANYTHING_HF_FILES
from tests.factories.fixtures import worker_missing
from tests.factories.grounding_dino import (
    BERT_DIR_FILES,
    GROUNDINGDINO_HF_CLASSES,
    GROUNDINGDINO_HF_FILES,
    GROUNDINGDINO_PY_TINY,
)
from tests.factories.hf_subprocess import (
    IN_PROCESS,
    WORKER_PACKAGES_ENV,
    WORKER_SUBPROCESS,
    HFRunner,
    WorkerCallError,
    transformers_has,
)
from tests.factories.matting import VITMATTE_HF_CLASSES, VITMATTE_HF_FILES
from tests.factories.sam import SAM_HF_CLASSES, SAM_HF_FILES


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.is_file()}


def _torch_load(path: Path) -> Any:
    import torch

    # These are pickles written by the factories themselves; weights_only would reject ultralytics' modules.
    return torch.load(path, map_location="cpu", weights_only=False)


# -- how the transformers-format models were built -----------------------------------------------------------

HF_FIXTURES = {
    "tiny_groundingdino_hf": GROUNDINGDINO_HF_CLASSES,
    "tiny_sam_hf": SAM_HF_CLASSES,
    "tiny_vitmatte": VITMATTE_HF_CLASSES,
    "tiny_depth_anything": DEPTH_ANYTHING_HF_CLASSES,
}


@pytest.mark.slow
@pytest.mark.parametrize("fixture_name", sorted(HF_FIXTURES))
def test_hf_model_built_where_transformers_has_the_classes(fixture_name: str, request: pytest.FixtureRequest) -> None:
    import transformers

    record = request.getfixturevalue(fixture_name)
    if transformers_has(*HF_FIXTURES[fixture_name]):
        assert record.built_with == IN_PROCESS
        assert record.transformers_version == transformers.__version__
    else:
        assert record.built_with == WORKER_SUBPROCESS
        # The worker's own transformers, not the venv's, and one new enough for these classes.
        assert record.transformers_version != transformers.__version__
        major, minor = (int(x) for x in record.transformers_version.split(".")[:2])
        assert (major, minor) >= (4, 40)


@pytest.mark.slow
def test_worker_subprocess_uses_the_private_package_folder_and_reports_failures(hf_runner: HFRunner) -> None:
    folder = os.environ.get(WORKER_PACKAGES_ENV)
    if not folder:
        worker_missing(f"${WORKER_PACKAGES_ENV} is not set")
    # A class no transformers has forces the worker path in every environment.
    forced = ("NoSuchModelClassForTests",)
    result = hf_runner.call("tests.factories.hf_subprocess:transformers_has", forced)
    assert result.built_with == WORKER_SUBPROCESS
    assert Path(result.transformers_file).is_relative_to(Path(folder).resolve())
    with pytest.raises(WorkerCallError, match="ModuleNotFoundError"):
        hf_runner.call("tests.factories.no_such_module:build", forced)
    # The worker survives a failed call.
    assert hf_runner.call("tests.factories.hf_subprocess:transformers_has", forced).value is True


# -- GroundingDINO, groundingdino-py format ------------------------------------------------------------------


@pytest.mark.slow
def test_groundingdino_py_layout(tiny_groundingdino_py) -> None:
    from groundingdino.util.slconfig import SLConfig

    rec = tiny_groundingdino_py
    assert rec.config_path.suffix == ".py"
    assert rec.checkpoint_path.name == "groundingdino_swint_ogc.pth"
    assert set(BERT_DIR_FILES) <= _files(rec.bert_dir)
    vocab = (rec.bert_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 30522
    assert vocab[:1] == ["[PAD]"]

    checkpoint = _torch_load(rec.checkpoint_path)
    assert list(checkpoint) == ["model"]
    assert all(key.startswith("module.") for key in checkpoint["model"])
    assert any(key.startswith("module.bert.") for key in checkpoint["model"])

    args = SLConfig.fromfile(str(rec.config_path))
    assert args.text_encoder_type == str(rec.bert_dir)
    for key, value in GROUNDINGDINO_PY_TINY.items():
        assert args[key] == value, key
    assert args.backbone == "swin_T_224_1k"
    assert (rec.num_queries, rec.hidden_dim) == (args.num_queries, args.hidden_dim)


@pytest.mark.slow
def test_groundingdino_py_loads_strictly_and_predicts(tiny_groundingdino_py) -> None:
    import groundingdino.datasets.transforms as gdt
    import torch
    from groundingdino.util.inference import load_model, predict
    from groundingdino.util.misc import clean_state_dict
    from PIL import Image

    rec = tiny_groundingdino_py
    # The package's own one-call loader: SLConfig.fromfile -> build_model -> load_state_dict(strict=False).
    model = load_model(str(rec.config_path), str(rec.checkpoint_path), device="cpu")
    # strict=False hides mismatches, so load once more strictly: every key must fit.
    checkpoint = torch.load(rec.checkpoint_path, map_location="cpu")
    result = model.load_state_dict(clean_state_dict(checkpoint["model"]), strict=True)
    assert not result.missing_keys
    assert not result.unexpected_keys
    # build_model honoured the shrunk config.
    assert model.num_queries == rec.num_queries
    assert model.transformer.d_model == rec.hidden_dim
    assert len(model.transformer.encoder.layers) == rec.enc_layers
    assert len(model.transformer.decoder.layers) == rec.dec_layers
    assert model.bert.config.hidden_size == rec.bert_hidden_size

    transform = gdt.Compose(
        [
            gdt.RandomResize([256], max_size=400),
            gdt.ToTensor(),
            gdt.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    image, _ = transform(Image.fromarray(_rgb(240, 320)), None)
    assert tuple(image.shape) == (3, 256, 341)
    boxes, logits, phrases = predict(model, image, "white shirt . person", 0.0, 0.0, device="cpu")
    assert tuple(boxes.shape) == (rec.num_queries, 4)
    assert tuple(logits.shape) == (rec.num_queries,)
    assert len(phrases) == rec.num_queries
    assert float(boxes.min()) >= 0.0
    assert float(boxes.max()) <= 1.0  # normalised cxcywh from a sigmoid


# -- GroundingDINO, transformers format ----------------------------------------------------------------------


@pytest.mark.slow
def test_groundingdino_hf_layout_and_forward(tiny_groundingdino_hf, hf_runner: HFRunner) -> None:
    rec = tiny_groundingdino_hf
    assert set(GROUNDINGDINO_HF_FILES) <= _files(rec.path)
    config = json.loads((rec.path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "grounding-dino"  # sic: transformers spells this one with a hyphen
    assert config["architectures"] == ["GroundingDinoForObjectDetection"]
    assert config["num_queries"] == rec.num_queries
    preprocessor = json.loads((rec.path / "preprocessor_config.json").read_text(encoding="utf-8"))
    assert preprocessor["image_processor_type"] == "GroundingDinoImageProcessor"
    assert preprocessor["size"] == {"shortest_edge": rec.shortest_edge, "longest_edge": rec.longest_edge}

    out = hf_runner.call(
        "tests.factories.grounding_dino:run_groundingdino_hf", GROUNDINGDINO_HF_CLASSES, model_dir=str(rec.path)
    ).value
    assert out["model_class"] == "GroundingDinoForObjectDetection"
    assert out["processor_class"] == "GroundingDinoProcessor"
    assert out["pixel_values"] == [1, 3, rec.shortest_edge, 341]
    assert out["logits"] == [1, rec.num_queries, rec.max_text_len]
    assert out["pred_boxes"] == [1, rec.num_queries, 4]
    assert out["num_detections"] == rec.num_queries  # thresholds of 0 keep every query


# -- SAM -----------------------------------------------------------------------------------------------------


def infer_sam_vit_arch(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Recover ``_build_sam``'s arguments from a segment-anything state dict, as production must.

    embed dim: patch_embed's output channels; depth: number of blocks; heads: embed dim / the rel_pos
    head dim; global blocks: those whose rel_pos spans the whole 64-token grid (2 * 64 - 1 positions)
    rather than a 14-token window.
    """
    prefix = "image_encoder."
    embed_dim = int(state_dict[f"{prefix}patch_embed.proj.weight"].shape[0])
    blocks = sorted({int(m.group(1)) for k in state_dict if (m := re.match(rf"{re.escape(prefix)}blocks\.(\d+)\.", k))})
    assert blocks == list(range(len(blocks))), "block indices must be contiguous"
    head_dim = int(state_dict[f"{prefix}blocks.0.attn.rel_pos_h"].shape[1])
    grid = int(state_dict[f"{prefix}pos_embed"].shape[1])
    global_blocks = [i for i in blocks if state_dict[f"{prefix}blocks.{i}.attn.rel_pos_h"].shape[0] == 2 * grid - 1]
    return {
        "encoder_embed_dim": embed_dim,
        "encoder_depth": len(blocks),
        "encoder_num_heads": embed_dim // head_dim,
        "encoder_global_attn_indexes": global_blocks,
    }


def test_sam_arch_inference_recovers_the_real_vit_b() -> None:
    import torch
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # shapes only: no 94 M parameters in memory
        state_dict = sam_model_registry["vit_b"]().state_dict()
    assert infer_sam_vit_arch(state_dict) == {
        "encoder_embed_dim": 768,
        "encoder_depth": 12,
        "encoder_num_heads": 12,
        "encoder_global_attn_indexes": [2, 5, 8, 11],
    }


def test_sam_vit_checkpoint_layout_and_inferred_arch(tiny_sam_vit) -> None:
    rec = tiny_sam_vit
    state_dict = _torch_load(rec.path)
    assert isinstance(state_dict, dict)
    assert {k.split(".")[0] for k in state_dict} == {"image_encoder", "prompt_encoder", "mask_decoder"}
    assert infer_sam_vit_arch(state_dict) == {
        "encoder_embed_dim": rec.encoder_embed_dim,
        "encoder_depth": rec.encoder_depth,
        "encoder_num_heads": rec.encoder_num_heads,
        "encoder_global_attn_indexes": list(rec.encoder_global_attn_indexes),
    }


def test_sam_vit_checkpoint_is_not_a_registry_architecture(tiny_sam_vit) -> None:
    # Loading by file name alone must fail loudly: the registry's vit_b does not fit the tiny shapes.
    from segment_anything import sam_model_registry

    with pytest.raises(RuntimeError, match="size mismatch"):
        sam_model_registry["vit_b"](checkpoint=str(tiny_sam_vit.path))


@pytest.mark.slow
def test_sam_vit_loads_through_build_sam_and_predicts(tiny_sam_vit) -> None:
    from segment_anything import SamPredictor
    from segment_anything.build_sam import _build_sam

    state_dict = _torch_load(tiny_sam_vit.path)
    sam = _build_sam(**infer_sam_vit_arch(state_dict), checkpoint=str(tiny_sam_vit.path))  # strict load
    predictor = SamPredictor(sam)
    predictor.set_image(_rgb(240, 320))
    masks, scores, low_res = predictor.predict(box=np.array([20, 30, 200, 220]), multimask_output=True)
    assert masks.shape == (3, 240, 320)
    assert masks.dtype == bool
    assert scores.shape == (3,)
    assert low_res.shape == (3, 256, 256)


@pytest.mark.slow
def test_mobile_sam_loads_through_registry_and_predicts(tiny_mobile_sam) -> None:
    from mobile_sam import SamPredictor, sam_model_registry

    assert tiny_mobile_sam.path.name == "mobile_sam.pt"
    sam = sam_model_registry[tiny_mobile_sam.model_type](checkpoint=str(tiny_mobile_sam.path))  # strict load
    assert sum(p.numel() for p in sam.parameters()) == tiny_mobile_sam.num_params
    predictor = SamPredictor(sam)
    predictor.set_image(_rgb(240, 320))
    masks, scores, low_res = predictor.predict(box=np.array([20, 30, 200, 220]), multimask_output=True)
    assert masks.shape == (3, 240, 320)
    assert scores.shape == (3,)
    assert low_res.shape == (3, 256, 256)


@pytest.mark.slow
def test_sam_hf_layout_and_forward(tiny_sam_hf, hf_runner: HFRunner) -> None:
    rec = tiny_sam_hf
    assert set(SAM_HF_FILES) <= _files(rec.path)
    config = json.loads((rec.path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "sam"
    assert config["vision_config"]["hidden_size"] == rec.vision_hidden_size
    out = hf_runner.call("tests.factories.sam:run_sam_hf", SAM_HF_CLASSES, model_dir=str(rec.path)).value
    assert out["pixel_values"] == [1, 3, rec.image_size, rec.image_size]
    assert out["pred_masks"] == [1, 1, 3, 256, 256]
    assert out["iou_scores"] == [1, 1, 3]
    assert out["post_processed_masks"] == [1, 3, 240, 320]


# -- ViTMatte and Depth Anything -----------------------------------------------------------------------------


@pytest.mark.slow
def test_vitmatte_layout_and_forward(tiny_vitmatte, hf_runner: HFRunner) -> None:
    rec = tiny_vitmatte
    assert set(VITMATTE_HF_FILES) <= _files(rec.path)
    config = json.loads((rec.path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "vitmatte"
    assert config["backbone_config"]["model_type"] == "vitdet"
    assert config["backbone_config"]["num_channels"] == rec.num_channels == 4
    out = hf_runner.call(
        "tests.factories.matting:run_vitmatte", VITMATTE_HF_CLASSES, model_dir=str(rec.path), height=200, width=260
    ).value
    padded = [math.ceil(n / rec.size_divisibility) * rec.size_divisibility for n in (200, 260)]
    assert out["pixel_values"] == [1, 4, *padded]  # RGB + trimap
    assert out["alphas"] == [1, 1, *padded]
    assert 0.0 <= out["alpha_min"] <= out["alpha_max"] <= 1.0


@pytest.mark.slow
def test_depth_anything_layout_and_forward(tiny_depth_anything, hf_runner: HFRunner) -> None:
    rec = tiny_depth_anything
    assert set(DEPTH_ANYTHING_HF_FILES) <= _files(rec.path)
    config = json.loads((rec.path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "depth_anything"
    assert config["backbone_config"]["model_type"] == "dinov2"
    preprocessor = json.loads((rec.path / "preprocessor_config.json").read_text(encoding="utf-8"))
    assert preprocessor["image_processor_type"] == "DPTImageProcessor"
    assert preprocessor["size"] == {"height": rec.processor_size, "width": rec.processor_size}
    assert preprocessor["keep_aspect_ratio"] is True
    assert preprocessor["ensure_multiple_of"] == rec.patch_size
    out = hf_runner.call(
        "tests.factories.depth:run_depth_anything", DEPTH_ANYTHING_HF_CLASSES, model_dir=str(rec.path)
    ).value
    assert out["model_class"] == "DepthAnythingForDepthEstimation"
    batch, channels, height, width = out["pixel_values"]
    assert (batch, channels) == (1, 3)
    assert height % rec.patch_size == 0
    assert width % rec.patch_size == 0
    assert out["predicted_depth"] == [1, height, width]
    assert out["finite"]


# -- YOLO ----------------------------------------------------------------------------------------------------

YOLO_FIXTURES = {
    "tiny_yolo_detect": ("yolov8n.pt", "detect", 80),
    "tiny_yolo_pose": ("yolov8n-pose.pt", "pose", 1),
    "tiny_yolo_face": ("face_yolov8n.pt", "detect", 1),
    "tiny_yolo_hand": ("hand_yolov8n.pt", "detect", 1),
}


@pytest.mark.parametrize("fixture_name", sorted(YOLO_FIXTURES))
def test_yolo_checkpoint_layout(fixture_name: str, request: pytest.FixtureRequest) -> None:
    import torch

    rec = request.getfixturevalue(fixture_name)
    filename, task, num_classes = YOLO_FIXTURES[fixture_name]
    assert rec.path.name == filename
    checkpoint = _torch_load(rec.path)
    assert {"date", "version", "license", "docs", "model", "train_args", "epoch"} <= set(checkpoint)
    assert checkpoint["ema"] is None
    assert checkpoint["optimizer"] is None
    model = checkpoint["model"]
    assert next(model.parameters()).dtype == torch.float16  # released checkpoints are stripped to FP16
    assert model.names == rec.names
    assert len(model.names) == num_classes
    assert checkpoint["train_args"]["task"] == task


@pytest.mark.slow
@pytest.mark.parametrize("fixture_name", sorted(YOLO_FIXTURES))
def test_yolo_loads_with_YOLO_and_predicts(fixture_name: str, request: pytest.FixtureRequest) -> None:
    rec = request.getfixturevalue(fixture_name)
    from ultralytics import YOLO

    model = YOLO(str(rec.path))
    assert model.task == rec.task
    assert model.names == rec.names
    # Random weights put no box over the default conf; conf=0 and a small max_det give non-empty output.
    result = model.predict(_rgb(240, 320)[..., ::-1], imgsz=256, conf=0.0, max_det=5, device="cpu", verbose=False)[0]
    assert result.orig_shape == (240, 320)
    count = result.boxes.xyxy.shape[0]
    assert 0 < count <= 5
    assert tuple(result.boxes.xyxy.shape) == (count, 4)
    assert set(result.boxes.cls.int().tolist()) <= set(rec.names)
    if rec.task == "pose":
        assert rec.kpt_shape == (17, 3)
        assert tuple(result.keypoints.data.shape) == (count, 17, 3)
    else:
        assert result.keypoints is None
