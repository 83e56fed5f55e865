"""``POST /garment-studio/v1/evaluate`` on the host double's app: FID / KID / IS of two folders under the catalogue
folder with the random-weight Inception (found through the installed copy's registry, as in production), the
422s for paths outside the catalogue folder, empty folders and too-small sets, and ``--api-auth``."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.factories.inception import FILE_NAME
from tests.test_evaluate_sets import _noise, _write

API = "/garment-studio/v1"


def root_of(host: Any) -> Path:
    return host.root / "outputs" / "garment_studio" / "catalogues"


@pytest.fixture
def host(webui, fresh_engine_modules, inception, monkeypatch: pytest.MonkeyPatch) -> Any:
    installed = webui.with_garment_studio(("control_v11p_sd15_canny",))
    path, sha, size = inception
    folder = installed.root / "models" / "garment_studio" / "evaluate"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / FILE_NAME).exists():
        os.symlink(path, folder / FILE_NAME)
    # The installed copy's registry (the one the route reads at call time) knows the random file's digest.
    registry = sys.modules["lib_garment.models.registry"]
    spec = registry.get_spec("inception-2015-12-05")
    known = replace(spec, files=(replace(spec.files[0], sha256=sha, size=size),))
    monkeypatch.setattr(registry, "MODELS", tuple(known if s is spec else s for s in registry.MODELS))
    monkeypatch.setenv("GARMENT_OFFLINE", "1")
    return installed


def _sets(root: Path) -> None:
    _write(root / "shoot", {f"r{i}.png": _noise(i) for i in range(3)})
    _write(root / "out" / "gen", {f"g{i}.png": _noise(100 + i, (40, 24)) for i in range(3)})


def test_two_folders_under_the_catalogue_folder_are_measured(host) -> None:
    client = host.client()
    root = root_of(host)
    _sets(root)
    body = {"real": "shoot", "generated": str(root / "out" / "gen"), "features": "64", "kid_subsets": 5}
    response = client.post(f"{API}/evaluate", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["fid"] > 0
    assert report["kid_std"] >= 0
    assert report["is_mean"] >= 1
    # torch-fidelity's defaults shrunk to the sets: subsets of 3 images, 3 IS splits
    assert (report["kid_subset_size"], report["kid_subsets"], report["is_splits"]) == (3, 5, 3)
    assert report["real"]["count"] == 3
    assert report["generated"]["sizes"] == {"40x24": 3}
    assert "garment_studio" in host.shared.state.begun_jobs  # ran under the WebUI's queue lock


def test_paths_outside_the_folder_empty_folders_and_small_sets_are_422(host, tmp_path: Path) -> None:
    client = host.client()
    root = root_of(host)
    _sets(root)
    (root / "empty").mkdir()
    _write(tmp_path / "elsewhere", {f"e{i}.png": _noise(i) for i in range(3)})
    (root / "link").symlink_to(tmp_path / "elsewhere")
    cases = [
        ({"real": "../../..", "generated": "shoot"}, ["body", "real"], "outside the catalogue folder"),
        ({"real": "shoot", "generated": str(tmp_path / "elsewhere")}, ["body", "generated"], "outside"),
        ({"real": "link", "generated": "shoot"}, ["body", "real"], "outside"),
        ({"real": "shoot", "generated": "empty"}, ["body", "generated"], "holds no images"),
        ({"real": "shoot", "generated": "missing"}, ["body", "generated"], "is not a folder"),
        ({"real": "shoot", "generated": "shoot", "kid_subset_size": 5}, ["body"], "fewer than the KID subset size"),
        ({"real": "shoot"}, ["body", "generated"], "field required"),
        ({"real": "shoot", "generated": "shoot", "extra": 1}, ["body", "extra"], "unknown field"),
    ]
    for body, loc, message in cases:
        response = client.post(f"{API}/evaluate", json=body)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"]
        assert any(d["loc"] == loc and message in d["msg"] for d in detail), (body, detail)
    assert "garment_studio" not in host.shared.state.begun_jobs  # refused before any model ran


def test_with_api_auth_the_route_needs_the_credentials(make_webui, fresh_engine_modules) -> None:
    host = make_webui("a1111", cmd_args=["--api-auth", "user:secret"]).with_garment_studio(("control_v11p_sd15_canny",))
    client = host.client()
    body = {"real": "shoot", "generated": "gen"}
    refused = client.post(f"{API}/evaluate", json=body)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Basic"
    assert client.post(f"{API}/evaluate", json=body, auth=("user", "wrong")).status_code == 401
    # with the credentials the body is read: these folders do not exist under the catalogue folder
    assert client.post(f"{API}/evaluate", json=body, auth=("user", "secret")).status_code == 422
