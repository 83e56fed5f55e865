"""SAM's architecture read from a checkpoint's tensor shapes, so that any file loads whatever its name.

segment-anything builds ``vit_b``, ``vit_l`` and ``vit_h`` from four numbers; Meta's ``.pth`` files hold only
the state dict. Each number shows in the shapes:

- ``embed_dim``: the patch embedding's output channels, ``image_encoder.patch_embed.proj.weight`` (D, 3, 16, 16);
- ``depth``: how many ``image_encoder.blocks.<i>`` there are;
- ``num_heads``: D divided by a head's width, which is the relative position table's second dimension,
  ``image_encoder.blocks.<i>.attn.rel_pos_h`` (2·S - 1, D / heads);
- ``global_attn_indexes``: the blocks that attend over the whole 64 x 64 token grid rather than 14 x 14
  windows: their position table has 2·64 - 1 = 127 rows instead of 2·14 - 1 = 27.

A MobileSAM checkpoint (TinyViT encoder, ``image_encoder.layers.*``) and a SAM-HQ checkpoint (extra
``mask_decoder.hf_*`` tensors: the HQ output token and its feature fusion) are recognised by their keys. SAM-HQ
keeps SAM's ViT encoder unchanged, so its size is read exactly as for SAM; Light HQ-SAM (``sam_hq_vit_tiny``)
is MobileSAM's TinyViT with the HQ decoder. Numpy/torch shapes only: nothing is built here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lib_garment.errors import ModelUnavailable

# sam_hq_tiny: Light HQ-SAM, TinyViT encoder + HQ decoder (segment_anything_hq's "vit_tiny").
Family = Literal["sam", "mobile_sam", "sam_hq", "sam_hq_tiny"]
PATCH = 16  # segment-anything's fixed patch size
IMAGE_SIZE = 1024  # and input side
WINDOW = 14  # and attention window
_BLOCK = re.compile(r"^image_encoder\.blocks\.(\d+)\.")


@dataclass(frozen=True)
class SamArch:
    """What ``segment_anything.build_sam._build_sam`` needs (ViT families), or the family alone."""

    family: Family
    embed_dim: int = 0
    depth: int = 0
    num_heads: int = 0
    global_attn_indexes: tuple[int, ...] = ()

    @property
    def hq(self) -> bool:
        """A SAM-HQ model (segment_anything_hq builds it)."""
        return self.family in ("sam_hq", "sam_hq_tiny")

    @property
    def tiny_vit(self) -> bool:
        """A TinyViT encoder with fixed sizes (nothing to infer)."""
        return self.family in ("mobile_sam", "sam_hq_tiny")

    @property
    def name(self) -> str:
        """``vit_b``/``vit_l``/``vit_h`` for Meta's sizes (SAM or SAM-HQ), ``vit_t`` for MobileSAM, ``vit_tiny``
        for Light HQ-SAM, else a description."""
        if self.family == "mobile_sam":
            return "vit_t"
        if self.family == "sam_hq_tiny":
            return "vit_tiny"
        for name, arch in VIT_ARCHS.items():
            if (arch.embed_dim, arch.depth, arch.num_heads, arch.global_attn_indexes) == (
                self.embed_dim,
                self.depth,
                self.num_heads,
                self.global_attn_indexes,
            ):
                return name
        return f"vit(dim={self.embed_dim}, depth={self.depth}, heads={self.num_heads})"

    def build_kwargs(self) -> dict[str, Any]:
        return {
            "encoder_embed_dim": self.embed_dim,
            "encoder_depth": self.depth,
            "encoder_num_heads": self.num_heads,
            "encoder_global_attn_indexes": list(self.global_attn_indexes),
        }

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"family": self.family, "arch": self.name}
        if not self.tiny_vit:
            data.update(
                embed_dim=self.embed_dim,
                depth=self.depth,
                num_heads=self.num_heads,
                global_attn_indexes=list(self.global_attn_indexes),
            )
        return data


# segment_anything.build_sam's three sizes (the registry's sam_vit_b / sam_vit_l / sam_vit_h files).
VIT_ARCHS: dict[str, SamArch] = {
    "vit_b": SamArch("sam", 768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamArch("sam", 1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamArch("sam", 1280, 32, 16, (7, 15, 23, 31)),
}


def infer_arch(state: Mapping[str, Any], where: str = "the checkpoint") -> SamArch:
    """The architecture of a SAM state dict (keys without a ``module.`` prefix); ModelUnavailable when the
    tensors are not a SAM image encoder this code can build."""
    hq = any(k.startswith("mask_decoder.hf_") for k in state)
    if any(k.startswith("image_encoder.layers.") for k in state):
        return SamArch("sam_hq_tiny" if hq else "mobile_sam")
    family: Family = "sam_hq" if hq else "sam"
    proj = state.get("image_encoder.patch_embed.proj.weight")
    if proj is None or len(proj.shape) != 4:
        raise ModelUnavailable(f"{where} is not a SAM checkpoint (no image_encoder.patch_embed.proj.weight)")
    embed_dim = int(proj.shape[0])
    if tuple(proj.shape[2:]) != (PATCH, PATCH):
        raise ModelUnavailable(f"{where}: SAM patches of {tuple(proj.shape[2:])} px are not supported (16 x 16 only)")
    pos = state.get("image_encoder.pos_embed")
    if pos is not None and tuple(pos.shape[1:3]) != (IMAGE_SIZE // PATCH, IMAGE_SIZE // PATCH):
        raise ModelUnavailable(f"{where}: a SAM image encoder for {pos.shape[1] * PATCH} px input is not supported")
    blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK.match(k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise ModelUnavailable(f"{where}: SAM encoder blocks are missing or not numbered 0..n-1 ({blocks[:5]}...)")
    head_dims, global_blocks = set(), []
    for index in blocks:
        table = state.get(f"image_encoder.blocks.{index}.attn.rel_pos_h")
        if table is None:
            raise ModelUnavailable(f"{where}: block {index} has no relative position table; cannot tell its heads")
        rows, head_dim = int(table.shape[0]), int(table.shape[1])
        head_dims.add(head_dim)
        if rows == 2 * (IMAGE_SIZE // PATCH) - 1:
            global_blocks.append(index)
        elif rows != 2 * WINDOW - 1:
            raise ModelUnavailable(f"{where}: block {index} attends over {(rows + 1) // 2} tokens, neither 14 nor 64")
    if len(head_dims) != 1 or embed_dim % next(iter(head_dims)):
        raise ModelUnavailable(f"{where}: inconsistent attention head widths {sorted(head_dims)} for width {embed_dim}")
    return SamArch(family, embed_dim, len(blocks), embed_dim // head_dims.pop(), tuple(global_blocks))
