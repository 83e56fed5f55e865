"""FID, KID and IS of a generated image set against a real one, computed by torch-fidelity.

**Why torch-fidelity** (of torch-fidelity, torchmetrics and clean-fid): it is the reference implementation the
other two lean on (torchmetrics' FID/KID/IS use torch-fidelity's Inception), it computes all three metrics from
one feature pass with the original protocols (FID: Fréchet distance of pool3 statistics; KID: the unbiased
polynomial-kernel MMD over random subsets, mean ± std; IS: exp E[KL] over splits, mean ± std), it takes the
weights by path, so our registry can verify and supply the file, and it installs everywhere with no new pins
(numpy, Pillow, torch, torchvision, tqdm). clean-fid has no IS and no KID spread and loads its own TorchScript
Inception from the network; torchmetrics would add a package to Forge for the same numbers.

The metric formulas are torch-fidelity's own functions, applied to the features extracted here (batched by image
size, see ``images`` for the file and resize rules), so the exact features can be written out
(``--features-out``) and checked independently. Nothing is computed by hand here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.evaluate.images import ImageSet, format_note
from lib_garment.evaluate.inception import LOGITS, POOL, POOL_LAYERS, InceptionNet
from lib_garment.imageio import write_bytes

DEFAULT_KID_SUBSET_SIZE = 1000  # the KID paper's and torch-fidelity's default
DEFAULT_KID_SUBSETS = 100
DEFAULT_IS_SPLITS = 10
DEFAULT_SEED = 2020  # torch-fidelity's default seed (KID subsets, IS shuffle)
BATCH = 16


@dataclass(frozen=True)
class MetricOptions:
    kid_subset_size: int = DEFAULT_KID_SUBSET_SIZE
    kid_subsets: int = DEFAULT_KID_SUBSETS
    is_splits: int = DEFAULT_IS_SPLITS
    seed: int = DEFAULT_SEED
    layer: str = POOL  # the Inception pool layer of FID and KID

    def check(self) -> None:
        if self.layer not in POOL_LAYERS:
            raise BadInput(f"features must be one of {', '.join(POOL_LAYERS)}, got {self.layer}")
        for name in ("kid_subset_size", "kid_subsets", "is_splits"):
            if getattr(self, name) < 1:
                raise BadInput(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.kid_subset_size < 2:
            raise BadInput("kid-subset-size must be at least 2 (KID's unbiased estimate needs pairs)")


def fitted_options(
    n_real: int, n_generated: int, layer: str = POOL, kid_subsets: int = DEFAULT_KID_SUBSETS
) -> MetricOptions:
    """torch-fidelity's defaults (KID subsets of 1000 images, 10 IS splits) shrunk to what the sets hold: a
    seller's shoot is tens of photos, not thousands. The sizes used are reported with the numbers."""
    smaller = min(n_real, n_generated)
    if smaller < 2:
        raise BadInput(
            f"the real set has {n_real} and the generated set {n_generated} image(s): FID and KID need at least 2 "
            "in each"
        )
    return MetricOptions(
        kid_subset_size=min(DEFAULT_KID_SUBSET_SIZE, smaller),
        kid_subsets=kid_subsets,
        is_splits=min(DEFAULT_IS_SPLITS, n_generated),
        layer=layer,
    )


def check_counts(n_real: int, n_generated: int, options: MetricOptions) -> None:
    """BadInput, before any model runs, when a set is too small for a metric; says how many are needed."""
    problems = []
    smaller = max(2, min(n_real, n_generated))
    for what, n in (("real", n_real), ("generated", n_generated)):
        if n < 2:
            problems.append(f"the {what} set has {n} image(s); FID needs at least 2 (a covariance)")
        if n < options.kid_subset_size:
            problems.append(
                f"the {what} set has {n} image(s), fewer than the KID subset size {options.kid_subset_size}: "
                f"add {options.kid_subset_size - n} image(s) or set --kid-subset-size {smaller}"
            )
    if n_generated < options.is_splits:
        problems.append(
            f"the generated set has {n_generated} image(s), fewer than the IS splits {options.is_splits}: "
            f"add {options.is_splits - n_generated} image(s) or set --is-splits {max(1, n_generated)}"
        )
    if problems:
        raise BadInput("; ".join(problems))


def extract_features(net: InceptionNet, images: Sequence[np.ndarray], batch: int = BATCH) -> dict[str, np.ndarray]:
    """Pool features (N, width of ``net.layer``) and unbiased logits (N, 1008) as float32, in the images' order.

    Images are batched by size (torch-fidelity resizes each batch to 299 × 299 itself), so mixed sizes are
    never padded or cropped."""
    import torch

    pools: list[np.ndarray | None] = [None] * len(images)
    logits: list[np.ndarray | None] = [None] * len(images)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_size.setdefault(image.shape, []).append(index)
    with torch.no_grad():
        for indices in by_size.values():
            for start in range(0, len(indices), batch):
                chunk = indices[start : start + batch]
                stacked = np.stack([images[i] for i in chunk]).transpose(0, 3, 1, 2)
                tensor = torch.from_numpy(np.ascontiguousarray(stacked)).to(net.device)
                pool, logit = net.module(tensor)
                for row, i in enumerate(chunk):
                    pools[i] = pool[row].float().cpu().numpy()
                    logits[i] = logit[row].float().cpu().numpy()
    return {net.layer: np.stack(pools), LOGITS: np.stack(logits)}  # type: ignore[arg-type]


@dataclass
class SetMetrics:
    fid: float
    kid_mean: float
    kid_std: float
    kid_subset_size: int
    kid_subsets: int
    is_mean: float
    is_std: float
    is_splits: int
    features: str  # the pool layer of FID and KID
    real: dict[str, Any]
    generated: dict[str, Any]
    weights: str
    notes: list[str] = field(default_factory=list)
    resize: str = "each image to 299x299, torch-fidelity's TensorFlow-1-compatible bilinear resize, no crop"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def metrics_from_features(
    real: dict[str, np.ndarray], generated: dict[str, np.ndarray], options: MetricOptions
) -> dict[str, float]:
    """torch-fidelity's FID, KID and IS functions on extracted features (IS of the generated set)."""
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    layer = options.layer
    check_counts(len(real[layer]), len(generated[layer]), options)
    real_pool, gen_pool = torch.from_numpy(real[layer]), torch.from_numpy(generated[layer])
    fid = fid_statistics_to_metric(
        fid_features_to_statistics(gen_pool), fid_features_to_statistics(real_pool), verbose=False
    )["frechet_inception_distance"]
    kid = kid_features_to_metric(
        gen_pool,
        real_pool,
        kid_subsets=options.kid_subsets,
        kid_subset_size=options.kid_subset_size,
        rng_seed=options.seed,
        verbose=False,
    )
    isc = isc_features_to_metric(
        torch.from_numpy(generated[LOGITS]), splits=options.is_splits, shuffle=True, rng_seed=options.seed
    )
    return {
        "fid": float(fid),
        "kid_mean": kid["kernel_inception_distance_mean"],
        "kid_std": kid["kernel_inception_distance_std"],
        "is_mean": isc["inception_score_mean"],
        "is_std": isc["inception_score_std"],
    }


def evaluate_sets(
    real: ImageSet,
    generated: ImageSet,
    net: InceptionNet,
    options: MetricOptions,
    features_out: Path | None = None,
) -> SetMetrics:
    """Extract both sets' features, compute the metrics, and optionally save the features (.npz)."""
    options.check()
    if net.layer != options.layer:
        raise ValueError(f"the network gives layer {net.layer}, the options ask for {options.layer}")
    check_counts(len(real.images), len(generated.images), options)
    real_features = extract_features(net, real.images)
    gen_features = extract_features(net, generated.images)
    numbers = metrics_from_features(real_features, gen_features, options)
    if features_out is not None:
        save_features(features_out, real, generated, real_features, gen_features, options.layer)
    notes = [note] if (note := format_note(real, generated)) else []
    if options.layer != POOL:
        notes.append(f"FID and KID on the {options.layer}-wide layer: not comparable with published (2048) numbers")
    if min(len(real.images), len(generated.images)) < 2048:
        notes.append(
            "fewer than 2048 images in a set: FID is biased upwards for small sets (compare numbers only between "
            "sets of the same size); KID is unbiased"
        )
    return SetMetrics(
        **numbers,
        kid_subset_size=options.kid_subset_size,
        kid_subsets=options.kid_subsets,
        is_splits=options.is_splits,
        features=options.layer,
        real=real.describe(),
        generated=generated.describe(),
        weights=f"{net.path} ({net.basis})",
        notes=notes,
    )


def save_features(
    path: Path,
    real: ImageSet,
    generated: ImageSet,
    real_features: dict[str, np.ndarray],
    gen_features: dict[str, np.ndarray],
    layer: str = POOL,
) -> Path:
    """The features the metrics were computed from, with the files they came from, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        real_pool=real_features[layer],
        real_logits=real_features[LOGITS],
        generated_pool=gen_features[layer],
        generated_logits=gen_features[LOGITS],
        real_files=np.array([str(p) for p in real.paths]),
        generated_files=np.array([str(p) for p in generated.paths]),
    )
    return write_bytes(path, buffer.getvalue())
