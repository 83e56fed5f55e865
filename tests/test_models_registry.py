"""The registry's own promises: well-formed entries, pinned sources, safe defaults, clear search paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lib_garment.errors import BadInput
from lib_garment.models.registry import (
    MODELS,
    ModelFile,
    candidates,
    get_spec,
    hf_hub_cache,
    hf_snapshots,
    install_path,
    locate,
    search_folders,
)
from lib_garment.models.verify import is_data_only

HEX64 = re.compile(r"[0-9a-f]{64}")
HF_PINNED = re.compile(r"https://huggingface\.co/[^/]+/[^/]+/resolve/[0-9a-f]{40}/")


def test_names_are_unique_and_every_file_is_well_formed() -> None:
    assert len({s.name for s in MODELS}) == len(MODELS)
    for spec in MODELS:
        assert spec.files, spec.name
        assert len(set(spec.file_names)) == len(spec.files), spec.name
        for model_file in spec.files:
            assert model_file.sha256 is None or HEX64.fullmatch(model_file.sha256), model_file.name
            assert model_file.size is None or model_file.size > 0
            assert all(url.startswith("https://") for url in model_file.urls), model_file.name


def test_default_models_load_no_pickle_without_a_known_hash() -> None:
    """Out of the box, nothing that can run code on load is used unverified."""
    for spec in (s for s in MODELS if s.default):
        for model_file in spec.files:
            assert model_file.sha256 is not None or is_data_only(model_file.name), (spec.name, model_file.name)


def test_default_models_are_licensed_for_commercial_use() -> None:
    for spec in (s for s in MODELS if s.default):
        assert not re.search(r"\bNC\b|non-commercial|noncommercial", spec.licence, re.IGNORECASE), spec.name
    depth = [s for s in MODELS if s.family == "depth"]
    assert [s.name for s in depth if s.default] == ["Depth-Anything-V2-Small-hf"]
    for spec in depth:  # Depth Anything Base/Large are non-commercial: never registered
        assert "Base" not in spec.name
        assert "Large" not in spec.name
        assert not re.search(r"\bNC\b|non-commercial", spec.licence, re.IGNORECASE), spec.name


def test_every_family_the_pipeline_needs_has_a_default() -> None:
    assert {s.family for s in MODELS if s.default} >= {"grounding-dino", "sam", "matting", "depth", "pose", "restore"}


def test_hugging_face_folders_are_pinned_to_a_commit() -> None:
    for spec in (s for s in MODELS if s.is_dir):
        assert re.fullmatch(r"[0-9a-f]{40}", spec.hf_revision or ""), spec.name
        for model_file in spec.files:
            assert HF_PINNED.match(model_file.urls[0]), model_file.urls[0]
            assert f"/resolve/{spec.hf_revision}/" in model_file.urls[0]


def test_the_requested_models_are_registered() -> None:
    expected = {
        "groundingdino_swint_ogc": "groundingdino_swint_ogc.pth",
        "sam_vit_b": "sam_vit_b_01ec64.pth",
        "sam_vit_l": "sam_vit_l_0b3195.pth",
        "sam_vit_h": "sam_vit_h_4b8939.pth",
        "mobile_sam": "mobile_sam.pt",
        "yolov8n-pose": "yolov8n-pose.pt",
        "yolov8s-pose": "yolov8s-pose.pt",
        "face_yolov8n": "face_yolov8n.pt",
        "face_yolov8s": "face_yolov8s.pt",
        "hand_yolov8n": "hand_yolov8n.pt",
    }
    for name, file_name in expected.items():
        assert get_spec(name).file_names == (file_name,)
    for name in (
        "bert-base-uncased",
        "grounding-dino-tiny",
        "vitmatte-small-composition-1k",
        "Depth-Anything-V2-Small-hf",
    ):
        spec = get_spec(name)
        assert spec.is_dir
        assert "config.json" in spec.file_names
        assert "model.safetensors" in spec.file_names
    assert {"vocab.txt", "tokenizer_config.json"} <= set(get_spec("bert-base-uncased").file_names)


def test_sizes_add_up_when_known() -> None:
    sam = get_spec("sam_vit_b")
    assert all(f.size is not None for f in sam.files)
    assert sam.size == sum(f.size for f in sam.files)
    several = get_spec("vitmatte-small-composition-1k")  # three files, all sizes recorded
    assert len(several.files) > 1
    assert several.size == sum(f.size for f in several.files)
    grounding = get_spec("grounding-dino-tiny")
    assert any(f.size is None for f in grounding.files)  # its small files have no recorded size
    assert grounding.size is None


def test_unknown_names_are_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown model 'nope'"):
        get_spec("nope")


def test_model_files_reject_malformed_hashes() -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        ModelFile("x.pth", ("https://example.invalid/x.pth",), "ABC")
    with pytest.raises(ValueError, match="at least one URL"):
        ModelFile("x.pth", ())


def test_search_folders_put_ours_first_then_other_extensions(tmp_path: Path) -> None:
    assert search_folders(get_spec("sam_vit_b"), tmp_path) == [tmp_path / "garment_studio" / "sam", tmp_path / "sam"]
    assert search_folders(get_spec("face_yolov8n"), tmp_path) == [
        tmp_path / "garment_studio" / "yolo",
        tmp_path / "adetailer",
    ]
    assert search_folders(get_spec("groundingdino_swint_ogc"), tmp_path)[1] == tmp_path / "grounding-dino"
    extra = tmp_path / "elsewhere"
    assert search_folders(get_spec("sam_vit_b"), tmp_path, [extra])[-1] == extra


def test_install_paths(tmp_path: Path) -> None:
    assert install_path(get_spec("sam_vit_b"), tmp_path) == tmp_path / "garment_studio/sam/sam_vit_b_01ec64.pth"
    assert install_path(get_spec("vitmatte-small-composition-1k"), tmp_path) == (
        tmp_path / "garment_studio/vitmatte/vitmatte-small-composition-1k"
    )


def test_locate_needs_every_file_of_a_folder_model(tmp_path: Path) -> None:
    spec = get_spec("Depth-Anything-V2-Small-hf")
    folder = install_path(spec, tmp_path)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert locate(spec, tmp_path) is None
    for name in spec.file_names:
        (folder / name).write_text("{}")
    assert locate(spec, tmp_path) == folder


def test_the_hugging_face_cache_is_found_like_huggingface_hub_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hf_hub_cache() == tmp_path / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hf_hub_cache() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hf_hub_cache() == tmp_path / "cache"


def test_hub_snapshots_prefer_the_pinned_commit_and_know_the_old_repo_name(tmp_path: Path) -> None:
    spec = get_spec("bert-base-uncased")
    old = tmp_path / "models--bert-base-uncased" / "snapshots"
    for revision in ("0" * 40, spec.hf_revision):
        assert revision is not None
        (old / revision).mkdir(parents=True)
    found = hf_snapshots(spec, tmp_path)
    assert found == [old / str(spec.hf_revision), old / ("0" * 40)]
    assert [c.path for c in candidates(spec, tmp_path / "models", hub_cache=tmp_path)][-2:] == found
