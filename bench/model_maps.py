"""Model-based maps: time from photo to keypoints / depth ÷ the model's raw forward pass (target ≤ 1.10).

Run from the repository root: ``python bench/model_maps.py [--sizes 1024,2048] [--repeats 5] [--device cpu]``.
The models have their real architectures and sizes with random weights: YOLOv8n-pose built from ultralytics'
yaml (saved as a .pt and loaded through the production loader), and a Depth Anything V2 Small-shaped model
(DINOv2 ViT-S/14 backbone, DPT head 48/96/192/384, fusion 64) saved in transformers format. Depth Anything
runs through the model runtime exactly as the maps command runs it: the model worker on AUTOMATIC1111's set
(transformers 4.30.2), in-process on Forge's.

Per photo size, interleaved, median of the repeats:
- ``estimator``: the estimator call (``YoloPoseEstimator.detect`` / ``DepthAnythingEstimator``): colour
  conversion or image processor, letterbox / resize, forward, NMS or bicubic upsampling to the photo's size,
  and for the worker the transfer of the photo and the depth both ways;
- ``map``: ``compute_maps`` with a fresh cache: the estimator plus the content hash, keypoint conversion and
  drawing (pose) or percentile normalisation (depth);
- ``forward``: the resident model alone on the input the estimator feeds it (the photo letterboxed by the
  predictor's preprocessing; the image processor's pixel values), prepared untimed, timed inside the process
  that holds the model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.depth_models import DEPTH_REQUIREMENT, DepthAnythingEstimator
from lib_garment.maps.pose_model import PoseModelParams, YoloPoseEstimator, prepare_ultralytics
from lib_garment.runtime import ModelRuntime, cached_model, get_runtime, in_process_runtime

TARGET = 1.10

# Depth-Anything-V2-Small-hf's config.json, with random weights.
DINOV2_SMALL = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "mlp_ratio": 4,
    "patch_size": 14,
    "image_size": 518,
    "layerscale_value": 1.0,
    "out_features": ["stage3", "stage6", "stage9", "stage12"],
    "apply_layernorm": True,
    "reshape_hidden_states": False,
}


def photo(size: int) -> np.ndarray:
    """A smooth scene with texture: what a product photo costs to resize and convert (content is irrelevant)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.dstack([200 - 80 * xx, 180 - 60 * yy, 160 + 40 * xx * yy])
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


# -- building the models ------------------------------------------------------------------------------------------


def build_yolov8n_pose(folder: Path) -> Path:
    from ultralytics import YOLO

    model = YOLO("yolov8n-pose.yaml")
    model.model.kpt_shape = tuple(model.model.yaml["kpt_shape"])  # yaml-built pose models lack it
    path = folder / "yolov8n-pose-random.pt"
    model.save(str(path))
    return path


def build_depth_anything_small(out_dir: str) -> int:
    """Save a Depth Anything V2 Small-shaped random model with the released preprocessor settings."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    config = DepthAnythingConfig(
        backbone_config=Dinov2Config(**DINOV2_SMALL),
        patch_size=14,
        reassemble_hidden_size=384,
        reassemble_factors=[4, 2, 1, 0.5],
        neck_hidden_sizes=[48, 96, 192, 384],
        fusion_hidden_size=64,
        head_hidden_size=32,
    )
    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    DPTImageProcessor(
        do_resize=True,
        size={"height": 518, "width": 518},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(out_dir)
    return sum(p.numel() for p in model.parameters())


# -- raw forwards, timed where the model lives ----------------------------------------------------------------------


def depth_forward_seconds(model_dir: str, device: str, image: np.ndarray) -> float:
    """One forward of the resident Depth Anything (the estimator's own cache entry) on the processor's input."""
    import torch

    from lib_garment.maps.depth_models import load_depth_anything

    processor, model = cached_model(
        ("depth-anything", model_dir, device), lambda: load_depth_anything(model_dir, device), device=device
    )
    pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(device)  # not timed
    with torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        model(pixel_values=pixels)
        _sync(device)
    return time.perf_counter() - start


def pose_forward_seconds(model_path: str, device: str, image: np.ndarray) -> float:
    """One forward of the resident YOLO pose network (ultralytics' fused AutoBackend) on the photo letterboxed
    by the predictor's own preprocessing, i.e. the very tensor the estimator feeds it (not timed). A tensor
    of zeros would flatter the forward: on one core it runs about 2 % faster than on a real picture."""
    import cv2
    import torch

    from lib_garment.maps.pose_model import load_yolo_pose

    yolo = cached_model(("yolo-pose", model_path, device), lambda: load_yolo_pose(model_path, device), device=device)
    predictor = yolo.predictor  # set up by the estimator's first call
    with torch.inference_mode():
        x = predictor.preprocess([cv2.cvtColor(image, cv2.COLOR_RGB2BGR)])
        _sync(device)
        start = time.perf_counter()
        predictor.model(x)
        _sync(device)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# -- timing ---------------------------------------------------------------------------------------------------------


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(
    estimator_call: Callable[[], object],
    map_call: Callable[[], object],
    forward: Callable[[], float],
    repeats: int,
) -> tuple[float, float, float]:
    estimator_call()  # warm: model loaded, predictor set up, worker started
    runs = [(timed(estimator_call), timed(map_call), forward()) for _ in range(repeats)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


def report(size: int, name: str, times: tuple[float, float, float]) -> float:
    est, full, fwd = times
    worst = max(est, full) / fwd
    flag = "" if worst <= TARGET else "  over target"
    milliseconds = f"{est * 1e3:10.1f} {full * 1e3:9.1f} {fwd * 1e3:10.1f}"
    print(f"{size:>6} {name:<6} {milliseconds} {est / fwd:7.3f} {full / fwd:7.3f}{flag}")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = args.device
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="garment-bench-") as tmp:
        folder = Path(tmp)
        prepare_ultralytics(folder / "ultralytics")
        pose_path = build_yolov8n_pose(folder)
        depth_runtime: ModelRuntime = get_runtime(DEPTH_REQUIREMENT)
        depth_dir = folder / "depth-anything-v2-small-random"
        params = depth_runtime.call("bench.model_maps:build_depth_anything_small", str(depth_dir))

        import torch

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        print(f"Depth Anything V2 Small-shaped: {params / 1e6:.1f} M parameters, runtime: {depth_runtime.mode}")
        print("pose: yolov8n-pose (random), in-process; imgsz 640, conf 0.25")
        print(f"{'size':>6} {'model':<6} {'estimator':>10} {'map':>9} {'forward':>10} {'est/fw':>7} {'map/fw':>7}")
        print(f"{'':>6} {'':<6} {'ms':>10} {'ms':>9} {'ms':>10}")

        pose = YoloPoseEstimator(pose_path, device, PoseModelParams(), in_process_runtime())
        depth = DepthAnythingEstimator(depth_dir, device, depth_runtime)
        worst = 0.0
        for size in sizes:
            image = photo(size)
            times = measure(
                lambda image=image: pose.detect(image),
                lambda image=image: compute_maps(MapSources(image), ["pose"], cache=MapCache(), pose_estimator=pose),
                lambda image=image: pose_forward_seconds(str(pose_path), device, image),
                args.repeats,
            )
            worst = max(worst, report(size, "pose", times))
            times = measure(
                lambda image=image: depth(image),
                lambda image=image: compute_maps(MapSources(image), ["depth"], cache=MapCache(), depth_estimator=depth),
                lambda image=image: depth_runtime.call(
                    "bench.model_maps:depth_forward_seconds", str(depth_dir), device, image
                ),
                args.repeats,
            )
            worst = max(worst, report(size, "depth", times))
        depth_runtime.close()
    print(f"worst ratio {worst:.3f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
