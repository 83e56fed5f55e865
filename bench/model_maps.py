"""Model-based maps: time from photo to keypoints / depth ÷ the model's raw forward pass (target ≤ 1.10).

Run from the repository root: ``python bench/model_maps.py [--sizes 1024,2048] [--repeats 5] [--device cpu]
[--models pose,depth,depth-fm] [--depth-fm-side 768]``.
The models have their real architectures and sizes with random weights: YOLOv8n-pose built from ultralytics'
yaml (saved as a .pt and loaded through the production loader), a Depth Anything V2 Small-shaped model
(DINOv2 ViT-S/14 backbone, DPT head 48/96/192/384, fusion 64) saved in transformers format, and for
``depth-fm`` a DepthFM-shaped checkpoint (SD 2.1's UNet with 8 input channels in the LDM layout) with a
Stable Diffusion VAE folder. Depth Anything and DepthFM run through the model runtime exactly as the maps
command runs them: the model worker on AUTOMATIC1111's set (transformers 4.30.2, no diffusers), in-process on
Forge's. DepthFM's forward is the VAE encode, the Euler steps of the UNet and the VAE decode.

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
from lib_garment.maps.depth_fm import DEPTH_FM_REQUIREMENT, DepthFmEstimator, DepthFmParams
from lib_garment.maps.depth_models import DEPTH_REQUIREMENT, DepthAnythingEstimator
from lib_garment.maps.pose_model import PoseModelParams, YoloPoseEstimator
from lib_garment.models.yolo import prepare_ultralytics
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


# SD 2.1's UNet as DepthFM describes it (8 input channels: the flow's state and the image latent).
DEPTH_FM_SD21 = {
    "image_size": 32,
    "in_channels": 8,
    "out_channels": 4,
    "model_channels": 320,
    "attention_resolutions": [4, 2, 1],
    "num_res_blocks": 2,
    "channel_mult": [1, 2, 4, 4],
    "num_head_channels": 64,
    "use_spatial_transformer": True,
    "use_linear_in_transformer": True,
    "transformer_depth": 1,
    "context_dim": 1024,
    "use_checkpoint": False,
    "legacy": False,
}
# Stable Diffusion's VAE (stable-diffusion-v1-5's vae/config.json).
SD_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}


def build_depth_fm_full(out_dir: str) -> int:
    """A DepthFM-shaped checkpoint (random SD 2.1 UNet in the LDM layout, stored in fp16 to halve the file) and a
    random SD VAE folder, the formats the loader reads. Runs where diffusers is (the runtime's process)."""
    import numpy as np
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from lib_garment.maps.depth_fm import unet_config
    from tests.factories.depth_fm import to_ldm_state_dict

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config = unet_config(DEPTH_FM_SD21)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config)
    params = sum(p.numel() for p in unet.parameters())
    state = to_ldm_state_dict(unet.half(), config)
    del unet
    empty = np.random.default_rng(0).normal(size=(1, 77, 1024)).astype(np.float32)
    torch.save(
        {"ldm_hparams": DEPTH_FM_SD21, "state_dict": state, "noising_step": 400, "empty_text_embedding": empty},
        folder / "depthfm-v1.ckpt",
    )
    del state
    vae = AutoencoderKL(**SD_VAE)
    vae.save_pretrained(folder / "vae", safe_serialization=True)
    return params + sum(p.numel() for p in vae.parameters())


def depth_fm_forward_seconds(checkpoint: str, vae_dir: str, device: str, image: np.ndarray, side: int) -> float:
    """The resident DepthFM networks alone (the estimator's own cache entry): VAE encode, the Euler steps of
    the UNet, VAE decode, on the photo already resized and scaled (not timed)."""
    import cv2
    import torch

    from lib_garment.maps.depth_fm import load_depth_fm, processing_size

    net = cached_model(("depth-fm", checkpoint, vae_dir, device), lambda: load_depth_fm(checkpoint, vae_dir, device))
    width, height = processing_size(image.shape[1], image.shape[0], side)
    pixels = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    x = (torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1.0).to(device, net.dtype)
    steps = DepthFmParams().steps
    with torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        latent = net.vae.encode(x).latent_dist.mode() * 0.18215
        state = latent
        for k in range(steps):
            t = torch.full((1,), k / steps, device=device, dtype=net.dtype)
            state = state + net.unet(torch.cat([state, latent], 1), t, encoder_hidden_states=net.context).sample / steps
        net.vae.decode(state / 0.18215)
        _sync(device)
    return time.perf_counter() - start


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
    parser.add_argument("--models", default="pose,depth", help="pose, depth (Depth Anything), depth-fm")
    parser.add_argument("--depth-fm-side", type=int, default=DepthFmParams().processing_side)
    args = parser.parse_args()
    models = set(args.models.split(","))
    device = args.device
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="garment-bench-") as tmp:
        folder = Path(tmp)
        import torch

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        runs: list[tuple[str, Callable[[np.ndarray], object], Callable[[np.ndarray], object], Callable]] = []
        if "pose" in models:
            prepare_ultralytics(folder / "ultralytics")
            pose_path = build_yolov8n_pose(folder)
            pose = YoloPoseEstimator(pose_path, device, PoseModelParams(), in_process_runtime())
            print("pose: yolov8n-pose (random), in-process; imgsz 640, conf 0.25")
            runs.append(
                (
                    "pose",
                    pose.detect,
                    lambda image: compute_maps(MapSources(image), ["pose"], cache=MapCache(), pose_estimator=pose),
                    lambda image: pose_forward_seconds(str(pose_path), device, image),
                )
            )
        if "depth" in models:
            depth_runtime: ModelRuntime = get_runtime(DEPTH_REQUIREMENT)
            depth_dir = folder / "depth-anything-v2-small-random"
            params = depth_runtime.call("bench.model_maps:build_depth_anything_small", str(depth_dir))
            print(f"Depth Anything V2 Small-shaped: {params / 1e6:.1f} M parameters, runtime: {depth_runtime.mode}")
            depth = DepthAnythingEstimator(depth_dir, device, depth_runtime)
            runs.append(
                (
                    "depth",
                    depth,
                    lambda image: compute_maps(MapSources(image), ["depth"], cache=MapCache(), depth_estimator=depth),
                    lambda image: depth_runtime.call(
                        "bench.model_maps:depth_forward_seconds", str(depth_dir), device, image
                    ),
                )
            )
        if "depth-fm" in models:
            fm_runtime: ModelRuntime = get_runtime(DEPTH_FM_REQUIREMENT)
            fm_dir = folder / "depth-fm-random"
            params = fm_runtime.call("bench.model_maps:build_depth_fm_full", str(fm_dir))
            fm_params = DepthFmParams(processing_side=args.depth_fm_side)
            print(
                f"DepthFM-shaped (SD 2.1 UNet + SD VAE): {params / 1e6:.0f} M parameters, runtime: "
                f"{fm_runtime.mode}; {fm_params.steps} Euler steps, ensemble {fm_params.ensemble}, processed at "
                f"{fm_params.processing_side} px"
            )
            fm = DepthFmEstimator(fm_dir / "depthfm-v1.ckpt", fm_dir / "vae", device, fm_params, fm_runtime)
            runs.append(
                (
                    "dfm",
                    fm,
                    lambda image: compute_maps(MapSources(image), ["depth"], cache=MapCache(), depth_estimator=fm),
                    lambda image: fm_runtime.call(
                        "bench.model_maps:depth_fm_forward_seconds",
                        str(fm_dir / "depthfm-v1.ckpt"),
                        str(fm_dir / "vae"),
                        device,
                        image,
                        fm_params.processing_side,
                    ),
                )
            )
        print(f"{'size':>6} {'model':<6} {'estimator':>10} {'map':>9} {'forward':>10} {'est/fw':>7} {'map/fw':>7}")
        print(f"{'':>6} {'':<6} {'ms':>10} {'ms':>9} {'ms':>10}")
        worst = 0.0
        for size in sizes:
            image = photo(size)
            for name, estimate, make_map, forward in runs:
                times = measure(
                    lambda estimate=estimate, image=image: estimate(image),
                    lambda make_map=make_map, image=image: make_map(image),
                    lambda forward=forward, image=image: forward(image),
                    args.repeats,
                )
                worst = max(worst, report(size, name, times))
        from lib_garment.runtime import close_all

        close_all()
    print(f"worst ratio {worst:.3f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
