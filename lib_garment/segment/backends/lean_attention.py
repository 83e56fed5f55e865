"""Global attention one head at a time in SAM's and ViTMatte's ViT encoders: the same numbers, a tenth of the memory.

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
        for name, forward in (("attn", _sam_forward), ("attention", _vitdet_forward)):
            attn = getattr(block, name, None)
            if attn is not None and all(hasattr(attn, n) for n in ("qkv", "proj", "num_heads", "scale")):
                attn.forward = types.MethodType(forward, attn)
                swapped += 1
    return swapped
