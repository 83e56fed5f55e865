"""The segmentation models' largest activations made in pieces: the same numbers, a fraction of the memory.

Global attention one head at a time in SAM's and ViTMatte's ViT encoders (below), and GroundingDINO's deformable
attention a slice of queries at a time (:func:`lean_deformable_attention`, at the end).

SAM's image encoder (segment-anything, SAM-HQ) and ViTMatte's backbone (transformers' ViTDet, built after SAM's)
attend over the whole token grid in some of their blocks. Both packages compute that for all heads at once: a
(heads, tokens, tokens) float32 score matrix — for SAM ``vit_b`` at 1024 px, 12 x 4096 x 4096 = 805 MB — plus
the copies that adding the relative positions and the softmax make: about 2.4 GB at the encoder's peak, more
than the model's weights and the rest of the pipeline together. Each head's scores are independent of the
others', so computing them head by head gives the same result (the same matrix products on the same slices)
with one head's matrices alive at a time (67 MB each for a 64 x 64 grid).

:func:`lean_global_attention` swaps the forward of those blocks' attention modules on one built model; the
windowed blocks (14 x 14 windows, a few MB of scores) keep the packages' code. The relative-position term is
each package's own function, called on each head's slice.
"""

from __future__ import annotations

import sys
import types
from typing import Any

# The packages' relative-position functions, by the module their attention class lives in.
_REL_POS_FUNCTIONS = ("add_decomposed_rel_pos", "add_decomposed_relative_positions")  # segment-anything, transformers


def _head_by_head(module: Any, x: Any, use_rel_pos: bool) -> Any:
    """The packages' shared attention computation, with the heads' score matrices made one at a time."""
    import torch

    batch, height, width, _ = x.shape
    tokens = height * width
    # (3, batch * heads, tokens, head width): the packages' own layout
    qkv = module.qkv(x).reshape(batch, tokens, 3, module.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, batch * module.num_heads, tokens, -1).unbind(0)
    package = sys.modules[type(module).__module__]
    add_rel_pos = next(getattr(package, name) for name in _REL_POS_FUNCTIONS if hasattr(package, name))
    out = torch.empty_like(q)
    grid = (height, width)
    for head in range(q.shape[0]):
        qh = q[head : head + 1]
        scores = (qh * module.scale) @ k[head : head + 1].transpose(-2, -1)
        if use_rel_pos:
            scores = add_rel_pos(scores, qh, module.rel_pos_h, module.rel_pos_w, grid, grid)
        out[head : head + 1] = scores.softmax(dim=-1) @ v[head : head + 1]
        del scores
    out = out.view(batch, module.num_heads, height, width, -1).permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1)
    return module.proj(out)


def _sam_forward(self: Any, x: Any) -> Any:
    """segment-anything's ``Attention.forward``: a tensor."""
    return _head_by_head(self, x, self.use_rel_pos)


def _vitdet_forward(self: Any, hidden_state: Any, output_attentions: bool = False) -> Any:
    """transformers' ``VitDetAttention.forward``: a tuple; the package's own code when the probabilities are wanted
    (they are the full matrix this avoids)."""
    if output_attentions:
        return type(self).forward(self, hidden_state, output_attentions)
    return (_head_by_head(self, hidden_state, self.use_relative_position_embeddings),)


def lean_global_attention(model: Any) -> int:
    """Make every global-attention block of ``model`` (a SAM image encoder, a ViTMatte, or anything holding them)
    compute head by head; returns how many were swapped. Models without such blocks (MobileSAM's TinyViT) are
    left as they are (0)."""
    swapped = 0
    for block in model.modules():
        if getattr(block, "window_size", None) != 0:
            continue  # a windowed block (or no ViT block at all)
        # Each package's attention by its own switch for relative positions: another ViT's attention of the
        # same attribute names (TinyViT's, whose windows are never 0) is not taken for it.
        for name, switch, forward in (
            ("attn", "use_rel_pos", _sam_forward),
            ("attention", "use_relative_position_embeddings", _vitdet_forward),
        ):
            attn = getattr(block, name, None)
            if attn is not None and all(hasattr(attn, n) for n in ("qkv", "proj", "num_heads", "scale", switch)):
                attn.forward = types.MethodType(forward, attn)
                swapped += 1
    return swapped


# -- GroundingDINO's deformable attention -------------------------------------------------------------------------

DEFORMABLE_QUERIES = 2048  # queries sampled at a time: ~50 MB of samples instead of ~1 GB for 18k image tokens


def _chunked_deformable(original: Any) -> Any:
    """``original`` (groundingdino's ``multi_scale_deformable_attn_pytorch``) over the queries a slice at a time.

    Each query samples its own points and sums them with its own weights, so slicing the queries gives the same
    output. The package's CPU code samples every query's points of every level at once and stacks them: for the
    photo's ~18k image tokens in the encoder that is about 1 GB, which set the whole segmentation's peak and grew
    with the photo's aspect ratio (GroundingDINO's input is 800 px on the short side, up to 1333 on the long)."""
    import torch

    def sampled_in_slices(value: Any, shapes: Any, locations: Any, weights: Any) -> Any:
        queries = locations.shape[1]
        if queries <= DEFORMABLE_QUERIES:
            return original(value, shapes, locations, weights)
        parts = [
            original(value, shapes, locations[:, s : s + DEFORMABLE_QUERIES], weights[:, s : s + DEFORMABLE_QUERIES])
            for s in range(0, queries, DEFORMABLE_QUERIES)
        ]
        return torch.cat(parts, dim=1)

    sampled_in_slices.garment_original = original  # type: ignore[attr-defined]
    return sampled_in_slices


def lean_deformable_attention() -> bool:
    """Make groundingdino's CPU deformable attention sample its queries in slices (module-wide, once); True when
    it was swapped now. The CUDA kernel, where the package built it, is not touched."""
    from groundingdino.models.GroundingDINO import ms_deform_attn

    current = ms_deform_attn.multi_scale_deformable_attn_pytorch
    if hasattr(current, "garment_original"):
        return False
    ms_deform_attn.multi_scale_deformable_attn_pytorch = _chunked_deformable(current)
    return True
