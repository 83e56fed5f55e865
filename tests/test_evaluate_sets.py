"""FID / KID / IS through the command line with random Inception weights in the real file's format.

The weights are built by tests/factories/inception.py and found through the registry (a test registry that knows
the random file's size and SHA-256 stands in for the real entry), so the production loader is what runs. The
numbers mean nothing about images; what is tested is that torch-fidelity's numbers equal an independent
computation on the features written by ``--features-out``, and every refusal.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_garment.cli.main import main
from lib_garment.models import registry
from lib_garment.paths import MODELS_SUBDIR
from tests.factories.inception import FILE_NAME

SUBSET, SUBSETS, SPLITS, SEED = 3, 5, 2, 7


def _models(inception: tuple[Path, str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path, sha, size = inception
    root = tmp_path / "models"
    folder = root / MODELS_SUBDIR / "evaluate"
    folder.mkdir(parents=True)
    os.symlink(path, folder / FILE_NAME)
    spec = registry.get_spec("inception-2015-12-05")
    known = replace(spec, files=(replace(spec.files[0], sha256=sha, size=size),))
    monkeypatch.setattr(registry, "MODELS", tuple(known if s is spec else s for s in registry.MODELS))
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    return root


@pytest.fixture(scope="module")
def evaluated(inception: tuple[Path, str, int], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run of the command (JSON, features written) and one in text, shared by the tests below: the
    Inception pass is the slow part. FID and KID on the 64-wide layer: torch-fidelity's FID takes the
    eigenvalues of a width × width matrix, seconds at 2048 on one core."""
    tmp_path = tmp_path_factory.mktemp("evaluated")
    with pytest.MonkeyPatch.context() as monkeypatch:
        models = _models(inception, tmp_path, monkeypatch)
        real, generated = _sets(tmp_path)
        npz = tmp_path / "out" / "features.npz"
        common = ["--kid-subset-size", str(SUBSET), "--kid-subsets", str(SUBSETS), "--is-splits", str(SPLITS),
                  "--seed", str(SEED), "--models-dir", str(models), "--device", "cpu", "--features", "64"]  # fmt: skip
        json_args = ["evaluate", "--real", str(real), "--generated", str(generated), "--json"]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main([*json_args, "--features-out", str(npz), *common])
        assert code == 0
        return {"npz": npz, "report": json.loads(printed.getvalue())}


def _write(folder: Path, images: dict[str, Image.Image]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, picture in images.items():
        picture.save(folder / name)
    return folder


def _noise(seed: int, size: tuple[int, int] = (32, 32), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}.get(mode, 1)
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(array[..., 0] if channels == 1 else array, mode)


def _sets(tmp_path: Path) -> tuple[Path, Path]:
    real = _write(tmp_path / "real", {f"r{i}.png": _noise(i) for i in range(4)})
    # Mixed sizes and modes, as stated: grey repeated to RGB, alpha dropped, each resized on its own.
    generated = _write(
        tmp_path / "generated",
        {
            "g0.png": _noise(10, (32, 32)),
            "g1.png": _noise(11, (40, 24)),
            "g2.png": _noise(12, (32, 32), "L"),
            "g3.png": _noise(13, (32, 32), "RGBA"),
        },
    )
    (generated / "result.json").write_text("{}")  # not an image of the set
    return real, generated


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance by another route than torch-fidelity's (eigenvalues of the covariance product): with
    S1 = A Aᵀ and S2 = B Bᵀ (A, B the centred features / √(n−1)), tr √(S1 S2) is the sum of the singular values
    of Aᵀ B (scipy's SVD)."""
    from scipy import linalg

    a, b = a.astype(np.float64), b.astype(np.float64)
    ca = (a - a.mean(0)).T / np.sqrt(len(a) - 1)
    cb = (b - b.mean(0)).T / np.sqrt(len(b) - 1)
    nuclear = linalg.svdvals(ca.T @ cb).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + (ca**2).sum() + (cb**2).sum() - 2 * nuclear)


def _mmd(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³ (Bińkowski et al.)."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m = len(x)
    off = lambda k: k.sum() - np.trace(k)  # noqa: E731
    return float(off(kxx) / (m * (m - 1)) + off(kyy) / (m * (m - 1)) - 2 * kxy.sum() / m**2)


def _inception_score(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    from scipy.special import softmax
    from scipy.stats import entropy

    logits = logits[np.random.RandomState(seed).permutation(len(logits))].astype(np.float64)
    p = softmax(logits, axis=1)
    scores = []
    for i in range(splits):
        part = p[i * len(p) // splits : (i + 1) * len(p) // splits]
        marginal = part.mean(0)
        scores.append(np.exp(np.mean([entropy(row, marginal) for row in part])))
    return float(np.mean(scores)), float(np.std(scores))


def test_numbers_equal_an_independent_computation_on_the_saved_features(evaluated: dict) -> None:
    features = np.load(evaluated["npz"])
    report = evaluated["report"]
    real_pool, gen_pool = features["real_pool"], features["generated_pool"]
    assert real_pool.shape == (4, 64)
    assert gen_pool.shape == (4, 64)
    assert features["generated_logits"].shape == (4, 1008)
    assert [Path(f).name for f in features["generated_files"]] == ["g0.png", "g1.png", "g2.png", "g3.png"]

    assert report["fid"] > 0  # two different sets
    assert report["fid"] == pytest.approx(_fid(gen_pool, real_pool), abs=1e-4, rel=1e-6)

    rng = np.random.RandomState(SEED)  # the KID protocol's subset draws: generated first, then real
    mmds = []
    for _ in range(SUBSETS):
        g = gen_pool[rng.choice(4, SUBSET, replace=False)].astype(np.float64)
        r = real_pool[rng.choice(4, SUBSET, replace=False)].astype(np.float64)
        mmds.append(_mmd(g, r))
    assert report["kid_mean"] == pytest.approx(float(np.mean(mmds)), abs=1e-4)
    assert report["kid_std"] == pytest.approx(float(np.std(mmds)), abs=1e-4)
    assert report["kid_std"] > 0  # the subsets differ, so the spread is real
    assert (report["kid_subset_size"], report["kid_subsets"], report["is_splits"]) == (SUBSET, SUBSETS, SPLITS)

    is_mean, is_std = _inception_score(features["generated_logits"], SPLITS, SEED)
    assert report["is_mean"] == pytest.approx(is_mean, abs=1e-4)
    assert report["is_std"] == pytest.approx(is_std, abs=1e-4)

    assert report["generated"]["sizes"] == {"32x32": 3, "40x24": 1}
    assert report["generated"]["count"] == 4  # result.json is not an image of the set
    assert any("FID is biased" in note for note in report["notes"])

    # A set against itself: torch-fidelity's FID of the same features is 0.
    from lib_garment.evaluate.image_sets import MetricOptions, metrics_from_features

    same = {"64": real_pool, "logits_unbiased": features["real_logits"]}
    numbers = metrics_from_features(same, same, MetricOptions(SUBSET, SUBSETS, SPLITS, SEED, "64"))
    assert abs(numbers["fid"]) < 1e-6
    assert report["features"] == "64"
    assert any("not comparable with published" in note for note in report["notes"])


def test_text_report_states_layer_subsets_splits_resize_and_formats() -> None:
    from lib_garment.cli.evaluate import format_sets

    report = {
        "fid": 1.5, "kid_mean": 0.01, "kid_std": 0.002, "kid_subsets": 5, "kid_subset_size": 3, "is_mean": 1.2,
        "is_std": 0.1, "is_splits": 2, "features": "2048",
        "real": {"count": 4, "sizes": {"32x32": 4}, "formats": {"png": 4}},
        "generated": {"count": 4, "sizes": {"32x32": 3, "40x24": 1}, "formats": {"jpeg": 4}},
        "resize": "each image to 299x299", "weights": "w.pth", "notes": ["the sets are stored in different formats"],
    }  # fmt: skip
    text = format_sets(report)
    assert "FID 1.5000 (Inception pool 2048)" in text
    assert "KID 0.010000 ± 0.002000 (5 subsets of 3 images)" in text
    assert "IS  1.2000 ± 0.1000 (2 splits, generated set)" in text
    assert "generated: 4 images (32x32 ×3, 40x24 ×1; jpeg ×4)" in text
    assert "note: the sets are stored in different formats" in text


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty", "holds no images"),
        ("few", "fewer than the KID subset size 1000: add 997 image(s) or set --kid-subset-size 3"),
        ("splits", "fewer than the IS splits 10"),
        ("broken", "broken.png"),
        ("npz", "--features-out must name a .npz file"),
        ("not-a-folder", "is not a folder"),
    ],
)
def test_bad_input_exits_2_before_any_model(
    case: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _write(tmp_path / "real", {f"r{i}.png": _noise(i) for i in range(3)})
    generated = _write(tmp_path / "gen", {f"g{i}.png": _noise(10 + i) for i in range(3)})
    extra: list[str] = ["--kid-subset-size", "2", "--is-splits", "1"]
    if case == "empty":
        generated = tmp_path / "empty"
        generated.mkdir()
    elif case == "few":
        extra = []
    elif case == "splits":
        extra = ["--kid-subset-size", "2"]
    elif case == "broken":
        (generated / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    elif case == "npz":
        extra += ["--features-out", str(tmp_path / "features.txt")]
    elif case == "not-a-folder":
        generated = tmp_path / "missing"
    # No models folder at all: a bad input must be refused before the weights are even looked for.
    code, _, err = _run(
        ["evaluate", "--real", str(real), "--generated", str(generated), "--models-dir", str(tmp_path / "none"),
         "--offline", *extra],
        capsys,
    )  # fmt: skip
    assert code == 2, err
    assert expected in err


def test_missing_weights_exit_3_naming_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = _write(tmp_path / "real", {f"r{i}.png": _noise(i) for i in range(2)})
    models = tmp_path / "models"
    code, _, err = _run(
        ["evaluate", "--real", str(real), "--generated", str(real), "--kid-subset-size", "2", "--is-splits", "1",
         "--models-dir", str(models), "--offline"],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert FILE_NAME in err
    assert str(models / MODELS_SUBDIR / "evaluate") in err


def test_a_format_difference_between_the_sets_is_noted() -> None:
    from lib_garment.evaluate.images import ImageSet, format_note

    pixels = (np.zeros((2, 2, 3), np.uint8),)
    png = ImageSet("--real", (Path("a.png"),), pixels)
    jpeg = ImageSet("--generated", (Path("b.JPG"),), pixels)
    assert format_note(png, png) is None
    assert format_note(png, jpeg) == (
        "the sets are stored in different formats (--real: png; --generated: jpeg); compression artefacts then "
        "add to FID and KID"
    )
