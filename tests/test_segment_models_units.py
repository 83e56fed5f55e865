"""The backends' model-free parts: phrase token spans, scores → detections, GroundingDINO's input size, SAM's
architecture from tensor shapes, and which checkpoint files may be unpickled."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.models.registry import ModelFile, get_spec
from lib_garment.models.verify import UnverifiedFile
from lib_garment.models.weights import TrustedFile, explicit_file, load_torch_state, unwrap_state, user_file
from lib_garment.segment.backends.grounding import detections_from_scores, phrase_token_spans, to_detections
from lib_garment.segment.backends.grounding_dino_py import inference_size
from lib_garment.segment.backends.sam import SamSegmenter, image_key
from lib_garment.segment.backends.sam_arch import VIT_ARCHS, SamArch, infer_arch
from lib_garment.segment.phrases import caption


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import BertTokenizerFast

    from tests.factories.grounding_dino import bert_vocab_file

    return BertTokenizerFast(vocab_file=str(bert_vocab_file()), do_lower_case=True)


# -- phrases → token spans -------------------------------------------------------------------------------------


def test_each_phrase_owns_its_tokens_in_the_caption(tokenizer) -> None:
    phrases = ("white t-shirt", "belt", "denim jacket")
    spans = phrase_token_spans(tokenizer.tokenize, phrases)
    ids = tokenizer(caption(phrases))["input_ids"]
    words = [tokenizer.decode(ids[start:end]) for start, end in spans]
    assert words == ["white t - shirt", "belt", "denim jacket"]
    # Between and after the phrases: the "." separators, then [SEP].
    assert [tokenizer.decode([ids[end]]) for _, end in spans] == [".", ".", "."]
    assert ids[spans[-1][1] + 1] == tokenizer.sep_token_id


def test_phrases_longer_than_groundingdino_reads_are_refused(tokenizer) -> None:
    with pytest.raises(BadInput, match="at most 256"):
        phrase_token_spans(tokenizer.tokenize, tuple(f"garment number {i}" for i in range(90)))


# -- scores → detections ---------------------------------------------------------------------------------------


def test_each_box_gets_the_phrase_of_its_best_token_and_pixel_corners() -> None:
    spans = [(1, 3), (4, 5)]  # "red shirt" = tokens 1, 2; "belt" = token 4
    probabilities = np.zeros((3, 8))
    probabilities[0, [1, 2, 4]] = [0.3, 0.6, 0.5]  # → red shirt, 0.6
    probabilities[1, [2, 4, 7]] = [0.2, 0.45, 0.9]  # best token is [SEP] (7): score 0.9, phrase belt at 0.45
    probabilities[2, [1, 4]] = [0.2, 0.3]  # below the box threshold
    boxes = np.array([[0.5, 0.5, 0.5, 0.25], [0.25, 0.75, 0.1, 0.1], [0.5, 0.5, 1.0, 1.0]])
    found = detections_from_scores(probabilities, boxes, spans, ["red shirt", "belt"], 200, 100, 0.35, 0.25)
    assert [d["phrase"] for d in found] == ["belt", "red shirt"]  # highest score first
    belt, shirt = to_detections(found)
    assert (belt.score, belt.text_score) == (pytest.approx(0.9), pytest.approx(0.45))
    assert shirt.box.as_tuple() == pytest.approx((50.0, 37.5, 150.0, 62.5))  # cxcywh × (w, h, w, h) → corners
    assert belt.box.as_tuple() == pytest.approx((40.0, 70.0, 60.0, 80.0))
    # The text threshold applies to the phrase's own best token.
    only = detections_from_scores(probabilities, boxes, spans, ["red shirt", "belt"], 200, 100, 0.35, 0.5)
    assert [d["phrase"] for d in only] == ["red shirt"]


def test_thresholds_are_strict_and_spans_past_the_scores_are_ignored() -> None:
    probabilities = np.array([[0.0, 0.35, 0.0]])
    boxes = np.array([[0.5, 0.5, 0.2, 0.2]])
    assert detections_from_scores(probabilities, boxes, [(1, 2)], ["a"], 10, 10, 0.35, 0.0) == []
    assert len(detections_from_scores(probabilities, boxes, [(1, 2)], ["a"], 10, 10, 0.34, 0.0)) == 1
    # A phrase whose tokens were cut off (beyond the model's text length) never wins.
    found = detections_from_scores(probabilities, boxes, [(1, 2), (5, 7)], ["a", "b"], 10, 10, 0.0, 0.0)
    assert [d["phrase"] for d in found] == ["a"]


# -- GroundingDINO's input size ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(300, 200), (1024, 683), (683, 1024), (2000, 500), (800, 800), (1333, 1000)])
def test_the_inference_size_is_the_packages_own(size: tuple[int, int]) -> None:
    from PIL import Image

    gd_transforms = pytest.importorskip("groundingdino.datasets.transforms")
    resized, _ = gd_transforms.resize(Image.new("RGB", size), None, 800, 1333)
    assert inference_size(*size) == resized.size


# -- SAM architecture from shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vit_b", "vit_l", "vit_h"])
def test_meta_built_sam_sizes_are_recognised_from_their_shapes(name: str) -> None:
    torch = pytest.importorskip("torch")
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # the real shapes, no memory
        model = sam_model_registry[name]()
    arch = infer_arch(model.state_dict())
    assert arch == VIT_ARCHS[name]
    assert arch.name == name


def test_the_tiny_checkpoints_architecture_comes_from_its_tensors(tiny_sam_vit, tiny_mobile_sam) -> None:
    state = load_torch_state(explicit_file(tiny_sam_vit.path, trust=True))
    arch = infer_arch(state)
    assert (arch.family, arch.embed_dim, arch.depth, arch.num_heads) == (
        "sam",
        tiny_sam_vit.encoder_embed_dim,
        tiny_sam_vit.encoder_depth,
        tiny_sam_vit.encoder_num_heads,
    )
    assert arch.global_attn_indexes == tiny_sam_vit.encoder_global_attn_indexes
    assert arch.name.startswith("vit(dim=32")  # not one of Meta's sizes, and says so
    mobile = infer_arch(load_torch_state(explicit_file(tiny_mobile_sam.path, trust=True)))
    assert mobile == SamArch("mobile_sam")
    assert mobile.name == "vit_t"


def test_sam_hq_and_foreign_checkpoints_are_told_apart() -> None:
    shape = argparse.Namespace  # anything with .shape does: only shapes are read
    hq = {
        "image_encoder.patch_embed.proj.weight": shape(shape=(32, 3, 16, 16)),
        "image_encoder.blocks.0.attn.rel_pos_h": shape(shape=(27, 16)),
        "mask_decoder.hf_token.weight": shape(shape=(1, 256)),
    }
    assert infer_arch(hq).family == "sam_hq"
    with pytest.raises(ModelUnavailable, match="not a SAM checkpoint"):
        infer_arch({"backbone.conv.weight": shape(shape=(8, 3, 3, 3))}, "detector.pth")
    odd = {**hq, "image_encoder.blocks.1.attn.rel_pos_h": shape(shape=(41, 16))}
    del odd["mask_decoder.hf_token.weight"]
    with pytest.raises(ModelUnavailable, match="neither 14 nor 64"):
        infer_arch(odd)


# -- which files may be unpickled ----------------------------------------------------------------------------------


def test_pickle_checkpoints_need_verification_or_explicit_trust(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "weights.pth"
    torch.save({"model": {"module.layer.weight": torch.ones(2)}}, path)
    with pytest.raises(UnverifiedFile):
        explicit_file(path, trust=False)
    with pytest.raises(TypeError):
        load_torch_state(path)  # type: ignore[arg-type] - a bare path is never unpickled
    with pytest.raises(TypeError):
        SamSegmenter(path, runtime=None)  # type: ignore[arg-type]
    state = load_torch_state(explicit_file(path, trust=True))
    assert list(state) == ["layer.weight"]  # the training wrapper and DataParallel prefix are gone


def test_a_checkpoint_with_python_objects_loads_in_full_once_trusted(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "training.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "args": argparse.Namespace(lr=0.1)}, path)
    assert list(load_torch_state(TrustedFile(path, "test"))) == ["w"]
    with pytest.raises(ModelUnavailable, match="no state dict"):
        unwrap_state({}, path)


def test_a_users_file_of_any_name_is_trusted_when_it_is_a_registry_file(tmp_path: Path) -> None:
    path = tmp_path / "my favourite sam.pth"
    path.write_bytes(b"pretend checkpoint bytes")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    known = dataclasses.replace(
        get_spec("sam_vit_b"),
        files=(ModelFile("sam_vit_b_01ec64.pth", ("https://x.invalid",), digest, path.stat().st_size),),
    )
    trusted = user_file(path, "sam", tmp_path, models=(known,))
    assert "sam_vit_b" in trusted.basis
    with pytest.raises(UnverifiedFile, match="GARMENT_TRUST_UNVERIFIED"):
        user_file(path, "sam", tmp_path, trust_unverified=False)  # the real registry: no such file
    assert user_file(path, "sam", tmp_path, trust_unverified=True).basis.startswith("unverified")
    with pytest.raises(ModelUnavailable, match="does not exist"):
        user_file(tmp_path / "missing.pth", "sam", tmp_path)


def test_the_image_key_follows_pixels_and_shape() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    assert image_key(image) == image_key(image.copy())
    changed = image.copy()
    changed[0, 0, 0] = 1
    assert image_key(changed) != image_key(image)
    assert image_key(image.reshape(6, 4, 3)) != image_key(image)
    assert image_key(image[:, ::2]) == image_key(np.ascontiguousarray(image[:, ::2]))
