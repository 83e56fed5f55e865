"""SAM through the production loader: tiny random segment-anything and MobileSAM checkpoints, the image embedding
computed once per image, the best-IoU mask of SAM's three proposals, and the model loaded once per process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import ModelUnavailable
from lib_garment.models.weights import TrustedFile, explicit_file
from lib_garment.runtime import InProcessRuntime
from lib_garment.runtime.cache import load_count
from lib_garment.segment.backends.sam import SamSegmenter
from tests.test_segment_models_support import garment_photo

pytest.importorskip("segment_anything")

BOXES = np.array([[40.0, 30.0, 120.0, 120.0], [120.0, 90.0, 200.0, 150.0], [10.5, 10.5, 230.0, 170.0]])


@pytest.fixture(scope="module")
def runtime() -> InProcessRuntime:
    # Arguments and results go through pickle as they would to the worker.
    return InProcessRuntime(check_pickling=True)


def test_three_phrases_boxes_share_one_image_embedding(tiny_sam_vit, runtime: InProcessRuntime) -> None:
    sam = SamSegmenter(explicit_file(tiny_sam_vit.path, trust=True), runtime, device="cpu")
    image = garment_photo()
    for box in BOXES:  # as if each phrase's box came in its own call
        masks = sam(image, box[None])
        assert masks.shape == (1, *image.shape[:2])
        assert masks.dtype == bool
    assert sam.stats.calls == 3
    assert sam.stats.encodings == 1
    all_at_once = sam(image, BOXES)
    assert all_at_once.shape == (3, *image.shape[:2])
    assert sam.stats.encodings == 1
    sam(garment_photo(seed=1), BOXES[:1])  # a different photo: a new embedding
    assert sam.stats.encodings == 2
    assert sam.model_info["arch"].startswith("vit(dim=32")
    assert sam.model_info["global_attn_indexes"] == [1]
    key = ("sam", str(tiny_sam_vit.path), "cpu")
    assert load_count(key) == 1  # five calls, one load
    assert sam.stats.model_s > 0
    assert sam.stats.wall_s >= sam.stats.total_s >= sam.stats.model_s


def test_the_mask_is_the_proposal_with_the_best_predicted_iou(tiny_sam_vit, runtime: InProcessRuntime) -> None:
    torch = pytest.importorskip("torch")
    from segment_anything import SamPredictor
    from segment_anything.build_sam import _build_sam

    from tests.factories.sam import SAM_VIT_TINY

    image = garment_photo()
    sam = SamSegmenter(explicit_file(tiny_sam_vit.path, trust=True), runtime, device="cpu")
    masks = sam(image, BOXES)
    # The library's own predictor, on the same weights, box by box.
    model = _build_sam(**SAM_VIT_TINY)
    model.load_state_dict(torch.load(tiny_sam_vit.path, map_location="cpu"))
    predictor = SamPredictor(model.eval())
    predictor.set_image(image)
    for index, box in enumerate(BOXES):
        proposals, scores, _ = predictor.predict(box=box, multimask_output=True)
        best = int(np.argmax(scores))
        assert sam.last_iou[index] == pytest.approx(scores[best], abs=1e-5)
        assert (masks[index] != proposals[best]).mean() < 1e-3  # batched vs single decoding: float noise only


def test_mobile_sam_loads_through_the_same_loader(tiny_mobile_sam, runtime: InProcessRuntime) -> None:
    pytest.importorskip("mobile_sam")
    sam = SamSegmenter(explicit_file(tiny_mobile_sam.path, trust=True), runtime, device="cpu")
    image = garment_photo()
    masks = sam(image, BOXES[:2])
    assert masks.shape == (2, *image.shape[:2])
    assert sam.model_info["model"] == "MobileSAM"
    assert sam.model_info["arch"] == "vit_t"
    assert sam.stats.encodings == 1


def test_a_checkpoint_works_whatever_its_name(tiny_sam_vit, runtime: InProcessRuntime, tmp_path: Path) -> None:
    renamed = tmp_path / "sam_vit_h_4b8939.pth"  # named like vit_h, holds the tiny encoder
    shutil.copy(tiny_sam_vit.path, renamed)
    sam = SamSegmenter(TrustedFile(renamed, "test copy"), runtime, device="cpu")
    sam.load()
    assert sam.model_info["embed_dim"] == tiny_sam_vit.encoder_embed_dim
    assert sam.model_info["checkpoint_basis"] == "test copy"


def test_weights_that_are_not_sam_are_refused_with_the_file_named(tmp_path: Path, runtime: InProcessRuntime) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "not_sam.pth"
    torch.save({"backbone.weight": torch.zeros(3)}, path)
    sam = SamSegmenter(explicit_file(path, trust=True), runtime, device="cpu")
    with pytest.raises(ModelUnavailable, match="not_sam.pth is not a SAM checkpoint"):
        sam(garment_photo(), BOXES[:1])


def test_global_attention_runs_head_by_head_and_gives_the_packages_embedding(tiny_sam_vit, tmp_path: Path) -> None:
    """The loader swaps the global blocks' attention for the head-by-head one (lean_global_attention); the
    embedding must stay bit for bit the package's, relative positions included (random here, zero in the file)."""
    torch = pytest.importorskip("torch")
    from segment_anything.build_sam import _build_sam

    from lib_garment.segment.backends import sam as sam_backend
    from lib_garment.segment.backends.lean_attention import _sam_forward
    from lib_garment.segment.backends.sam_arch import infer_arch

    state = torch.load(tiny_sam_vit.path, map_location="cpu")
    generator = torch.Generator().manual_seed(3)
    for key in [k for k in state if ".rel_pos_" in k]:
        state[key] = torch.randn(state[key].shape, generator=generator) * 0.5
    path = tmp_path / "sam_rel_pos.pth"
    torch.save(state, path)

    built = sam_backend._build(TrustedFile(path, "test"), "cpu").model
    reference = _build_sam(**infer_arch(state, str(path)).build_kwargs()).eval()
    reference.load_state_dict(state)
    lean = [i for i, block in enumerate(built.image_encoder.blocks) if block.attn.forward.__func__ is _sam_forward]
    assert lean == list(tiny_sam_vit.encoder_global_attn_indexes)

    image = torch.randn(1, 3, 1024, 1024, generator=generator)
    with torch.no_grad():
        assert torch.equal(built.image_encoder(image), reference.image_encoder(image))
