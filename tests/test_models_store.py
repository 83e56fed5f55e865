"""ensure_model: reuse what is on disk (verified), download the rest, refuse what cannot be checked, and say where
files go when it cannot download. Test specs point their URLs at a loopback server; nothing leaves the machine."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.models import store as store_module
from lib_garment.models import verify
from lib_garment.models.registry import ModelFile, ModelSpec, get_spec, locate
from lib_garment.models.store import ModelStore, ensure_model, offline_mode, verify_file
from lib_garment.models.verify import ChecksumMismatch, UnverifiedFile
from tests.test_models_loopback import LoopbackServer, refuse_other_hosts

WEIGHTS = b"pretend checkpoint " * 50_000  # ~1 MB
CONFIG = b'{"model_type": "test"}'
VOCAB = b"[PAD]\n[UNK]\nhello\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)
    for name in ("GARMENT_OFFLINE", "HF_HUB_OFFLINE", "GARMENT_TRUST_UNVERIFIED"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "models"


def single(
    server: LoopbackServer,
    name: str,
    body: bytes,
    *,
    folder: str = "sam",
    reuse: tuple[str, ...] = ("sam",),
    known: bool = True,
) -> ModelSpec:
    url = server.serve(f"/{name}/{name}", body)
    return ModelSpec(
        name.rsplit(".", 1)[0], "test", folder, (ModelFile(name, (url,), sha(body) if known else None, len(body)),),
        "Apache-2.0", "test", "http://127.0.0.1/", reuse_folders=reuse,
    )  # fmt: skip


def folder_model(server: LoopbackServer, files: dict[str, tuple[bytes, bool]]) -> ModelSpec:
    """A Hugging Face style model; each file maps to (content, hash known)."""
    entries = tuple(
        ModelFile(fname, (server.serve(f"/tiny/{fname}", body),), sha(body) if known else None, len(body))
        for fname, (body, known) in files.items()
    )
    return ModelSpec("tiny-hf", "test", "matting", entries, "MIT", "test", "http://127.0.0.1/", is_dir=True)


# -- reuse ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("extension_folder", "file_name"), [("sam", "sam_vit_b.pth"), ("adetailer", "face.pt")])
def test_a_verified_copy_in_another_extensions_folder_is_used_without_any_request(
    server: LoopbackServer, root: Path, extension_folder: str, file_name: str
) -> None:
    spec = single(server, file_name, WEIGHTS, folder="yolo", reuse=(extension_folder,))
    existing = root / extension_folder / file_name
    existing.parent.mkdir(parents=True)
    existing.write_bytes(WEIGHTS)
    assert ensure_model(spec, root, offline=False) == existing
    assert server.requests == []
    assert not (root / "garment_studio").joinpath("yolo", file_name).exists()  # not copied, not downloaded


def test_our_own_folder_is_searched_first(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    for folder in (root / "garment_studio" / "sam", root / "sam"):
        folder.mkdir(parents=True)
        (folder / "sam_vit_b.pth").write_bytes(WEIGHTS)
    assert ensure_model(spec, root, offline=False) == root / "garment_studio" / "sam" / "sam_vit_b.pth"


def test_a_copy_with_the_wrong_hash_is_left_alone_and_a_verified_one_is_downloaded(
    server: LoopbackServer, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    other = root / "sam" / "sam_vit_b.pth"
    other.parent.mkdir(parents=True)
    other.write_bytes(WEIGHTS[::-1])  # same size, other bytes
    path = ensure_model(spec, root, offline=False)
    assert path == root / "garment_studio" / "sam" / "sam_vit_b.pth"
    assert path.read_bytes() == WEIGHTS
    assert other.read_bytes() == WEIGHTS[::-1]  # another extension's file is never touched
    assert "not using" in caplog.text
    assert str(other) in caplog.text


def test_a_wrong_file_in_our_own_folder_is_replaced_by_a_verified_download(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    own = root / "garment_studio" / "sam" / "sam_vit_b.pth"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"truncated")
    assert ensure_model(spec, root, offline=False) == own
    assert own.read_bytes() == WEIGHTS


def test_extra_folders_are_searched(server: LoopbackServer, root: Path, tmp_path: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    shared = tmp_path / "shared-models"
    shared.mkdir()
    (shared / "sam_vit_b.pth").write_bytes(WEIGHTS)
    assert ensure_model(spec, root, offline=False, extra_folders=[shared]) == shared / "sam_vit_b.pth"
    assert server.requests == []


def test_a_hugging_face_cache_snapshot_is_reused(server: LoopbackServer, root: Path, tmp_path: Path) -> None:
    base = folder_model(server, {"config.json": (CONFIG, True), "model.safetensors": (WEIGHTS, True)})
    spec = replace(base, hf_repos=("org/tiny-hf",), hf_revision="a" * 40)
    snapshot = tmp_path / "hub" / "models--org--tiny-hf" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_bytes(CONFIG)
    (snapshot / "model.safetensors").write_bytes(WEIGHTS)
    assert ensure_model(spec, root, offline=True, hub_cache=tmp_path / "hub") == snapshot
    assert locate(spec, root, hub_cache=tmp_path / "hub") == snapshot
    with pytest.raises(ModelUnavailable):
        ensure_model(spec, root, offline=True, search_hub_cache=False)


# -- downloads ------------------------------------------------------------------------------------------------------


def test_a_missing_model_is_downloaded_into_our_folder(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    calls: list[int] = []
    path = ensure_model(spec, root, offline=False, progress=lambda label, done, total: calls.append(done))
    assert path == root / "garment_studio" / "sam" / "sam_vit_b.pth"
    assert path.read_bytes() == WEIGHTS
    assert calls[-1] == len(WEIGHTS)
    assert calls == sorted(calls)
    assert ensure_model(spec, root, offline=True) == path  # afterwards it is simply there


def test_a_multi_file_folder_is_downloaded_file_by_file(server: LoopbackServer, root: Path) -> None:
    spec = folder_model(
        server,
        {"config.json": (CONFIG, True), "vocab.txt": (VOCAB, False), "model.safetensors": (WEIGHTS, True)},
    )
    path = ensure_model(spec, root, offline=False)
    assert path == root / "garment_studio" / "matting" / "tiny-hf"
    assert {p.name: p.read_bytes() for p in path.iterdir()} == {
        "config.json": CONFIG,
        "vocab.txt": VOCAB,
        "model.safetensors": WEIGHTS,
    }
    assert sorted(r.path for r in server.requests) == [
        "/tiny/config.json",
        "/tiny/model.safetensors",
        "/tiny/vocab.txt",
    ]


def test_a_partly_present_folder_only_fetches_what_is_missing(server: LoopbackServer, root: Path) -> None:
    spec = folder_model(server, {"config.json": (CONFIG, True), "model.safetensors": (WEIGHTS, True)})
    target = root / "garment_studio" / "matting" / "tiny-hf"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(WEIGHTS)
    assert ensure_model(spec, root, offline=False) == target
    assert [r.path for r in server.requests] == ["/tiny/config.json"]


def test_a_failed_download_is_a_model_unavailable_error_naming_the_file(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    server.routes.clear()  # every URL now answers 404
    with pytest.raises(ModelUnavailable, match=r"could not download sam_vit_b\.pth:\n  - .*HTTP 404"):
        ensure_model(spec, root, offline=False)
    assert not (root / "garment_studio" / "sam" / "sam_vit_b.pth").exists()


# -- offline ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "value"), [("HF_HUB_OFFLINE", "1"), ("GARMENT_OFFLINE", "true")])
def test_offline_by_environment_names_the_file_and_the_folder(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ModelUnavailable) as caught:
        ensure_model("sam_vit_b", root, hub_cache=tmp_path / "hub")
    message = str(caught.value)
    assert f"{env}={value}" in message
    assert "sam_vit_b_01ec64.pth" in message
    assert f"Put it in {root / 'garment_studio' / 'sam'}" in message
    assert str(root / "sam") in message  # the segment-anything extension's folder was searched too
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in message
    assert caught.value.exit_code == 3


def test_offline_for_a_folder_model_names_every_missing_file_and_the_model_folder(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        ensure_model("vitmatte-small-composition-1k", root, offline=True, hub_cache=tmp_path / "hub")
    message = str(caught.value)
    assert "offline=True was passed" in message
    for name in ("config.json", "preprocessor_config.json", "model.safetensors"):
        assert name in message
    assert f"Put them in {root / 'garment_studio' / 'vitmatte' / 'vitmatte-small-composition-1k'}" in message


def test_offline_explains_why_a_copy_on_disk_was_not_used(root: Path, tmp_path: Path) -> None:
    fake = root / "sam" / "sam_vit_b_01ec64.pth"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not really weights")
    with pytest.raises(ModelUnavailable) as caught:
        ensure_model("sam_vit_b", root, offline=True, hub_cache=tmp_path / "hub")
    assert f"Not used: {fake} is 18 bytes, expected 375,042,383" in str(caught.value)


def test_an_explicit_argument_overrides_the_environment(
    server: LoopbackServer, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline_mode() == (True, "HF_HUB_OFFLINE=1 is set")
    assert offline_mode(False) == (False, "offline=False was passed")
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    assert ensure_model(spec, root, offline=False).read_bytes() == WEIGHTS


# -- trust -------------------------------------------------------------------------------------------------------------


def test_a_pickle_without_a_known_hash_is_refused_before_any_request(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "pose.pt", WEIGHTS, folder="yolo", reuse=(), known=False)
    with pytest.raises(UnverifiedFile) as caught:
        ensure_model(spec, root, offline=False)
    assert "GARMENT_TRUST_UNVERIFIED=1" in str(caught.value)
    assert "pose.pt" in str(caught.value)
    assert server.requests == []
    assert isinstance(caught.value, ModelUnavailable)


def test_a_pickle_without_a_known_hash_is_refused_even_when_it_is_on_disk(server: LoopbackServer, root: Path) -> None:
    spec = single(server, "pose.pt", WEIGHTS, folder="yolo", reuse=(), known=False)
    own = root / "garment_studio" / "yolo" / "pose.pt"
    own.parent.mkdir(parents=True)
    own.write_bytes(WEIGHTS)
    with pytest.raises(UnverifiedFile):
        ensure_model(spec, root, offline=True)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_trusting_unverified_files_allows_them(
    server: LoopbackServer, root: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    spec = single(server, "pose.pt", WEIGHTS, folder="yolo", reuse=(), known=False)
    if how == "environment":
        monkeypatch.setenv("GARMENT_TRUST_UNVERIFIED", "1")
    path = ensure_model(spec, root, offline=False, trust_unverified=True if how == "argument" else None)
    assert path.read_bytes() == WEIGHTS


def test_a_file_without_a_published_hash_is_not_reported_as_verified(server: LoopbackServer, root: Path) -> None:
    """The basis a loaded model reports (segment/maps model info) says how it was trusted: a SHA-256 check, or
    the user's trust in unverified files where no hash is published."""
    from lib_garment.models.weights import registry_file

    unknown = single(server, "pose.pt", WEIGHTS, folder="yolo", reuse=(), known=False)
    loaded = registry_file(unknown, root, offline=False, trust_unverified=True)
    assert loaded.path.read_bytes() == WEIGHTS
    assert "SHA-256 verified" not in loaded.basis
    assert "unverified files are trusted" in loaded.basis
    known = single(server, "other.pt", WEIGHTS, folder="yolo", reuse=())
    assert registry_file(known, root, offline=False).basis.endswith("(SHA-256 verified)")


def test_the_registry_model_without_a_hash_is_refused_with_instructions(root: Path) -> None:
    with pytest.raises(UnverifiedFile, match="yolov8s-pose.pt.*GARMENT_TRUST_UNVERIFIED=1"):
        ensure_model("yolov8s-pose", root, offline=True)


def test_an_unknown_model_name_is_bad_input(root: Path) -> None:
    with pytest.raises(BadInput, match="unknown model 'sam_vit_x'.*sam_vit_b"):
        ensure_model("sam_vit_x", root)


# -- hashing -----------------------------------------------------------------------------------------------------------


def test_the_hash_cache_avoids_rehashing_until_the_file_changes(
    server: LoopbackServer, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda path, *a, **k: hashed.append(path) or real(path, *a, **k))
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    existing = root / "sam" / "sam_vit_b.pth"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(WEIGHTS)
    for _ in range(3):  # three starts of the WebUI: each one a fresh store reading the cache file
        assert ensure_model(spec, root, offline=True) == existing
    assert hashed == [existing]
    stat = existing.stat()
    os.utime(existing, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: must be checked again
    assert ensure_model(spec, root, offline=True) == existing
    assert hashed == [existing, existing]


def test_a_downloaded_file_is_never_hashed_a_second_time(
    server: LoopbackServer, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda path, *a, **k: hashed.append(path) or real(path, *a, **k))
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    ensure_model(spec, root, offline=False)
    ensure_model(spec, root, offline=True)
    assert hashed == []  # hashed while streaming, recorded in the cache


def test_an_unwritable_cache_only_costs_time(server: LoopbackServer, root: Path, tmp_path: Path) -> None:
    spec = single(server, "sam_vit_b.pth", WEIGHTS)
    existing = root / "sam" / "sam_vit_b.pth"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(WEIGHTS)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    store = ModelStore(root, offline=True, cache=verify.HashCache(blocker / "cache.json"))
    assert store.ensure(spec) == existing
    assert store.ensure(spec) == existing


def test_verify_file(tmp_path: Path) -> None:
    good = tmp_path / "a.pth"
    good.write_bytes(WEIGHTS)
    assert verify_file(good, sha(WEIGHTS), len(WEIGHTS)) == good
    with pytest.raises(ChecksumMismatch, match="SHA-256"):
        verify_file(good, sha(b"other"))
    with pytest.raises(ChecksumMismatch, match="bytes, expected"):
        verify_file(good, sha(WEIGHTS), len(WEIGHTS) + 1)
    with pytest.raises(UnverifiedFile):
        verify_file(good, None)
    assert verify_file(good, None, trust=True) == good
    data = tmp_path / "config.json"
    data.write_bytes(CONFIG)
    assert verify_file(data, None) == data  # cannot run code: allowed, with a logged note
    with pytest.raises(ModelUnavailable, match="does not exist"):
        verify_file(tmp_path / "missing.pth", sha(WEIGHTS))


def test_the_store_module_exports_its_api() -> None:
    assert {"ensure_model", "verify_file", "ModelStore"} <= set(store_module.__all__)
    assert get_spec("sam_vit_b").files[0].name == "sam_vit_b_01ec64.pth"
