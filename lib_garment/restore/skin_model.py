"""An optional skin segmentation model: torchvision's FCN-ResNet101 with two classes (background, skin),
loaded from a state dict the user supplies.

No skin model ships in the registry, so the file is a user file under the registry's trust rules
(:func:`lib_garment.models.weights.user_file`): a ``.safetensors`` file is loaded as it is (the format
cannot run code); a pickle (``.pth``/``.pt``) only when the user trusts unverified files, and even then torch is
asked for a weights-only load first. The architecture is ``fcn_resnet101(num_classes=2, weights=None,
weights_backbone=None)`` (with the auxiliary head when the file has one); every key and shape of the file is
checked against it before loading, and a mismatch is reported by name (a 21-class VOC checkpoint, say).

The crop is normalised with ImageNet's mean and deviation, run at most ``max_side`` pixels on its longer side
(the network is fully convolutional), and the softmax probability of class 1 comes back at the crop's size.
Like every model it runs through the model runtime and stays resident (``cached_model``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.arrays import check_rgb
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.models.progress import ProgressCallback
from lib_garment.runtime import ModelRuntime, cached_model, get_runtime
from lib_garment.runtime.devices import check_device, resolve_device

SKIN_REQUIREMENT = "torchvision"
SKIN_FAMILY = "skin"
SKIN_CLASSES = 2
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUX_PREFIX = "aux_classifier."
_SHOWN = 3  # keys named in a message


def build_fcn(aux: bool = False) -> Any:
    """FCN-ResNet101 with two classes and no downloaded weights (random until a state dict is loaded)."""
    from torchvision.models.segmentation import fcn_resnet101

    return fcn_resnet101(num_classes=SKIN_CLASSES, weights=None, weights_backbone=None, aux_loss=aux)


def _ignored(key: str) -> bool:
    return key.endswith("num_batches_tracked")  # BatchNorm bookkeeping; older saves may lack it


def check_fcn_state(state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]], where: str) -> None:
    """BadInput unless ``state`` has exactly the keys of ``expected`` (key → shape) with those shapes."""
    have = {k for k in state if not _ignored(k)}
    want = {k for k in expected if not _ignored(k)}
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:_SHOWN])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:_SHOWN])})")
        raise BadInput(
            f"{where} is not an FCN-ResNet101 skin model: its keys differ from torchvision's fcn_resnet101 "
            f"({'; '.join(parts)})"
        )
    wrong = [
        f"{k} {tuple(getattr(state[k], 'shape', ()))} instead of {tuple(expected[k])}"
        for k in sorted(want)
        if tuple(getattr(state[k], "shape", ())) != tuple(expected[k])
    ]
    if wrong:
        head = next(iter(tuple(getattr(state.get("classifier.4.weight"), "shape", ()))), 0)
        hint = (
            f" (its head has {head} classes; a skin model has {SKIN_CLASSES})" if head not in (0, SKIN_CLASSES) else ""
        )
        raise BadInput(f"{where}: {len(wrong)} tensors have the wrong shape{hint}: {'; '.join(wrong[:_SHOWN])}")


def read_state(path: Path) -> dict[str, Any]:
    """The tensors of a verified file: safetensors directly, a torch checkpoint through the weights loader."""
    from lib_garment.models.weights import TrustedFile, load_torch_state

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = dict(load_file(str(path), device="cpu"))
        except Exception as err:  # a damaged or foreign file
            raise ModelUnavailable(f"cannot read {path}: {err}") from err
    else:
        state = load_torch_state(TrustedFile(path, "verified by the caller"))
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_fcn_skin(model_path: str, device: str) -> Any:
    """The FCN skin model from a verified file, checked key by key and shape by shape, in eval mode on
    ``device`` (float32). The caller has verified the file (trust rules): this function only loads.

    The network is built on torch's ``meta`` device and the file's tensors are assigned to it, so no random
    initialisation of its 52 M parameters is spent on weights about to be replaced.
    """
    import torch

    path = Path(model_path)
    state = read_state(path)
    with torch.device("meta"):
        model = build_fcn(aux=any(k.startswith(AUX_PREFIX) for k in state))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_fcn_state(state, expected, path.name)
    for key in expected:  # only BatchNorm's step counters may be absent (check_fcn_state saw to it)
        state.setdefault(key, torch.zeros((), dtype=torch.long))
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().to(device=device, dtype=torch.float32)


def fcn_skin_probability(
    image: np.ndarray, model_path: str, device: str | None = None, max_side: int = 512
) -> np.ndarray:
    """(H, W) float32 skin probability of ``image`` ((H, W, 3) uint8 RGB)."""
    import torch
    from torch.nn import functional

    device = resolve_device(device)
    model = cached_model(("fcn-skin", model_path, device), lambda: load_fcn_skin(model_path, device), device=device)
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 255.0
    if scale < 1.0:
        x = functional.interpolate(x, size=(max(1, round(height * scale)), max(1, round(width * scale))), mode="area")
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    with torch.inference_mode():
        logits = model(((x - mean) / std).contiguous())["out"]  # NCHW, as the network is timed and trained
        probability = logits.softmax(dim=1)[:, 1:2]
        if probability.shape[-2:] != (height, width):
            probability = functional.interpolate(
                probability, size=(height, width), mode="bilinear", align_corners=False
            )
    return probability[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)


@dataclass(frozen=True)
class FcnSkinModel:
    """A :class:`~lib_garment.restore.skin.SkinModel` backed by a verified FCN-ResNet101 state dict.

    ``max_side``: the longest side the network sees (the crop is reduced to it); ``runtime``: where it runs
    (None: ``get_runtime(SKIN_REQUIREMENT)``, i.e. in-process unless ``GARMENT_MODEL_RUNTIME=worker``)."""

    model_path: Path
    device: str | None = None
    max_side: int = 512
    runtime: ModelRuntime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_path", Path(self.model_path))
        object.__setattr__(self, "device", check_device(self.device))
        if not isinstance(self.max_side, int) or not 32 <= self.max_side <= 4096:
            raise BadInput(f"skin model max_side must be a whole number within 32..4096, got {self.max_side!r}")

    @cached_property
    def name(self) -> str:
        stat = self.model_path.stat()
        return f"fcn-skin:{self.model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:max={self.max_side}"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        runtime = self.runtime if self.runtime is not None else get_runtime(SKIN_REQUIREMENT)
        return runtime.call(
            "lib_garment.restore.skin_model:fcn_skin_probability",
            check_rgb(image, "skin crop"),
            str(self.model_path),
            self.device,
            self.max_side,
        )


def skin_model_from_file(
    path: str | Path,
    models_root: Path | None = None,
    *,
    device: str | None = None,
    max_side: int = 512,
    trust_unverified: bool | None = None,
    progress: ProgressCallback | None = None,
    runtime: ModelRuntime | None = None,
) -> FcnSkinModel:
    """A skin model from the user's file, cleared by the trust rules now (loaded at the first crop)."""
    from lib_garment.models.weights import user_file
    from lib_garment.paths import models_root as default_models_root

    if not isinstance(path, str | Path) or not str(path).strip():
        raise BadInput(f"skin model must be the path of a state dict file, got {path!r}")
    root = Path(models_root) if models_root is not None else default_models_root()
    weights = user_file(
        Path(path).expanduser(), SKIN_FAMILY, root, trust_unverified=trust_unverified, progress=progress
    )
    return FcnSkinModel(weights.path, device, max_side, runtime)
