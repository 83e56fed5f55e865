"""ViTMatte on the band's tiles through the production backend, in the runtime production picks (AUTOMATIC1111's
set: the model worker, which is sent one tile per call; Forge's: in-process), against the whole-photo matte.

The tiny model is random, so tiled and whole agree only as far as a network that sees different context can:
its decoder is He-initialised (``sensitive``) so that its alpha varies across the band by tenths (a weakly
initialised one answers ~0.5 everywhere, and any paste would pass). Tolerance: mean |Δα| over the band
≤ 0.03, where the same alpha moved by 2 px is off by more than twice that (checked here too); the bench
prints the figure for the real model's size."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.runtime import WORKER, get_runtime
from lib_garment.runtime.cache import load_count
from lib_garment.segment.backends import vitmatte
from lib_garment.segment.backends.vitmatte import VitMatte
from lib_garment.segment.pipeline import SegmentSettings, segment
from lib_garment.segment.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from tests.factories.matting import VITMATTE_HF_CLASSES

TOLERANCE = 0.03  # mean |Δα| over the band, tiled vs whole, on a random tiny model


@pytest.fixture(scope="module")
def sensitive_vitmatte(tiny_model_root, hf_runner):
    out_dir = tiny_model_root / "vitmatte-tiny-sensitive"
    out_dir.mkdir(parents=True, exist_ok=True)
    hf_runner.call("tests.factories.matting:build_vitmatte", VITMATTE_HF_CLASSES, out_dir=str(out_dir), sensitive=True)
    return out_dir


def photo_and_mask(height: int = 240, width: int = 320) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:height, :width] + 0.5
    mask = ((rows - 130) / 80) ** 2 + ((cols - 150) / 100) ** 2 < 1
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[mask] = image[mask] // 2 + 100
    return image, mask.astype(np.uint8) * 255


def test_tiled_vitmatte_matches_the_whole_photo_matte_and_keeps_sure_pixels(sensitive_vitmatte) -> None:
    runtime = get_runtime(vitmatte.REQUIREMENT)
    model = VitMatte(sensitive_vitmatte, runtime, "cpu")
    image, mask = photo_and_mask()
    common = {"phrases": (), "trimap_radius": 6}
    whole = segment(
        image, SegmentSettings(**common, matte_crop=False, matte_tile=None), coarse_mask=mask, matte_model=model
    )
    calls = model.stats.calls
    key = ("vitmatte", str(sensitive_vitmatte), "cpu")
    loads = load_count(key) if runtime.mode != WORKER else None
    tiled = segment(
        image, SegmentSettings(**common, matte_tile=128, matte_overlap=32), coarse_mask=mask, matte_model=model
    )
    assert tiled.matte.method == whole.matte.method == "vitmatte"
    assert model.stats.calls - calls > 1  # several tiles, each its own call (a worker call carries one tile)
    assert model.model_info["backbone_hidden_size"] == 32
    if loads is not None:
        assert load_count(key) == loads  # the model stayed resident across tiles

    trimap = tiled.trimap
    band = trimap == UNKNOWN
    for result in (whole, tiled):
        assert (result.alpha[trimap == FOREGROUND] == 1.0).all()
        assert (result.alpha[trimap == BACKGROUND] == 0.0).all()
    difference = float(np.abs(tiled.alpha - whole.alpha)[band].mean())
    misplaced = float(np.abs(np.roll(whole.alpha, 2, axis=1) - whole.alpha)[band].mean())
    assert difference <= TOLERANCE
    assert misplaced > 2 * TOLERANCE  # the check has power: a 2-px slip would fail it
    assert float(whole.alpha[band].std()) > 0.01  # the alpha varies across the band (not a constant 0.5)


def test_the_loaders_vitmatte_attends_head_by_head_with_the_packages_alpha(sensitive_vitmatte, hf_runner) -> None:
    """Its global blocks are swapped for the head-by-head attention (lean_attention), and the alpha stays bit for
    bit the one transformers' own code makes from the same folder."""
    found = hf_runner.call(
        "tests.factories.matting:lean_against_stock", VITMATTE_HF_CLASSES, model_dir=str(sensitive_vitmatte)
    ).value
    assert found["global"] >= 1
    assert found["swapped"] == found["global"]
    assert found["shape"] == [1, 1, 320, 320]
    assert found["equal"]
