"""The FID Inception network: the registry's verified weights file, loaded into torch-fidelity's extractor.

The weights (``inception-2015-12-05`` in ``lib_garment.models.registry``) are the TensorFlow FID Inception
converted to PyTorch, the file torch-fidelity itself would download. Here it is found or downloaded only through
the registry (size and SHA-256 checked before it is opened; offline, a missing file is named with its folder),
and handed to torch-fidelity by path, so the library never reaches for the network itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib_garment.errors import ModelUnavailable
from lib_garment.models import registry
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.weights import registry_file
from lib_garment.runtime.cache import cached_model
from lib_garment.runtime.devices import resolve_device

SPEC_NAME = "inception-2015-12-05"
POOL = "2048"  # FID and KID by default: the 2048-wide pool3 features (what papers, the paper here included, report)
# The narrower layers torch-fidelity offers (pytorch-fid suggests them for sets under 2048 images, whose 2048-wide
# covariance is singular); numbers on another layer are not comparable with 2048's.
POOL_LAYERS = ("64", "192", "768", "2048")
LOGITS = "logits_unbiased"  # IS: the 1008 logits without the fc bias, as the original IS code reads them
# torch-fidelity's registered name for this extractor: it keys the library's own caches and messages.
EXTRACTOR_NAME = "inception-v3-compat"


@dataclass
class InceptionNet:
    """The loaded extractor, the file it came from and the device it runs on."""

    module: Any  # torch_fidelity.feature_extractor_inceptionv3.FeatureExtractorInceptionV3
    path: Path
    basis: str
    device: str
    layer: str = POOL  # the pool layer FID and KID use


def load_inception(
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    device: str | None = None,
    layer: str = POOL,
) -> InceptionNet:
    """The FID Inception on ``device``; ModelUnavailable (exit 3) naming the file and folder when it is missing."""
    # Looked up at call time (not import time), so the registry in force is the one used.
    spec = registry.get_spec(SPEC_NAME, registry.MODELS)
    weights = registry_file(spec, models_root, offline=offline, progress=progress)
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise ModelUnavailable(
            f"torch-fidelity is not installed ({err}); install.py installs it, or: pip install torch-fidelity==0.4.0"
        ) from err
    # "auto" (the command line's word) is the runtime's None: CUDA when torch sees a GPU; a bad name is BadInput.
    chosen = resolve_device(None if device in (None, "", "auto") else device)

    def build() -> Any:
        try:
            # The file passed the registry's size and SHA-256 check above, so torch-fidelity may unpickle it.
            module = FeatureExtractorInceptionV3(
                EXTRACTOR_NAME, [layer, LOGITS], feature_extractor_weights_path=str(weights.path)
            )
        except (RuntimeError, OSError, EOFError) as err:
            raise ModelUnavailable(f"cannot load the FID Inception weights {weights.path}: {err}") from err
        return module.to(chosen)

    # Resident like every model in the WebUI's process (the REST route evaluates again and again; the WebUI's
    # unload and offload settings reach it), loaded once per file, device and layer.
    module = cached_model(("fid-inception", str(weights.path), chosen, layer), build, device=chosen)
    return InceptionNet(module, weights.path, weights.basis, chosen, layer)
