"""Tiny random SAM models in the three on-disk formats users download.

* segment-anything: a flat state dict ``.pth`` exactly like ``sam_vit_b_01ec64.pth``, but with a 2-block,
  32-wide image encoder. The prompt encoder and mask decoder keep their fixed real sizes (``_build_sam``
  hard-codes them). Production infers the encoder's size from the state dict's shapes, so the file holds
  no other hint of its architecture.
* MobileSAM: the real ``vit_t`` architecture (TinyViT; only about 10 M parameters) with random weights,
  saved as a state dict like ``mobile_sam.pt``. ``sam_model_registry["vit_t"]`` has no size knobs, so a
  smaller file would not load through the library's own path.
* transformers: ``SamModel`` + ``SamProcessor`` via ``save_pretrained``, like ``facebook/sam-vit-base``;
  SamModel exists in transformers 4.30.2, so this one normally builds in-process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAM_VIT_TINY: dict[str, Any] = {
    "encoder_embed_dim": 32,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": [1],
}
SAM_IMAGE_SIZE = 1024  # fixed inside _build_sam, as are the 16 px patches and the 14-token windows
SAM_HF_CLASSES = ("SamModel", "SamProcessor")
SAM_HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")


@dataclass(frozen=True)
class TinySamCheckpoint:
    """A segment-anything state dict .pth with a tiny ViT image encoder."""

    path: Path
    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int
    num_params: int
    build_seconds: float


@dataclass(frozen=True)
class TinyMobileSam:
    """A MobileSAM (``vit_t``) state dict .pt with random weights."""

    path: Path
    model_type: str
    image_size: int
    num_params: int
    build_seconds: float


@dataclass(frozen=True)
class TinySamHF:
    """A transformers SAM directory (model + processor)."""

    path: Path
    vision_hidden_size: int
    vision_num_hidden_layers: int
    vision_global_attn_indexes: tuple[int, ...]
    image_size: int
    num_params: int
    built_with: str
    transformers_version: str
    build_seconds: float


def make_sam_vit(
    out_dir: Path, filename: str = "sam_vit_tiny_random.pth", seed: int = 0, package: str = "segment_anything"
) -> TinySamCheckpoint:
    """Build through ``<package>.build_sam._build_sam`` (segment_anything, or segment_anything_hq for SAM-HQ)
    and save the bare state dict, as the official files are."""
    start = time.perf_counter()  # imports included: they are part of what a first build costs
    import importlib

    import torch

    _build_sam = importlib.import_module(f"{package}.build_sam")._build_sam

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    sam = _build_sam(**SAM_VIT_TINY)
    path = out_dir / filename
    torch.save(sam.state_dict(), path)
    return TinySamCheckpoint(
        path=path,
        encoder_embed_dim=SAM_VIT_TINY["encoder_embed_dim"],
        encoder_depth=SAM_VIT_TINY["encoder_depth"],
        encoder_num_heads=SAM_VIT_TINY["encoder_num_heads"],
        encoder_global_attn_indexes=tuple(SAM_VIT_TINY["encoder_global_attn_indexes"]),
        image_size=SAM_IMAGE_SIZE,
        num_params=sum(p.numel() for p in sam.parameters()),
        build_seconds=round(time.perf_counter() - start, 2),
    )


def make_mobile_sam(out_dir: Path, filename: str = "mobile_sam.pt", seed: int = 0) -> TinyMobileSam:
    start = time.perf_counter()  # imports included: they are part of what a first build costs
    import torch
    from mobile_sam import sam_model_registry

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    sam = sam_model_registry["vit_t"]()
    path = out_dir / filename
    torch.save(sam.state_dict(), path)
    return TinyMobileSam(
        path=path,
        model_type="vit_t",
        image_size=SAM_IMAGE_SIZE,
        num_params=sum(p.numel() for p in sam.parameters()),
        build_seconds=round(time.perf_counter() - start, 2),
    )


# -- transformers format ------------------------------------------------------------------------------------

SAM_HF_VISION: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "mlp_dim": 64,
    "output_channels": 32,
    "window_size": 14,
    "global_attn_indexes": [1],
    "num_pos_feats": 16,
}


def build_sam_hf(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """Save a tiny SamModel + SamProcessor (works on transformers 4.30.2 and later)."""
    import torch
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor, SamVisionConfig

    config = SamConfig(
        vision_config=SamVisionConfig(**SAM_HF_VISION).to_dict(),
        prompt_encoder_config={"hidden_size": 32},
        mask_decoder_config={"hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 2, "iou_head_hidden_dim": 32},
    )
    torch.manual_seed(seed)
    model = SamModel(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    SamProcessor(SamImageProcessor()).save_pretrained(out_dir)
    return {
        "vision_hidden_size": config.vision_config.hidden_size,
        "vision_num_hidden_layers": config.vision_config.num_hidden_layers,
        "vision_global_attn_indexes": list(config.vision_config.global_attn_indexes),
        "image_size": config.vision_config.image_size,
        "num_params": sum(p.numel() for p in model.parameters()),
    }


def run_sam_hf(model_dir: str, height: int = 240, width: int = 320) -> dict[str, Any]:
    """Load with from_pretrained (local files only), segment one box prompt, report shapes."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import SamModel, SamProcessor

    processor = SamProcessor.from_pretrained(model_dir, local_files_only=True)
    model = SamModel.from_pretrained(model_dir, local_files_only=True).eval()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    inputs = processor(images=image, input_boxes=[[[20.0, 30.0, 200.0, 220.0]]], return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs, multimask_output=True)
    masks = processor.image_processor.post_process_masks(
        outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
    )
    return {
        "pixel_values": list(inputs["pixel_values"].shape),
        "pred_masks": list(outputs.pred_masks.shape),
        "iou_scores": list(outputs.iou_scores.shape),
        "post_processed_masks": list(masks[0].shape),
    }
