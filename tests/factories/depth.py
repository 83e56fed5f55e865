"""A tiny random Depth Anything (V2 Small-shaped) in transformers format.

Laid out like ``depth-anything/Depth-Anything-V2-Small-hf``: DINOv2 backbone read out at four evenly spaced
blocks, reassemble factors 4/2/1/0.5, relative depth, and the same DPTImageProcessor settings (518 px,
keep aspect ratio, multiple of 14, bicubic). Only the widths and depth are shrunk. DepthAnything is absent
from transformers 4.30.2, so in the AUTOMATIC1111 set this builds and runs in the model-worker subprocess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEPTH_ANYTHING_HF_CLASSES = ("DepthAnythingForDepthEstimation", "DPTImageProcessor")
DEPTH_ANYTHING_HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")

DINOV2_TINY: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "mlp_ratio": 2,
    "patch_size": 14,
    "image_size": 518,
    "layerscale_value": 1.0,
    "out_features": ["stage1", "stage2", "stage3", "stage4"],
    "apply_layernorm": True,
    "reshape_hidden_states": False,
}
PROCESSOR_SIZE = 518


@dataclass(frozen=True)
class TinyDepthAnything:
    """A transformers Depth Anything directory (model + image processor)."""

    path: Path
    backbone_hidden_size: int
    backbone_num_hidden_layers: int
    patch_size: int
    processor_size: int
    depth_estimation_type: str
    num_params: int
    built_with: str
    transformers_version: str
    build_seconds: float


def build_depth_anything(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """Save a tiny DepthAnythingForDepthEstimation + DPTImageProcessor; return its key numbers."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    config = DepthAnythingConfig(
        backbone_config=Dinov2Config(**DINOV2_TINY),
        patch_size=14,
        reassemble_hidden_size=32,
        reassemble_factors=[4, 2, 1, 0.5],
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type="relative",
    )
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    processor = DPTImageProcessor(
        do_resize=True,
        size={"height": PROCESSOR_SIZE, "width": PROCESSOR_SIZE},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,  # PIL bicubic, as in the real preprocessor_config.json
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    processor.save_pretrained(out_dir)
    return {
        "backbone_hidden_size": config.backbone_config.hidden_size,
        "backbone_num_hidden_layers": config.backbone_config.num_hidden_layers,
        "patch_size": config.patch_size,
        "processor_size": PROCESSOR_SIZE,
        "depth_estimation_type": getattr(config, "depth_estimation_type", "relative"),
        "num_params": sum(p.numel() for p in model.parameters()),
    }


def run_depth_anything(model_dir: str, height: int = 240, width: int = 320) -> dict[str, Any]:
    """Load with the Auto classes (local files only), estimate depth once, report shapes."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForDepthEstimation.from_pretrained(model_dir, local_files_only=True).eval()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    inputs = processor(images=image, return_tensors="pt")
    with torch.no_grad():
        depth = model(**inputs).predicted_depth
    return {
        "model_class": type(model).__name__,
        "processor_class": type(processor).__name__,
        "pixel_values": list(inputs["pixel_values"].shape),
        "predicted_depth": list(depth.shape),
        "finite": bool(torch.isfinite(depth).all()),
    }
