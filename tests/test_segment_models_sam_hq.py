"""SAM-HQ through the production SAM loader: a tiny random checkpoint in the official format, its architecture
read from its tensors, one image embedding for every box, and masks equal to segment-anything-hq's own
predictor on the same weights."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import ModelUnavailable
from lib_garment.models.weights import TrustedFile, explicit_file, load_torch_state
from lib_garment.runtime import InProcessRuntime
from lib_garment.runtime.cache import load_count
from lib_garment.segment.backends.sam import SamSegmenter
from lib_garment.segment.backends.sam_arch import VIT_ARCHS, infer_arch
from tests.test_segment_models_support import garment_photo

pytest.importorskip("segment_anything_hq")

BOXES = np.array([[40.0, 30.0, 120.0, 120.0], [120.0, 90.0, 200.0, 150.0], [10.5, 10.5, 230.0, 170.0]])


@pytest.fixture(scope="module")
def runtime() -> InProcessRuntime:
    # Arguments and results go through pickle as they would to the worker.
    return InProcessRuntime(check_pickling=True)


@pytest.mark.parametrize("name", ["vit_b", "vit_l", "vit_h"])
def test_official_hq_sizes_are_recognised_from_their_shapes(name: str) -> None:
    torch = pytest.importorskip("torch")
    from segment_anything_hq import sam_model_registry

    with torch.device("meta"):  # the real shapes, no memory
        model = sam_model_registry[name]()
    arch = infer_arch(model.state_dict())
    assert arch.family == "sam_hq"
    assert arch.hq
    sizes = VIT_ARCHS[name]
    assert (arch.embed_dim, arch.depth, arch.num_heads, arch.global_attn_indexes) == (
        sizes.embed_dim,
        sizes.depth,
        sizes.num_heads,
        sizes.global_attn_indexes,
    )
    assert arch.name == name


def test_light_hq_sam_loads_and_is_told_apart_from_mobile_sam(runtime: InProcessRuntime, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from segment_anything_hq import sam_model_registry

    # TinyViT has no size knobs (about 10 M parameters), so the real architecture with random weights.
    torch.manual_seed(0)
    path = tmp_path / "sam_hq_vit_tiny.pth"
    torch.save(sam_model_registry["vit_tiny"]().state_dict(), path)
    arch = infer_arch(load_torch_state(explicit_file(path, trust=True)))
    assert (arch.family, arch.name, arch.hq, arch.tiny_vit) == ("sam_hq_tiny", "vit_tiny", True, True)
    sam = SamSegmenter(explicit_file(path, trust=True), runtime, device="cpu")
    image = garment_photo()
    assert sam(image, BOXES[:2]).shape == (2, *image.shape[:2])
    assert sam.model_info["model"] == "Light HQ-SAM"
    assert sam.stats.encodings == 1


def test_the_tiny_hq_checkpoints_architecture_comes_from_its_tensors(tiny_sam_hq) -> None:
    state = load_torch_state(explicit_file(tiny_sam_hq.path, trust=True))
    assert any(key.startswith("mask_decoder.hf_token") for key in state)  # the official format's HQ token
    arch = infer_arch(state)
    assert (arch.family, arch.embed_dim, arch.depth, arch.num_heads, arch.global_attn_indexes) == (
        "sam_hq",
        tiny_sam_hq.encoder_embed_dim,
        tiny_sam_hq.encoder_depth,
        tiny_sam_hq.encoder_num_heads,
        tiny_sam_hq.encoder_global_attn_indexes,
    )


def test_three_boxes_share_one_image_embedding(tiny_sam_hq, runtime: InProcessRuntime, tmp_path: Path) -> None:
    # A copy of its own: resident models are keyed by path, and this test counts loads and encodings.
    path = tmp_path / tiny_sam_hq.path.name
    shutil.copy(tiny_sam_hq.path, path)
    sam = SamSegmenter(explicit_file(path, trust=True), runtime, device="cpu")
    image = garment_photo()
    for box in BOXES:  # as if each phrase's box came in its own call
        masks = sam(image, box[None])
        assert masks.shape == (1, *image.shape[:2])
        assert masks.dtype == bool
    assert sam.stats.calls == 3
    assert sam.stats.encodings == 1
    assert sam(image, BOXES).shape == (3, *image.shape[:2])
    assert sam.stats.encodings == 1
    sam(garment_photo(seed=1), BOXES[:1])  # a different photo: a new embedding (and early feature map)
    assert sam.stats.encodings == 2
    assert sam.model_info["model"] == "SAM-HQ"
    assert sam.model_info["family"] == "sam_hq"
    assert sam.model_info["global_attn_indexes"] == list(tiny_sam_hq.encoder_global_attn_indexes)
    assert load_count(("sam", str(path), "cpu")) == 1


@pytest.mark.parametrize("hq_token_only", [False, True])
def test_masks_match_the_packages_own_predictor(tiny_sam_hq, runtime: InProcessRuntime, hq_token_only: bool) -> None:
    torch = pytest.importorskip("torch")
    from segment_anything_hq import SamPredictor
    from segment_anything_hq.build_sam import _build_sam

    from tests.factories.sam import SAM_VIT_TINY

    image = garment_photo()
    weights = explicit_file(tiny_sam_hq.path, trust=True)
    sam = SamSegmenter(weights, runtime, device="cpu", hq_token_only=hq_token_only)
    masks = sam(image, BOXES)
    # The package's own predictor, on the same weights, box by box. SAM-HQ picks the best-IoU proposal
    # inside its decoder, so each box gives one mask and one score.
    model = _build_sam(**SAM_VIT_TINY)
    model.load_state_dict(torch.load(tiny_sam_hq.path, map_location="cpu"))
    predictor = SamPredictor(model.eval())
    predictor.set_image(image)
    for index, box in enumerate(BOXES):
        proposals, scores, _ = predictor.predict(box=box, multimask_output=True, hq_token_only=hq_token_only)
        assert proposals.shape[0] == 1
        assert sam.last_iou[index] == pytest.approx(scores[0], abs=1e-5)
        assert (masks[index] != proposals[0]).mean() < 1e-3  # batched vs single decoding: float noise only


def test_a_renamed_hq_checkpoint_loads_by_its_tensors(tiny_sam_hq, runtime: InProcessRuntime, tmp_path: Path) -> None:
    renamed = tmp_path / "sam_vit_b_01ec64.pth"  # named like plain SAM, holds SAM-HQ
    shutil.copy(tiny_sam_hq.path, renamed)
    sam = SamSegmenter(TrustedFile(renamed, "test copy"), runtime, device="cpu")
    sam.load()
    assert sam.model_info["model"] == "SAM-HQ"
    assert sam.model_info["embed_dim"] == tiny_sam_hq.encoder_embed_dim


def test_without_the_package_the_file_is_named_and_the_fix_said(
    tiny_sam_hq, runtime: InProcessRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "sam_hq_vit_h.pth"  # a path of its own: nothing resident under this key
    shutil.copy(tiny_sam_hq.path, copy)
    monkeypatch.setitem(sys.modules, "segment_anything_hq", None)  # import fails as if not installed
    sam = SamSegmenter(TrustedFile(copy, "test copy"), runtime, device="cpu")
    with pytest.raises(ModelUnavailable, match=r"sam_hq_vit_h.pth is a SAM-HQ checkpoint.*segment-anything-hq"):
        sam(garment_photo(), BOXES[:1])


def test_a_plain_sam_checkpoint_is_not_taken_for_hq(tiny_sam_vit) -> None:
    arch = infer_arch(load_torch_state(explicit_file(tiny_sam_vit.path, trust=True)))
    assert arch.family == "sam"
    assert not arch.hq


def test_the_sam_hq_choice_maps_to_its_registry_file_and_package() -> None:
    from lib_garment.cli.segment import SAMS
    from lib_garment.models.registry import get_spec
    from lib_garment.segment.backends.assemble import SAM_KINDS, SAM_MODELS, SAM_PACKAGES, ModelChoice

    assert "vit_h_hq" in SAMS
    assert "vit_h_hq" in SAM_KINDS
    assert get_spec(SAM_MODELS["vit_h_hq"]).files[0].name == "sam_hq_vit_h.pth"
    assert SAM_PACKAGES["vit_h_hq"][0] == "segment_anything_hq"
    assert ModelChoice(sam="vit_h_hq").sam == "vit_h_hq"
