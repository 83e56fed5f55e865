"""Depth Anything V2 (Small-shaped, tiny, random) through the production loader and the model runtime.

AUTOMATIC1111's set (transformers 4.30.2) must run it in the model worker; Forge's (4.46.1) in-process, and in
the worker when ``GARMENT_MODEL_RUNTIME``'s policy forces it. Both are exercised in each set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from packaging.version import Version

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.depth import RawDepth
from lib_garment.maps.depth_models import (
    DEPTH_REQUIREMENT,
    DepthAnythingEstimator,
    depth_estimator,
    to_photo_size,
)
from lib_garment.models import registry
from lib_garment.models.store import UnverifiedFile
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.runtime import IN_PROCESS, WORKER, ModelRuntime, get_runtime
from lib_garment.runtime.devices import resolve_device
from lib_garment.runtime.selection import host_version

H, W = 90, 160  # not the processor's aspect: its multiple-of-14 rounding must not leak out


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    smooth = np.dstack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height)])
    return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)


def reference_depth(model_dir: str, image: np.ndarray) -> np.ndarray:
    """transformers' own Auto classes on the same folder: the prediction at the processor's size (runs wherever
    the runtime under test runs it)."""
    import torch
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForDepthEstimation.from_pretrained(model_dir, local_files_only=True).eval()
    with torch.no_grad():
        return model(**processor(images=image, return_tensors="pt")).predicted_depth[0].numpy()


@pytest.fixture(scope="module")
def forced_worker() -> ModelRuntime:
    """The shared model worker, chosen through the policy switch (what GARMENT_MODEL_RUNTIME=worker does).
    Left running for the next module that needs it; the session's end stops it (conftest)."""
    runtime = get_runtime(DEPTH_REQUIREMENT, policy="worker")
    assert runtime.mode == WORKER
    return runtime


def _expected_mode() -> str:
    host = host_version("transformers")
    return IN_PROCESS if host is not None and Version(host) >= Version("4.38") else WORKER


def test_the_runtime_is_chosen_by_the_webuis_transformers(tiny_depth_anything) -> None:
    # AUTOMATIC1111 1.10.1 (4.30.2): the worker; Forge (4.46.1): this process.
    assert get_runtime(DEPTH_REQUIREMENT).mode == _expected_mode()


@pytest.mark.parametrize("where", ["auto", "worker"])
def test_depth_comes_back_as_disparity_at_the_photos_size(
    tiny_depth_anything, forced_worker: ModelRuntime, tmp_path: Path, where: str
) -> None:
    runtime = None if where == "auto" else forced_worker
    estimator = depth_estimator(str(tiny_depth_anything.path), tmp_path, device="cpu", runtime=runtime)
    image = _rgb(H, W)
    raw = estimator(image)
    assert isinstance(raw, RawDepth)
    assert raw.near_is_high
    assert not raw.quantised
    assert raw.values.shape == (H, W)
    assert raw.values.dtype == np.float32
    assert np.isfinite(raw.values).all()
    assert np.ptp(raw.values) > 0
    # transformers' own prediction, resized independently (OpenCV bicubic), tells the same story.
    where_to_run = runtime if runtime is not None else get_runtime(DEPTH_REQUIREMENT)
    predicted = where_to_run.call("tests.test_maps_models_depth:reference_depth", str(tiny_depth_anything.path), image)
    assert predicted.shape != (H, W)  # the model saw another size
    expected = cv2.resize(predicted.astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    span = float(np.ptp(expected))
    assert np.abs(raw.values - expected).max() < 0.05 * span
    assert np.corrcoef(raw.values.ravel(), expected.ravel())[0, 1] > 0.99


def test_the_worker_and_this_process_agree(tiny_depth_anything, forced_worker: ModelRuntime) -> None:
    image = _rgb(64, 48, seed=2)
    auto = DepthAnythingEstimator(tiny_depth_anything.path, "cpu")(image)
    forced = DepthAnythingEstimator(tiny_depth_anything.path, "cpu", forced_worker)(image)
    assert np.allclose(auto.values, forced.values, rtol=1e-4, atol=1e-5 * float(np.abs(auto.values).max()))


def test_the_model_worker_sends_back_the_small_prediction_and_the_caller_resizes_it(tiny_depth_anything) -> None:
    image = _rgb(H, W, seed=6)
    runtime = get_runtime(DEPTH_REQUIREMENT)
    folder = str(tiny_depth_anything.path)
    small = runtime.call("lib_garment.maps.depth_models:predict_depth_anything", image, folder, "cpu")
    assert small.values.shape != (H, W)  # the processor's size: a few hundred KB, not the photo's size
    assert small.values.dtype == np.float32
    estimated = DepthAnythingEstimator(tiny_depth_anything.path, "cpu", runtime)(image)
    assert np.array_equal(estimated.values, to_photo_size(small, W, H).values)
    assert estimated.near_is_high == small.near_is_high
    # The engine function that resizes where the model runs gives the same depth.
    whole = runtime.call("lib_garment.maps.depth_models:estimate_depth_anything", image, folder, "cpu")
    assert np.array_equal(whole.values, estimated.values)


@pytest.mark.parametrize(("width", "height"), [(160, 90), (52, 37), (30, 21), (700, 500)])
def test_the_photo_size_depth_is_torchs_bicubic_interpolation(width: int, height: int) -> None:
    import torch

    rng = np.random.default_rng(4)
    small = rng.normal(size=(37, 52)).astype(np.float32).cumsum(0).cumsum(1)  # smooth, with a slope
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(small)[None, None], size=(height, width), mode="bicubic", align_corners=False
    )[0, 0].numpy()  # what transformers' post-processing does
    resized = to_photo_size(RawDepth(small, near_is_high=False), width, height)
    assert resized.values.shape == (height, width)
    assert resized.values.dtype == np.float32
    assert not resized.near_is_high
    assert np.abs(resized.values - expected).max() <= 1e-5 * float(np.ptp(expected))


def test_depth_and_normal_share_one_estimate_and_the_model_stays_resident(tiny_depth_anything, tmp_path: Path) -> None:
    folder = tmp_path / "own-copy"  # a folder no other test loads, so the load count is this test's alone
    shutil.copytree(tiny_depth_anything.path, folder)
    estimator = DepthAnythingEstimator(folder, "cpu")
    calls: list[int] = []

    class Counting:
        name = estimator.name

        def __call__(self, image: np.ndarray) -> RawDepth:
            calls.append(1)
            return estimator(image)

    cache, image = MapCache(), _rgb(H, W, seed=5)
    maps = compute_maps(MapSources(image), ["depth", "normal"], cache=cache, depth_estimator=Counting()).maps
    assert len(calls) == 1
    assert maps["depth"].shape == (H, W)
    assert maps["depth"].dtype == np.uint8
    assert maps["normal"].shape == (H, W, 3)
    assert maps["normal"].dtype == np.uint8
    again = compute_maps(MapSources(image.copy()), ["depth"], cache=cache, depth_estimator=Counting()).maps
    assert len(calls) == 1
    assert np.array_equal(again["depth"], maps["depth"])
    estimator(_rgb(32, 32))  # another image: the model is not loaded again
    runtime = get_runtime(DEPTH_REQUIREMENT)
    assert runtime.call("lib_garment.runtime.cache:load_count", ("depth-anything", str(folder), "cpu")) == 1


def test_a_folder_of_ones_own(tiny_depth_anything, tmp_path: Path) -> None:
    # safetensors cannot run code: a folder of one's own needs no trust
    assert depth_estimator(str(tiny_depth_anything.path), tmp_path).model_dir == tiny_depth_anything.path
    folder = tmp_path / "mine"
    shutil.copytree(tiny_depth_anything.path, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")  # as if only a pickle were there
    with pytest.raises(UnverifiedFile, match="GARMENT_TRUST_UNVERIFIED"):
        depth_estimator(str(folder), tmp_path, trust_unverified=False)
    assert depth_estimator(str(folder), tmp_path, trust_unverified=True).model_dir == folder
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "dpt"}))
    with pytest.raises(BadInput, match="'dpt' model, not Depth Anything"):
        depth_estimator(str(folder), tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(BadInput, match="no config.json"):
        depth_estimator(str(folder), tmp_path)
    with pytest.raises(BadInput, match="does not exist"):
        depth_estimator(str(tmp_path / "nowhere" / "depth"), tmp_path)
    with pytest.raises(BadInput, match="unknown depth model 'depth-anything-v2-large'"):
        depth_estimator("depth-anything-v2-large", tmp_path)


def test_the_registry_model_is_hash_checked(
    tiny_depth_anything, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    folder = models / MODELS_SUBDIR / "depth" / "Depth-Anything-V2-Small-hf"
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # a copy in this machine's hub cache would be used
    with pytest.raises(ModelUnavailable) as missing:
        depth_estimator("depth-anything-v2-small", models)
    assert "model.safetensors" in str(missing.value)
    assert str(folder) in str(missing.value)
    shutil.copytree(tiny_depth_anything.path, folder)  # the tiny files under the registry's names
    with pytest.raises(ModelUnavailable, match="a different"):
        depth_estimator("depth-anything-v2-small", models)
    # A registry that knows the tiny files' hashes (standing in for the real one) lets the same lookup through.
    spec = registry.get_spec("Depth-Anything-V2-Small-hf")
    tiny_files = tuple(
        replace(f, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        for f, data in ((f, (folder / f.name).read_bytes()) for f in spec.files)
    )
    test_registry = tuple(replace(s, files=tiny_files) if s is spec else s for s in registry.MODELS)
    monkeypatch.setattr(registry, "MODELS", test_registry)
    assert depth_estimator("depth-anything-v2-small", models).model_dir == folder


def test_cuda_where_there_is_none_is_a_missing_component() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(BadInput, match="cpu, cuda or cuda:N"):
        DepthAnythingEstimator(Path("x"), "gpu")
    assert resolve_device(None) == "cpu"


class _Recording:
    """A runtime that notes the size of each image it is handed, then runs the call where ``inner`` would."""

    def __init__(self, inner: ModelRuntime) -> None:
        self.inner, self.sizes = inner, []

    def call(self, target: str, image: np.ndarray, *args: object, **kwargs: object) -> object:
        self.sizes.append(image.shape[:2])
        return self.inner.call(target, image, *args, **kwargs)


def test_a_large_photo_crosses_to_the_model_as_a_bounded_copy(tiny_depth_anything) -> None:
    from lib_garment.maps.scale import MODEL_COPY_MAX_SIDE, model_copy

    width, height = MODEL_COPY_MAX_SIDE * 2, MODEL_COPY_MAX_SIDE + 100
    image = cv2.resize(_rgb(90, 160, seed=7), (width, height), interpolation=cv2.INTER_LINEAR)
    runtime = _Recording(get_runtime(DEPTH_REQUIREMENT))
    estimated = DepthAnythingEstimator(tiny_depth_anything.path, "cpu", runtime)(image)
    assert runtime.sizes == [(round((MODEL_COPY_MAX_SIDE + 100) / 2), MODEL_COPY_MAX_SIDE)]
    assert estimated.values.shape == (height, width)  # still the photo's size for the maps
    small, to_x, to_y = model_copy(image)
    assert (to_x, to_y) == (2.0, (MODEL_COPY_MAX_SIDE + 100) / small.shape[0])
    raw = get_runtime(DEPTH_REQUIREMENT).call(
        "lib_garment.maps.depth_models:predict_depth_anything", small, str(tiny_depth_anything.path), "cpu"
    )
    assert np.array_equal(estimated.values, to_photo_size(raw, width, height).values)
    assert model_copy(small)[0] is small  # within the bound: the image itself, no copy
