"""Tiny random SAM-HQ models in the format of the official ``sam_hq_vit_*.pth`` files.

SAM-HQ (segment-anything-hq) keeps SAM's ViT image encoder and adds to the mask decoder an HQ output token
(``mask_decoder.hf_token``/``hf_mlp``) and a fusion of an early encoder feature map
(``compress_vit_feat``, sized by the encoder's width) with the decoder's features. The official files are the
bare state dict of ``segment_anything_hq.build_sam._build_sam``'s model. This factory builds that model
through the same function with the tiny encoder of :data:`tests.factories.sam.SAM_VIT_TINY` (the prompt
encoder and decoder keep their fixed real sizes) and saves its state dict, so the file holds no other hint of
its architecture than its tensor shapes — as the official ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.factories.sam import SAM_IMAGE_SIZE, SAM_VIT_TINY


@dataclass(frozen=True)
class TinySamHQ:
    """A SAM-HQ state dict .pth with a tiny ViT image encoder."""

    path: Path
    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int
    num_params: int
    build_seconds: float


def make_sam_hq(out_dir: Path, filename: str = "sam_hq_vit_tiny_random.pth", seed: int = 0) -> TinySamHQ:
    """Build through segment_anything_hq's own ``_build_sam`` and save the bare state dict."""
    start = time.perf_counter()  # imports included: they are part of what a first build costs
    import torch
    from segment_anything_hq.build_sam import _build_sam

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    sam = _build_sam(**SAM_VIT_TINY)
    path = out_dir / filename
    torch.save(sam.state_dict(), path)
    return TinySamHQ(
        path=path,
        encoder_embed_dim=SAM_VIT_TINY["encoder_embed_dim"],
        encoder_depth=SAM_VIT_TINY["encoder_depth"],
        encoder_num_heads=SAM_VIT_TINY["encoder_num_heads"],
        encoder_global_attn_indexes=tuple(SAM_VIT_TINY["encoder_global_attn_indexes"]),
        image_size=SAM_IMAGE_SIZE,
        num_params=sum(p.numel() for p in sam.parameters()),
        build_seconds=round(time.perf_counter() - start, 2),
    )
