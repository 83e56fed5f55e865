"""SAM's global attention one head at a time: the same numbers, a tenth of the memory.

SAM's ViT encoder (segment-anything and SAM-HQ alike) attends over the whole 64 x 64 token grid in four of its
blocks. The package computes that for all heads at once: a (heads, 4096, 4096) float32 score matrix (805 MB for
``vit_b``'s 12 heads, 1.07 GB for ``vit_h``'s 16), plus the copies that adding the relative positions and the
softmax make — about 2.4 GB at the encoder's peak, more than the model's weights and the rest of the pipeline
together. Each head's scores are independent of the others', so computing them head by head gives the same
result (the same matrix products on the same slices) with one head's matrices alive at a time (67 MB each).

:func:`lean_global_attention` swaps the forward of those blocks' attention modules on one built model; the
windowed blocks (14 x 14 windows, a few MB of scores) keep the package's code. The relative-position term is the
package's own ``add_decomposed_rel_pos``, called on each head's slice.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def _head_by_head(self: Any, x: Any) -> Any:
    """The package's ``Attention.forward`` with the heads' score matrices made one at a time."""
    import torch

    batch, height, width, _ = x.shape
    tokens = height * width
    # (3, batch * heads, tokens, head width), the package's own layout
    qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, batch * self.num_heads, tokens, -1).unbind(0)
    add_rel_pos = sys.modules[type(self).__module__].add_decomposed_rel_pos
    out = torch.empty_like(q)
    for head in range(q.shape[0]):
        qh = q[head : head + 1]
        scores = (qh * self.scale) @ k[head : head + 1].transpose(-2, -1)
        if self.use_rel_pos:
            scores = add_rel_pos(scores, qh, self.rel_pos_h, self.rel_pos_w, (height, width), (height, width))
        out[head : head + 1] = scores.softmax(dim=-1) @ v[head : head + 1]
        del scores
    out = out.view(batch, self.num_heads, height, width, -1).permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1)
    return self.proj(out)


def lean_global_attention(image_encoder: Any) -> int:
    """Make the global-attention blocks of a SAM ViT image encoder compute head by head; returns how many.

    Encoders without ViT blocks (MobileSAM's TinyViT) are left as they are (0)."""
    swapped = 0
    for block in getattr(image_encoder, "blocks", ()):
        attn = getattr(block, "attn", None)
        if getattr(block, "window_size", None) == 0 and all(hasattr(attn, n) for n in ("qkv", "proj", "num_heads")):
            attn.forward = types.MethodType(_head_by_head, attn)
            swapped += 1
    return swapped
