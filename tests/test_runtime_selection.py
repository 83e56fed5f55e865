"""Which runtime runs a family: the decision from version maps (pure), and in this package set (real)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.version import Version

from lib_garment.deps import A1111_1_10_1_PINS, WORKER_PACKAGES
from lib_garment.errors import ModelUnavailable
from lib_garment.paths import EXTENSION_DIR, worker_packages_dir
from lib_garment.runtime import (
    IN_PROCESS,
    POLICY_ENV,
    WORKER,
    choose_runtime,
    get_runtime,
    in_process_runtime,
    shared_worker,
)
from lib_garment.runtime.selection import folder_version, host_version, worker_version

A1111 = {"transformers": "4.30.2", "torch": "2.1.2"}
FORGE = {"transformers": "4.46.1", "torch": "2.3.1"}
FOLDER = {"transformers": "4.46.3", "tokenizers": "0.20.3"}


def _choose(requirement: object, host: dict[str, str], folder: dict[str, str] | None, tmp_path: Path, **kw: object):
    worker_folder = tmp_path / "worker"
    if folder is not None:
        worker_folder.mkdir(exist_ok=True)
    worker = {**host, **(folder or {})}  # the worker imports its folder first, then the host's packages
    return choose_runtime(
        requirement,  # type: ignore[arg-type]
        host=host.get,
        worker=worker.get,
        worker_folder=worker_folder,
        **kw,  # type: ignore[arg-type]
    )


def test_host_packages_that_suffice_run_in_process(tmp_path: Path) -> None:
    assert _choose("transformers>=4.40", FORGE, None, tmp_path).mode == IN_PROCESS
    assert _choose("transformers>=4.40", FORGE, FOLDER, tmp_path).mode == IN_PROCESS
    assert _choose(None, A1111, None, tmp_path).mode == IN_PROCESS  # nothing needed beyond the host
    assert _choose("torch>=2.1", A1111, FOLDER, tmp_path).mode == IN_PROCESS


def test_an_old_host_uses_the_worker_when_its_folder_provides_the_version(tmp_path: Path) -> None:
    choice = _choose("transformers>=4.40", A1111, FOLDER, tmp_path)
    assert choice.mode == WORKER
    assert "4.30.2" in choice.reason
    # Several requirements: each may come from the folder or from the host underneath it.
    assert _choose(["transformers>=4.38", "torch>=2.0"], A1111, FOLDER, tmp_path).mode == WORKER


def test_nothing_suitable_raises_model_unavailable_saying_what_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as missing:
        _choose("transformers>=4.40", A1111, None, tmp_path)
    message = str(missing.value)
    assert "transformers>=4.40" in message
    assert "the WebUI has transformers 4.30.2" in message
    assert "is not installed" in message
    assert str(tmp_path / "worker") in message
    assert "Restart the WebUI" in message
    assert "install.py" in message
    assert all(spec in message for spec in WORKER_PACKAGES)
    assert missing.value.exit_code == 3

    with pytest.raises(ModelUnavailable, match=r"folder .* gives transformers 4\.46\.3\."):
        _choose("transformers>=4.50", A1111, FOLDER, tmp_path)
    with pytest.raises(ModelUnavailable, match="WebUI has no ultralytics"):
        _choose("ultralytics>=8.3", A1111, FOLDER, tmp_path)


def test_policies_force_a_mode_or_refuse(tmp_path: Path) -> None:
    assert _choose("transformers>=4.40", FORGE, None, tmp_path, policy="worker").mode == WORKER
    assert _choose(None, FORGE, None, tmp_path, policy="worker").mode == WORKER
    assert _choose("transformers>=4.40", FORGE, FOLDER, tmp_path, policy="in-process").mode == IN_PROCESS
    with pytest.raises(ModelUnavailable, match=f"{POLICY_ENV}=in-process"):
        _choose("transformers>=4.40", A1111, FOLDER, tmp_path, policy="in-process")
    with pytest.raises(ValueError, match=POLICY_ENV):
        _choose(None, FORGE, None, tmp_path, policy="sometimes")


def test_inside_the_worker_everything_runs_in_process_or_is_unavailable(tmp_path: Path) -> None:
    worker_view = {**A1111, **FOLDER}
    assert _choose("transformers>=4.40", worker_view, None, tmp_path, in_worker=True).mode == IN_PROCESS
    with pytest.raises(ModelUnavailable, match="inside the model worker"):
        _choose("transformers>=4.50", worker_view, None, tmp_path, in_worker=True)


def test_versions_are_compared_as_versions(tmp_path: Path) -> None:
    assert _choose("transformers>=4.40", {"transformers": "4.46.0.dev0"}, None, tmp_path).mode == IN_PROCESS
    assert _choose("transformers>=4.40", {"transformers": "4.100.0"}, None, tmp_path).mode == IN_PROCESS
    with pytest.raises(ModelUnavailable):
        _choose("transformers>=4.40", {"transformers": "not-a-version"}, None, tmp_path)
    with pytest.raises(ValueError, match="not a package requirement"):
        _choose("transformers >>= 4", FORGE, None, tmp_path)


def _fake_dist(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_version_lookups_read_metadata_folder_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dist(tmp_path, "transformers", "9.9.9")
    assert folder_version("transformers", tmp_path) == "9.9.9"
    assert worker_version("transformers", tmp_path) == "9.9.9"
    assert folder_version("numpy", tmp_path) is None
    assert worker_version("numpy", tmp_path) == metadata.version("numpy")  # from the host, under the folder
    assert folder_version("transformers", tmp_path / "absent") is None
    assert host_version("no-such-package-garment") is None
    # An imported module's own version wins: it is what this process really runs.
    fake = ModuleType("garment_fake_pkg")
    fake.__version__ = "1.2.3"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "garment_fake_pkg", fake)
    assert host_version("garment-fake-pkg") == "1.2.3"


def test_get_runtime_in_this_package_set() -> None:
    host = Version(metadata.version("transformers"))
    runtime = get_runtime("transformers>=4.40")
    if host >= Version("4.40"):  # Forge's set
        assert runtime is in_process_runtime()
        assert runtime.mode == IN_PROCESS
    else:  # AUTOMATIC1111 1.10.1's set: the worker folder is required here
        assert str(host) == A1111_1_10_1_PINS["transformers"]
        folder = worker_packages_dir()
        assert folder_version("transformers", folder) == "4.46.3", (
            f"the worker folder {folder} lacks transformers 4.46.3: export GARMENT_WORKER_PACKAGES "
            "(tools/run_tests.sh does)"
        )
        assert runtime is shared_worker()
        assert runtime.mode == WORKER
    assert get_runtime(None) is in_process_runtime()
    assert get_runtime(None, policy="worker") is shared_worker()


def test_the_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY_ENV, "worker")
    assert get_runtime() is shared_worker()
    monkeypatch.setenv(POLICY_ENV, "in-process")
    assert get_runtime() is in_process_runtime()
    monkeypatch.setenv(POLICY_ENV, "bogus")
    with pytest.raises(ValueError, match="bogus"):
        get_runtime()


def test_choosing_imports_neither_transformers_nor_torch_and_starts_nothing() -> None:
    code = (
        "import sys\nfrom lib_garment.runtime import get_runtime, shared_worker\n"
        "for req in ('transformers>=4.40', 'transformers>=4.34', None):\n"
        "    get_runtime(req)\n"
        "print(sorted(m for m in ('transformers', 'torch', 'tokenizers') if m in sys.modules), shared_worker().pid)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=EXTENSION_DIR, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[] None"
