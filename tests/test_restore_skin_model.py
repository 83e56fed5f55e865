"""The optional FCN-ResNet101 skin model: the trust rules for the user's file, key and shape checks, and one real-size
random model through the production loader (built in well under a second on CPU, so it is tested for real)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput
from lib_garment.models.store import UnverifiedFile
from lib_garment.restore.skin import skin_mask
from lib_garment.restore.skin_model import (
    FcnSkinModel,
    build_fcn,
    check_fcn_state,
    skin_model_from_file,
)
from lib_garment.runtime import InProcessRuntime


class Shaped:
    """A stand-in tensor: only its shape matters to the checks."""

    def __init__(self, *shape: int) -> None:
        self.shape = shape


EXPECTED = {
    "backbone.conv1.weight": (64, 3, 7, 7),
    "backbone.bn1.num_batches_tracked": (),
    "classifier.4.weight": (2, 512, 1, 1),
    "classifier.4.bias": (2,),
}


def test_a_state_with_the_right_keys_and_shapes_passes() -> None:
    state = {k: Shaped(*v) for k, v in EXPECTED.items()}
    check_fcn_state(state, EXPECTED, "skin.safetensors")
    del state["backbone.bn1.num_batches_tracked"]  # BatchNorm bookkeeping may be absent
    check_fcn_state(state, EXPECTED, "skin.safetensors")


def test_missing_and_unexpected_keys_are_named() -> None:
    state = {k: Shaped(*v) for k, v in EXPECTED.items() if k != "classifier.4.bias"}
    state["decoder.head.weight"] = Shaped(1)
    with pytest.raises(BadInput, match=r"not an FCN-ResNet101 skin model") as err:
        check_fcn_state(state, EXPECTED, "skin.pth")
    assert "1 missing (e.g. classifier.4.bias)" in str(err.value)
    assert "1 unexpected (e.g. decoder.head.weight)" in str(err.value)


def test_a_21_class_checkpoint_is_told_apart_from_a_skin_model() -> None:
    state = {k: Shaped(*v) for k, v in EXPECTED.items()}
    state["classifier.4.weight"], state["classifier.4.bias"] = Shaped(21, 512, 1, 1), Shaped(21)
    with pytest.raises(BadInput, match=r"2 tensors have the wrong shape \(its head has 21 classes") as err:
        check_fcn_state(state, EXPECTED, "fcn_voc.pth")
    assert "classifier.4.bias (21,) instead of (2,)" in str(err.value)


def test_a_pickle_needs_trust_and_a_missing_file_is_named(tmp_path: Path) -> None:
    pickle_file = tmp_path / "skin.pth"
    pickle_file.write_bytes(b"not even a checkpoint")
    with pytest.raises(UnverifiedFile, match="GARMENT_TRUST_UNVERIFIED"):
        skin_model_from_file(pickle_file, tmp_path, trust_unverified=False)
    assert skin_model_from_file(pickle_file, tmp_path, trust_unverified=True).model_path == pickle_file
    with pytest.raises(BadInput, match="path of a state dict file"):
        skin_model_from_file("", tmp_path)
    with pytest.raises(BadInput, match="max_side"):
        FcnSkinModel(pickle_file, max_side=8)


def test_a_foreign_safetensors_file_is_refused_by_name(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "not-fcn.safetensors"
    save_file({"encoder.weight": torch.zeros(2, 2)}, str(path))
    model = skin_model_from_file(path, tmp_path)  # safetensors cannot run code: no trust needed
    with pytest.raises(BadInput, match="not-fcn.safetensors is not an FCN-ResNet101 skin model"):
        model(np.zeros((32, 32, 3), np.uint8))


def random_fcn_state(seed: int = 0) -> dict:
    """A random state dict of the real FCN-ResNet101 skin architecture (shapes read from a ``meta`` build)."""
    import torch

    with torch.device("meta"):
        shapes = {k: (v.shape, v.dtype) for k, v in build_fcn().state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, dtype) in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=dtype)
        elif key.endswith("running_var"):
            state[key] = torch.ones(shape)
        else:
            state[key] = torch.empty(shape).uniform_(-0.03, 0.03, generator=generator)
    return state


@pytest.mark.slow
def test_a_real_size_random_fcn_loads_and_gives_a_probability_per_pixel(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from lib_garment.restore.skin_model import load_fcn_skin

    state = random_fcn_state()
    assert sum(v.numel() for v in state.values()) > 50_000_000  # FCN-ResNet101 itself, not a stand-in
    path = tmp_path / "skin.safetensors"
    save_file({f"module.{k}": v for k, v in state.items()}, str(path))  # as a DataParallel training run saves it
    model = skin_model_from_file(
        path, tmp_path, device="cpu", max_side=32, runtime=InProcessRuntime(check_pickling=True)
    )
    image = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    probability = model(image)
    assert probability.shape == (24, 40)  # back at the crop's size (the network saw 19 x 32)
    assert probability.dtype == np.float32
    assert np.isfinite(probability).all()
    assert probability.min() >= 0.0
    assert probability.max() <= 1.0
    assert probability.std() > 0  # a real per-pixel answer, not a constant
    # the loader put the file's tensors in the network
    network = load_fcn_skin(str(path), "cpu")
    loaded = network.state_dict()
    for key in ("backbone.conv1.weight", "backbone.layer4.2.conv3.weight", "classifier.4.bias"):
        assert torch.equal(loaded[key], state[key])
    # and it plugs into the skin mask as the skin model
    mask = skin_mask(image, (10.0, 4.0, 30.0, 20.0), model=model)
    assert mask.shape == (24, 40)
    assert not mask[:, :10].any()
    assert not mask[:, 30:].any()
