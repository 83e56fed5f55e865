"""A tiny random ViTMatte in transformers format, laid out like ``hustvl/vitmatte-small-composition-1k``.

VitMatte is absent from transformers 4.30.2, so in the AUTOMATIC1111 set this builds (and runs) in the
model-worker subprocess; see ``hf_subprocess``. The backbone keeps the real model's structure (windowed
blocks with relative position embeddings, a residual block, 4 input channels: RGB + trimap) at width 32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

VITMATTE_HF_CLASSES = ("VitMatteForImageMatting", "VitMatteImageProcessor")
VITMATTE_HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")

VITDET_TINY: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "mlp_ratio": 2,
    "num_channels": 4,
    "image_size": 512,
    "pretrain_image_size": 224,
    "patch_size": 16,
    "use_absolute_position_embeddings": True,
    "use_relative_position_embeddings": True,
    "window_block_indices": [0],
    "residual_block_indices": [1],
    "window_size": 14,
    "out_features": ["stage2"],
}


@dataclass(frozen=True)
class TinyVitMatte:
    """A transformers ViTMatte directory (model + image processor)."""

    path: Path
    hidden_size: int
    num_hidden_layers: int
    num_channels: int
    size_divisibility: int
    num_params: int
    built_with: str
    transformers_version: str
    build_seconds: float


def build_vitmatte(out_dir: str, seed: int = 0, sensitive: bool = False) -> dict[str, Any]:
    """Save a tiny VitMatteForImageMatting + VitMatteImageProcessor; return its key numbers.

    ``sensitive``: the decoder's convolutions He-initialised (std sqrt(2 / fan-in)) instead of transformers'
    0.02, so the signal keeps its size through the layers and the alpha varies across the band by tenths,
    not by 1e-4: a test comparing two mattes (tiled and whole) can then tell a misplaced tile from a right one.
    """
    import torch
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting, VitMatteImageProcessor

    config = VitMatteConfig(
        backbone_config=VitDetConfig(**VITDET_TINY),
        hidden_size=32,
        convstream_hidden_sizes=[8, 16, 32],
        fusion_hidden_sizes=[32, 16, 8, 8],
    )
    torch.manual_seed(seed)
    model = VitMatteForImageMatting(config)
    if sensitive:
        with torch.no_grad():
            for name, parameter in model.decoder.named_parameters():
                if name.endswith("weight") and parameter.ndim == 4:
                    torch.nn.init.kaiming_normal_(parameter)
    model.save_pretrained(out_dir, safe_serialization=True)
    # The real processor's settings: mean/std 0.5, pad to a multiple of 32.
    processor = VitMatteImageProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], size_divisibility=32)
    processor.save_pretrained(out_dir)
    return {
        "hidden_size": config.backbone_config.hidden_size,
        "num_hidden_layers": config.backbone_config.num_hidden_layers,
        "num_channels": config.backbone_config.num_channels,
        "size_divisibility": processor.size_divisibility,
        "num_params": sum(p.numel() for p in model.parameters()),
    }


def run_vitmatte(model_dir: str, height: int = 200, width: int = 260) -> dict[str, Any]:
    """Load with from_pretrained (local files only), refine one trimap, report shapes and value range."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import VitMatteForImageMatting, VitMatteImageProcessor

    processor = VitMatteImageProcessor.from_pretrained(model_dir, local_files_only=True)
    model = VitMatteForImageMatting.from_pretrained(model_dir, local_files_only=True).eval()
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    trimap = np.zeros((height, width), dtype=np.uint8)
    trimap[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 128
    trimap[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 255
    inputs = processor(images=image, trimaps=Image.fromarray(trimap, mode="L"), return_tensors="pt")
    with torch.no_grad():
        alphas = model(**inputs).alphas
    return {
        "pixel_values": list(inputs["pixel_values"].shape),
        "alphas": list(alphas.shape),
        "alpha_min": float(alphas.min()),
        "alpha_max": float(alphas.max()),
    }


def lean_against_stock(model_dir: str, side: int = 320) -> dict[str, Any]:
    """The production loader's ViTMatte (global attention head by head) against the same folder loaded by
    transformers alone, on one random 4-channel input: how many blocks were swapped, how many are global, and
    whether the alphas are identical. Runs where transformers has ViTMatte (the model worker on 4.30)."""
    import torch
    from transformers import VitMatteForImageMatting

    from lib_garment.segment.backends import lean_attention, vitmatte

    _, lean = vitmatte._build(model_dir, "cpu")
    stock = VitMatteForImageMatting.from_pretrained(model_dir).eval()
    swapped = sum(getattr(m.forward, "__func__", None) is lean_attention._vitdet_forward for m in lean.modules())
    global_blocks = sum(getattr(m, "window_size", None) == 0 for m in stock.modules())
    pixels = torch.randn(1, 4, side, side, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a, b = lean(pixel_values=pixels).alphas, stock(pixel_values=pixels).alphas
    return {"swapped": swapped, "global": global_blocks, "equal": bool(torch.equal(a, b)), "shape": list(a.shape)}
