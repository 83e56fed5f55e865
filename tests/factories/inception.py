"""Random FID Inception weights in the on-disk format of ``weights-inception-2015-12-05-6726825d.pth``.

The real file is a plain ``torch.save``d state dict of torch-fidelity's ``FeatureExtractorInceptionV3`` (the
TensorFlow FID Inception: 1008 classes, BatchNorm eps 0.001). This builds the same module, so the keys and shapes
are exactly the ones the production loader asks for, with random values instead of the converted TensorFlow ones.

torch-fidelity's constructor always loads a file; it is handed an empty state dict and its ``load_state_dict`` is
skipped for the build only. Weights are He-initialised (and BatchNorm left as identity) so the 2048 pool features
and the logits stay of order one through the 90 layers: default PyTorch init shrinks them towards zero, which would
make two different image sets look alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "weights-inception-2015-12-05-6726825d.pth"


@dataclass(frozen=True)
class RandomInception:
    path: Path
    num_params: int
    build_seconds: float


def make_random_inception(out_dir: Path, seed: int = 0, filename: str = FILE_NAME) -> RandomInception:
    start = time.perf_counter()
    import torch
    from torch import nn
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    out_dir.mkdir(parents=True, exist_ok=True)
    empty = out_dir / ".empty-state.pth"
    torch.save({}, empty)

    class _Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            return None

    torch.manual_seed(seed)
    net = _Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    empty.unlink()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.normal_(0.0, 0.1)  # a little per-channel offset, so ReLU keeps varied channels
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 1.0 / module.in_features**0.5)
                nn.init.zeros_(module.bias)
    state = {k: v.detach().clone().float() if v.is_floating_point() else v.clone() for k, v in net.state_dict().items()}
    path = out_dir / filename
    torch.save(state, path)
    num_params = sum(v.numel() for v in state.values() if v.is_floating_point())
    return RandomInception(path, num_params, time.perf_counter() - start)
