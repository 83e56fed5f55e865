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

from pathlib import Path

from tests.factories.sam import TinySamCheckpoint, make_sam_vit

TinySamHQ = TinySamCheckpoint  # same record: a bare state dict with the tiny ViT encoder's numbers


def make_sam_hq(out_dir: Path, filename: str = "sam_hq_vit_tiny_random.pth", seed: int = 0) -> TinySamHQ:
    """Build through segment_anything_hq's own ``_build_sam`` and save the bare state dict."""
    return make_sam_vit(out_dir, filename, seed, package="segment_anything_hq")
