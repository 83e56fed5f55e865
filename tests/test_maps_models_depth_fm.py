"""DepthFM (tiny, random, in the published checkpoint format) through the production loader and the runtime.

AUTOMATIC1111's set has no diffusers: DepthFM runs in the model worker (diffusers 0.31.0 in its folder).
Forge's set has Forge's diffusers 0.31.0: in-process, and in the worker when the policy forces it.
"""

from __future__ import annotations

import datetime
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lib_garment.cli import main as cli
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps.cache import MapCache
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.depth_fm import (
    DEPTH_FM_NEAR_IS_HIGH,
    DEPTH_FM_REQUIREMENT,
    DepthFmEstimator,
    DepthFmParams,
    cosine_alpha_bar,
    processing_size,
    read_checkpoint,
)
from lib_garment.maps.depth_models import depth_estimator
from lib_garment.models import registry
from lib_garment.models.safe_pickle import RefusedGlobal
from lib_garment.paths import MODELS_SUBDIR
from lib_garment.runtime import IN_PROCESS, WORKER, get_runtime
from lib_garment.runtime.selection import choose_runtime, host_version
from tests.factories.depth_fm import DEPTH_FM_CLASSES, TINY_LDM_HPARAMS

H, W = 64, 128  # multiples of 64: processed at exactly this size, so the reference needs no resize


def _photo(seed: int = 0, height: int = H, width: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _params(**changes) -> DepthFmParams:
    return replace(DepthFmParams(steps=2, processing_side=max(H, W)), **changes)


def test_depth_fm_runs_where_diffusers_is(tiny_depth_fm) -> None:
    # AUTOMATIC1111 1.10.1 has no diffusers: the worker; Forge (0.31.0): this process.
    expected = IN_PROCESS if host_version("diffusers") is not None else WORKER
    assert get_runtime(DEPTH_FM_REQUIREMENT).mode == expected


@pytest.mark.parametrize("where", ["auto", "worker"])
def test_the_depth_is_the_authors_recipe_on_the_checkpoints_network(tiny_depth_fm, hf_runner, where) -> None:
    photo = _photo(1)
    runtime = get_runtime(DEPTH_FM_REQUIREMENT, policy=where)
    estimator = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params(seed=3), runtime)
    raw = estimator(photo)
    assert raw.values.shape == (H, W)
    assert raw.values.dtype == np.float32
    assert raw.near_is_high is DEPTH_FM_NEAR_IS_HIGH is False  # exp of log depth: distance
    expected = hf_runner.call(
        "tests.factories.depth_fm:reference_depth",
        DEPTH_FM_CLASSES,
        out_dir=str(tiny_depth_fm.path),
        image=photo.tolist(),
        steps=2,
        seed=3,
    ).value
    expected = np.asarray(expected, dtype=np.float32)
    assert np.allclose(raw.values, expected, rtol=1e-4, atol=1e-5 * float(np.abs(expected).max()))


def test_a_depth_is_a_pure_function_of_the_photo_and_the_parameters(tiny_depth_fm) -> None:
    estimator = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params())
    photo = _photo(2)
    first = estimator(photo).values
    assert np.array_equal(estimator(photo).values, first)  # same noise: the map cache may reuse it
    other_seed = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params(seed=1))
    assert not np.array_equal(other_seed(photo).values, first)
    ensemble = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params(ensemble=2))
    assert not np.array_equal(ensemble(photo).values, first)
    assert ensemble.name != estimator.name != other_seed.name  # parameters are part of the cache key


def test_any_photo_size_comes_back_at_the_photos_size(tiny_depth_fm) -> None:
    estimator = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params(processing_side=128))
    raw = estimator(_photo(4, 90, 150))
    assert raw.values.shape == (90, 150)
    assert np.isfinite(raw.values).all()


def test_depth_and_normal_maps_from_depth_fm(tiny_depth_fm) -> None:
    estimator = DepthFmEstimator(tiny_depth_fm.checkpoint, tiny_depth_fm.vae_dir, "cpu", _params())
    maps = compute_maps(MapSources(_photo(5)), ["depth", "normal"], cache=MapCache(), depth_estimator=estimator)
    depth, normal = maps.maps["depth"], maps.maps["normal"]
    assert depth.shape == (H, W)
    assert depth.dtype == np.uint8
    assert depth.max() == 255
    assert depth.min() == 0
    assert normal.shape == (H, W, 3)


def test_processing_size_keeps_the_aspect_in_multiples_of_64() -> None:
    assert processing_size(1024, 768, 768) == (768, 576)
    assert processing_size(3000, 1000, 768) == (768, 256)
    assert processing_size(100, 2000, 768) == (64, 768)  # never below 64
    assert processing_size(128, 64, 128) == (128, 64)


def test_the_noising_follows_the_cosine_schedule() -> None:
    assert cosine_alpha_bar(0) == pytest.approx(1.0, abs=1e-9)
    assert cosine_alpha_bar(500) == pytest.approx(0.5, abs=1e-4)  # tan(pi/4) = 1: equal signal and noise
    assert cosine_alpha_bar(400) == pytest.approx(math.cos(0.2 * math.pi) ** 2, abs=1e-4)
    assert cosine_alpha_bar(1000) < 1e-9


def test_the_unet_description_becomes_sd2s_diffusers_layout() -> None:
    sd21 = {
        **TINY_LDM_HPARAMS,
        "image_size": 32,
        "model_channels": 320,
        "attention_resolutions": [4, 2, 1],
        "num_res_blocks": 2,
        "channel_mult": [1, 2, 4, 4],
        "num_head_channels": 64,
        "context_dim": 1024,
    }
    config = get_runtime(DEPTH_FM_REQUIREMENT).call("lib_garment.maps.depth_fm:unet_config", sd21)
    assert config["in_channels"] == 8  # the flow's state and the image latent
    assert config["block_out_channels"] == [320, 640, 1280, 1280]
    assert config["down_block_types"] == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert config["attention_head_dim"] == [5, 10, 20, 20]  # heads of 64 channels
    assert config["cross_attention_dim"] == 1024
    assert config["use_linear_projection"] is True


def test_the_checkpoint_is_read_by_the_data_only_unpickler(tiny_depth_fm, tmp_path: Path) -> None:
    data = read_checkpoint(tiny_depth_fm.checkpoint, trusted=False)
    assert isinstance(data["empty_text_embedding"], np.ndarray)
    assert data["ldm_hparams"]["in_channels"] == 8
    tampered = tmp_path / "tampered.ckpt"
    torch.save({**data, "made": datetime.date(2024, 3, 20)}, tampered)  # any object outside plain data
    with pytest.raises(RefusedGlobal, match="datetime.date") as refused:
        read_checkpoint(tampered, trusted=False)
    assert refused.value.exit_code == 3
    assert read_checkpoint(tampered, trusted=True)["made"] == datetime.date(2024, 3, 20)
    incomplete = tmp_path / "incomplete.ckpt"
    torch.save({"state_dict": data["state_dict"]}, incomplete)
    with pytest.raises(ModelUnavailable, match="not a DepthFM checkpoint"):
        read_checkpoint(incomplete, trusted=False)


def _without_the_vaes_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry whose SD 1.5 VAE entry knows no hash (its files are data only), so the tiny VAE passes."""
    spec = registry.get_spec("stable-diffusion-v1-5-vae")
    unhashed = replace(spec, files=tuple(replace(f, sha256=None) for f in spec.files))
    monkeypatch.setattr(registry, "MODELS", tuple(unhashed if s is spec else s for s in registry.MODELS))


def _registry_folder(models: Path, tiny_depth_fm) -> None:
    depth = models / MODELS_SUBDIR / "depth"
    depth.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_depth_fm.checkpoint, depth / "depthfm-v1.ckpt")
    shutil.copytree(tiny_depth_fm.vae_dir, depth / "stable-diffusion-v1-5-vae")


def test_depth_fm_is_found_in_the_registry_folder_and_names_what_is_missing(
    tiny_depth_fm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelUnavailable) as missing:
        depth_estimator("depth-fm", models)
    message = str(missing.value)
    assert "depthfm-v1.ckpt" in message
    assert "diffusion_pytorch_model.safetensors" in message  # both named at once
    _registry_folder(models, tiny_depth_fm)
    with pytest.raises(ModelUnavailable, match="a different"):  # the tiny VAE is not SD 1.5's (hash)
        depth_estimator("depth-fm", models)
    _without_the_vaes_hash(monkeypatch)  # the tiny VAE stands in for SD 1.5's
    estimator = depth_estimator("depth-fm", models, device="cpu")
    assert isinstance(estimator, DepthFmEstimator)
    assert estimator.checkpoint == models / MODELS_SUBDIR / "depth" / "depthfm-v1.ckpt"  # no hash, no trust needed


def test_depth_fm_in_the_hugging_face_cache_of_a_diffusers_pipeline_is_reused(
    tiny_depth_fm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry.get_spec("stable-diffusion-v1-5-vae")
    snapshot = tmp_path / "hub" / "models--stable-diffusion-v1-5--stable-diffusion-v1-5" / "snapshots"
    shutil.copytree(tiny_depth_fm.vae_dir, snapshot / spec.hf_revision / "vae")
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    candidates = registry.hf_snapshots(spec, tmp_path / "hub")
    assert candidates == [snapshot / spec.hf_revision / "vae"]


def test_ones_own_checkpoint_file_is_taken_as_depth_fm(tiny_depth_fm, tmp_path: Path, monkeypatch) -> None:
    models = tmp_path / "models"
    _registry_folder(models, tiny_depth_fm)
    (models / MODELS_SUBDIR / "depth" / "depthfm-v1.ckpt").unlink()  # only the VAE in the registry folder
    own = tmp_path / "my-depthfm.ckpt"
    shutil.copy(tiny_depth_fm.checkpoint, own)
    _without_the_vaes_hash(monkeypatch)
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    estimator = depth_estimator(str(own), models, device="cpu")
    assert estimator.checkpoint == own
    assert estimator(_photo(6)).values.shape == (H, W)
    with pytest.raises(BadInput, match="does not exist"):
        depth_estimator(str(tmp_path / "missing.ckpt"), models)


def test_without_diffusers_anywhere_the_message_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as err:
        choose_runtime(
            DEPTH_FM_REQUIREMENT, host=lambda name: None, worker=lambda name: None, worker_folder=tmp_path / "w"
        )
    assert "diffusers" in str(err.value)
    assert "install.py" in str(err.value)


def test_the_maps_command_makes_depth_with_depth_fm(tiny_depth_fm, tmp_path: Path, monkeypatch) -> None:
    models = tmp_path / "models"
    _registry_folder(models, tiny_depth_fm)
    _without_the_vaes_hash(monkeypatch)  # the tiny VAE stands in for SD 1.5's
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(_photo(7)).save(photo)
    out = tmp_path / "out"
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    code = cli.main(
        [
            "maps",
            str(photo),
            "--out",
            str(out),
            "--only",
            "depth,normal",
            "--depth-model",
            "depth-fm",
            "--depth-steps",
            "1",
            "--models-dir",
            str(models),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    depth = np.asarray(Image.open(out / "depth.png"))
    assert depth.shape == (H, W)
    assert (out / "normal.png").is_file()


def test_a_request_with_depth_fm_makes_its_depth_unit_from_it(tiny_depth_fm, tmp_path: Path, monkeypatch) -> None:
    from lib_garment.generate.prepare import prepare
    from lib_garment.models.settings import ModelSettings
    from lib_garment.request import parse_request

    models = tmp_path / "models"
    _registry_folder(models, tiny_depth_fm)
    _without_the_vaes_hash(monkeypatch)  # the tiny VAE stands in for SD 1.5's
    keep = np.zeros((H, W), np.uint8)
    keep[16:48, 32:96] = 255
    env = ModelSettings(models_root=models, offline=True, device="cpu")
    maps = {"depth_model": "depth-fm", "depth_steps": 1, "depth_ensemble": 2}
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "depth"}], "maps": maps})
    prepared = prepare(request, _photo(8), env, mask=keep)
    depth = prepared.maps["depth"]
    assert depth.shape == (H, W)
    assert depth.dtype == np.uint8
    direct = DepthFmEstimator(
        models / MODELS_SUBDIR / "depth" / "depthfm-v1.ckpt",
        models / MODELS_SUBDIR / "depth" / "stable-diffusion-v1-5-vae",
        "cpu",
        DepthFmParams(steps=1, ensemble=2),
    )(_photo(8))
    from lib_garment.maps.depth import normalize_depth

    assert np.array_equal(depth, normalize_depth(direct))  # the request's steps and ensemble reached the model
    with pytest.raises(BadInput, match="depth_steps"):
        parse_request({"maps": {"depth_model": "depth-fm", "depth_steps": 0}})
