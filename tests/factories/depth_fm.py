"""A tiny random DepthFM in the published format: ``depthfm-v1.ckpt`` plus a diffusers VAE folder.

The checkpoint is what the authors' ``torch.load`` reads: ``ldm_hparams`` (an LDM openaimodel UNet with 8 input
channels: the flow's state and the image latent), ``state_dict`` in the LDM key layout (``input_blocks``,
``middle_block``, ``output_blocks``, ``time_embed``, ``out``), ``noising_step`` and ``empty_text_embedding``
as a numpy array. The weights come from a diffusers ``UNet2DConditionModel`` built from a configuration written
out here, renamed into the LDM layout by :func:`ldm_keys`: this project's own renaming, independent of the
diffusers conversion the production loader uses, so a strict load through the loader checks the two against
each other. The VAE is a diffusers ``AutoencoderKL`` folder shaped like Stable Diffusion's (four levels, four
latent channels, scaling factor 0.18215), shrunk.

diffusers is in Forge's set; in AUTOMATIC1111's it exists only in the model worker's folder, so there the
builder runs in the worker subprocess (``DEPTH_FM_CLASSES``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEPTH_FM_CLASSES = ("diffusers:UNet2DConditionModel", "diffusers:AutoencoderKL")
CHECKPOINT_NAME = "depthfm-v1.ckpt"
VAE_FOLDER = "stable-diffusion-v1-5-vae"
REFERENCE_UNET = "reference-unet-diffusers"
NOISING_STEP = 400
CONTEXT_DIM = 16

# SD 2.1's UNet description (what the real ldm_hparams say), shrunk: two levels instead of four.
TINY_LDM_HPARAMS: dict[str, Any] = {
    "image_size": 8,
    "in_channels": 8,
    "out_channels": 4,
    "model_channels": 32,
    "attention_resolutions": [2],
    "num_res_blocks": 1,
    "channel_mult": [1, 2],
    "num_head_channels": 8,
    "use_spatial_transformer": True,
    "use_linear_in_transformer": True,
    "transformer_depth": 1,
    "context_dim": CONTEXT_DIM,
    "use_checkpoint": False,
    "legacy": False,
}

# The same network in diffusers' terms, written out by hand (not derived by diffusers' helper).
TINY_DIFFUSERS_UNET: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "cross_attention_dim": CONTEXT_DIM,
    "attention_head_dim": [4, 8],  # diffusers' name for the head count: channels / 8
    "use_linear_projection": True,
    "transformer_layers_per_block": 1,
}

TINY_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [8, 8, 16, 16],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 64,
    "scaling_factor": 0.18215,
}


@dataclass(frozen=True)
class TinyDepthFm:
    """The checkpoint, the VAE folder beside it, and what was built."""

    path: Path  # the folder holding both
    checkpoint: Path
    vae_dir: Path
    unet_params: int
    vae_params: int
    ldm_keys: int
    built_with: str
    transformers_version: str
    build_seconds: float


_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}


def _resnet(rest: str) -> str:
    part, _, tail = rest.partition(".")
    return f"{_RESNET[part]}.{tail}"


def ldm_keys(diffusers_key: str, layers_per_block: int, attention_up_blocks: set[int]) -> str:
    """The LDM openaimodel name of one diffusers UNet2DConditionModel weight (transformer internals keep their
    names in both: norm, proj_in, transformer_blocks.*, proj_out)."""
    fixed = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    stem, _, leaf = diffusers_key.rpartition(".")
    if stem in fixed:
        return f"{fixed[stem]}.{leaf}"
    # Input blocks per level: its resnets, then the downsampler as a block of its own; output blocks per level:
    # one more resnet than on the way down, the upsampler inside the last of them.
    per_down = per_up = layers_per_block + 1
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", diffusers_key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + block * per_down + layer
        return f"input_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", diffusers_key):
        return f"input_blocks.{(int(m[1]) + 1) * per_down}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", diffusers_key):
        kind, layer, rest = m[1], int(m[2]), m[3]
        return f"middle_block.{2 * layer}.{_resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", diffusers_key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = block * per_up + layer
        return f"output_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", diffusers_key):
        block = int(m[1])
        position = 2 if block in attention_up_blocks else 1  # after the resnet, and after the attention if any
        return f"output_blocks.{block * per_up + layers_per_block}.{position}.conv.{m[2]}"
    raise ValueError(f"no LDM name for {diffusers_key}")


def to_ldm_state_dict(unet: Any, config: dict[str, Any]) -> OrderedDict[str, Any]:
    attention_up = {i for i, kind in enumerate(config["up_block_types"]) if kind.startswith("CrossAttn")}
    state = OrderedDict()
    for key, value in unet.state_dict().items():
        state[ldm_keys(key, config["layers_per_block"], attention_up)] = value.clone()
    return state


def build_depth_fm(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """Write ``depthfm-v1.ckpt`` and the VAE folder into ``out_dir``; return the key numbers."""
    import numpy as np
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(out_dir)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**TINY_DIFFUSERS_UNET)
    for parameter in unet.parameters():  # diffusers zero-initialises conv_out: give every layer a say
        if not parameter.detach().abs().sum():
            torch.nn.init.normal_(parameter, std=0.02)
    state = to_ldm_state_dict(unet, TINY_DIFFUSERS_UNET)
    rng = np.random.default_rng(seed)
    checkpoint = {
        "ldm_hparams": dict(TINY_LDM_HPARAMS),
        "state_dict": state,
        "noising_step": NOISING_STEP,
        "empty_text_embedding": rng.normal(size=(1, 77, CONTEXT_DIM)).astype(np.float32),
    }
    torch.save(checkpoint, folder / CHECKPOINT_NAME)
    vae = AutoencoderKL(**TINY_VAE)
    vae.save_pretrained(folder / VAE_FOLDER, safe_serialization=True)
    unet.save_pretrained(folder / REFERENCE_UNET, safe_serialization=True)  # for reference_depth only
    return {
        "checkpoint": str(folder / CHECKPOINT_NAME),
        "vae_dir": str(folder / VAE_FOLDER),
        "unet_params": sum(p.numel() for p in unet.parameters()),
        "vae_params": sum(p.numel() for p in vae.parameters()),
        "ldm_keys": len(state),
    }


def reference_depth(out_dir: str, image: list[list[list[int]]], steps: int, seed: int) -> list[list[float]]:
    """The tiny model's depth computed from the diffusers UNet the factory built (saved beside the checkpoint in
    diffusers' own format, so no key renaming is involved), following the authors' recipe step by step with
    this factory's own schedule arithmetic: the reference the production path must match."""
    import math

    import numpy as np
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(out_dir)
    unet = UNet2DConditionModel.from_pretrained(folder / REFERENCE_UNET).eval()
    vae = AutoencoderKL.from_pretrained(folder / VAE_FOLDER).eval()
    context = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 77, CONTEXT_DIM)).astype(np.float32))
    x = torch.tensor(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode() * 0.18215
        snr = math.tan(math.pi * (NOISING_STEP / 1000) / 2) + 1e-5
        alpha_bar = 1 / (1 + snr**2)  # sigmoid(-2 log snr)
        noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
        state = math.sqrt(alpha_bar) * z + math.sqrt(1 - alpha_bar) * noise
        for k in range(steps):
            velocity = unet(torch.cat([state, z], 1), torch.tensor([k / steps]), encoder_hidden_states=context).sample
            state = state + velocity / steps
        depth = torch.exp(vae.decode(state / 0.18215).sample.mean(1)[0])
    return depth.tolist()
