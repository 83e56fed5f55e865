"""GroundingDINO through the production loaders, checked against each library's own inference code on the same
tiny random models: groundingdino-py's ``predict`` and transformers' ``post_process_grounded_object_detection``.

Random weights make the detections arbitrary (and their scores saturate), so the checks are about plumbing:
boxes in the working image's pixels, scores and counts equal to the reference, phrases from the request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from packaging.version import Version

from lib_garment.errors import ModelUnavailable
from lib_garment.models.weights import explicit_file
from lib_garment.runtime import InProcessRuntime, get_runtime
from lib_garment.segment.backends.grounding_dino_hf import REQUIREMENT, GroundingDinoHF
from lib_garment.segment.backends.grounding_dino_py import GroundingDinoPy, GroundingDinoPyFiles
from lib_garment.segment.phrases import caption, parse_phrases
from tests.test_segment_models_support import PHRASES, garment_photo

PHRASE_TUPLE = parse_phrases(PHRASES)


def _sorted_boxes(boxes: np.ndarray) -> np.ndarray:
    return boxes[np.lexsort(boxes.T[::-1])]


@pytest.fixture(scope="module")
def gd_files(tiny_groundingdino_py) -> GroundingDinoPyFiles:
    return GroundingDinoPyFiles(
        tiny_groundingdino_py.config_path,
        explicit_file(tiny_groundingdino_py.checkpoint_path, trust=True),
        tiny_groundingdino_py.bert_dir,
    )


def test_groundingdino_py_matches_the_packages_predict(gd_files: GroundingDinoPyFiles, tiny_groundingdino_py) -> None:
    pytest.importorskip("groundingdino")
    import groundingdino.datasets.transforms as gd_transforms
    import torch
    from groundingdino.util.inference import predict
    from PIL import Image

    from lib_garment.runtime.cache import cached_model

    image = garment_photo()
    height, width = image.shape[:2]
    # Asked at the image's own short side, both sides feed the model the same pixels (no resampling).
    detector = GroundingDinoPy(gd_files, InProcessRuntime(check_pickling=True), device="cpu", short_side=height)
    found = list(detector(image, PHRASE_TUPLE, 0.0, 0.0))
    assert len(found) == tiny_groundingdino_py.num_queries  # threshold 0: every query
    assert {d.phrase for d in found} <= set(PHRASE_TUPLE)
    assert detector.stats.load_s > 0
    assert detector.model_info["num_queries"] == tiny_groundingdino_py.num_queries

    key = ("groundingdino-py", str(gd_files.config), str(gd_files.checkpoint.path), str(gd_files.bert_dir), "cpu")
    model = cached_model(key, lambda: pytest.fail("the detector's model should be resident"))
    transform = gd_transforms.Compose(
        [
            gd_transforms.RandomResize([height], max_size=1333),
            gd_transforms.ToTensor(),
            gd_transforms.Normalize(*_imagenet()),
        ]
    )
    pixels, _ = transform(Image.fromarray(image), None)
    boxes, scores, labels = predict(model, pixels, caption(PHRASE_TUPLE), 0.0, 0.0, device="cpu")
    expected = boxes.numpy().astype(np.float64) * [width, height, width, height]
    corners = np.stack(
        [expected[:, 0] - expected[:, 2] / 2, expected[:, 1] - expected[:, 3] / 2,
         expected[:, 0] + expected[:, 2] / 2, expected[:, 1] + expected[:, 3] / 2], axis=1,
    )  # fmt: skip
    ours = np.array([d.box.as_tuple() for d in found])
    np.testing.assert_allclose(_sorted_boxes(ours), _sorted_boxes(corners), atol=1e-3)
    np.testing.assert_allclose(sorted(d.score for d in found), sorted(scores.tolist()), atol=1e-5)
    assert torch.is_tensor(boxes)
    assert len(labels) == len(found)


def _imagenet() -> tuple[list[float], list[float]]:
    return [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def test_a_checkpoint_for_another_config_is_refused(gd_files: GroundingDinoPyFiles, tmp_path: Path) -> None:
    pytest.importorskip("groundingdino")
    from tests.factories.grounding_dino import tiny_config_text

    other = tmp_path / "GroundingDINO_other.py"
    other.write_text(tiny_config_text(str(gd_files.bert_dir), {"dec_layers": 3}), encoding="utf-8")
    files = GroundingDinoPyFiles(other, gd_files.checkpoint, gd_files.bert_dir)
    with pytest.raises(ModelUnavailable, match="does not fit GroundingDINO_other.py"):
        GroundingDinoPy(files, InProcessRuntime(), device="cpu").load()


def test_transformers_groundingdino_matches_its_post_processing(tiny_groundingdino_hf) -> None:
    # In-process on Forge (transformers 4.46), in the model worker on AUTOMATIC1111 (4.30).
    runtime = get_runtime(REQUIREMENT)
    image = garment_photo()
    detector = GroundingDinoHF(tiny_groundingdino_hf.path, runtime, device="cpu")
    found = list(detector(image, PHRASE_TUPLE, 0.0, 0.0))
    assert len(found) == tiny_groundingdino_hf.num_queries
    assert {d.phrase for d in found} <= set(PHRASE_TUPLE)
    assert Version(detector.model_info["transformers"]) >= Version("4.40")
    reference = runtime.call(
        "tests.test_segment_models_support:reference_hf_detection", str(tiny_groundingdino_hf.path), image,
        caption(PHRASE_TUPLE),
    )  # fmt: skip
    ours = np.array([d.box.as_tuple() for d in found])
    np.testing.assert_allclose(_sorted_boxes(ours), _sorted_boxes(reference["boxes"].astype(np.float64)), atol=1e-2)
    np.testing.assert_allclose(sorted(d.score for d in found), sorted(reference["scores"].tolist()), atol=1e-5)


def test_deformable_attention_sampled_in_slices_is_the_packages(
    gd_files: GroundingDinoPyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the detector swaps groundingdino's CPU deformable attention for the query-sliced one
    (lean_attention), once; sliced, its output is bit for bit the package's."""
    pytest.importorskip("groundingdino")
    import torch
    from groundingdino.models.GroundingDINO import ms_deform_attn

    from lib_garment.segment.backends import lean_attention

    GroundingDinoPy(gd_files, InProcessRuntime(), device="cpu").load()
    swapped = ms_deform_attn.multi_scale_deformable_attn_pytorch
    original = swapped.garment_original
    assert lean_attention.lean_deformable_attention() is False  # already swapped: never wrapped twice

    generator = torch.Generator().manual_seed(11)
    shapes = torch.tensor([[8, 10], [4, 5], [2, 3]])
    heads, dims, levels, points, queries = 4, 8, 3, 2, 30
    value = torch.randn(2, int((shapes[:, 0] * shapes[:, 1]).sum()), heads, dims, generator=generator)
    locations = torch.rand(2, queries, heads, levels, points, 2, generator=generator)
    weights = torch.rand(2, queries, heads, levels, points, generator=generator).softmax(-1)
    monkeypatch.setattr(lean_attention, "DEFORMABLE_QUERIES", 7)  # 30 queries: five slices, the last short
    sliced = swapped(value, shapes, locations, weights)
    assert sliced.shape == (2, queries, heads * dims)
    assert torch.equal(sliced, original(value, shapes, locations, weights))
