"""Server paths confined to the catalogue folder (lib_garment/catalogue/paths.py): a property over any relative
path made of names, ``..`` and ``.``, against a plain reference (the lexical walk, no links); symlinks that
leave the folder and ones that stay; absolute paths; uploads unpacked from a zip with unsafe entries refused."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib_garment.catalogue.lock import FolderLock
from lib_garment.catalogue.paths import confined, output_folder, photo_root, safe_member, unpack_zip
from lib_garment.errors import BadInput
from tests.properties import BOUNDED

PARTS = st.lists(st.sampled_from(["a", "b", "..", ".", "c.csv"]), min_size=1, max_size=8)


def lexical_inside(parts: list[str]) -> bool:
    """The reference: walk the parts from the root; inside unless some ``..`` climbs above it."""
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


@BOUNDED
@given(parts=PARTS)
def test_a_relative_path_is_accepted_exactly_when_it_stays_inside(tmp_path_factory, parts) -> None:
    root = tmp_path_factory.getbasetemp() / "fence" / "root"
    root.mkdir(parents=True, exist_ok=True)
    text = "/".join(parts)
    if lexical_inside(parts):
        found = confined(text, root, "manifest")
        assert found == root.resolve() or root.resolve() in found.parents
    else:
        with pytest.raises(BadInput, match="manifest .* is outside the catalogue folder"):
            confined(text, root, "manifest")


def test_symlinks_are_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "inner").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "in").symlink_to(root / "inner", target_is_directory=True)
    (root / "inner" / "file.csv").write_text("sku\n")
    (root / "file-out.csv").symlink_to(tmp_path / "secret.csv")
    assert confined("in/file.csv", root, "manifest") == (root / "inner" / "file.csv").resolve()
    for text in ("out", "out/x.csv", "file-out.csv", str(outside)):
        with pytest.raises(BadInput, match="outside the catalogue folder"):
            confined(text, root, "photo folder")
    assert confined(str(root / "inner"), root, "photo folder") == (root / "inner").resolve()  # absolute inside


def test_empty_and_nul_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="manifest is empty"):
        confined("  ", tmp_path, "manifest")
    with pytest.raises(BadInput, match="NUL"):
        confined("a\0b", tmp_path, "manifest")


def test_an_output_folder_is_one_plain_name(tmp_path: Path) -> None:
    assert output_folder("run-1", tmp_path) == (tmp_path / "run-1").resolve()
    for name in ("a/b", ".hidden", "", "x y"):
        with pytest.raises(BadInput, match="output folder"):
            output_folder(name, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="exists and is not a folder"):
        output_folder("file", tmp_path)


def test_zip_entries_that_leave_the_folder_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ok.png", b"x")
        bundle.writestr("../evil.png", b"x")
        bundle.writestr("/abs.png", b"x")
        bundle.writestr("a/../../b.png", b"x")
    target = tmp_path / "unpacked"
    with pytest.raises(
        BadInput, match=r"absolute paths or '\.\.'.*'\.\./evil\.png', '/abs\.png', 'a/\.\./\.\./b\.png'"
    ):
        unpack_zip(archive, target)
    assert not target.exists()
    assert not (tmp_path / "evil.png").exists()
    assert safe_member("C:/x.png") is None
    assert safe_member("dir\\..\\x") is None
    assert safe_member("shoot/a.png") is not None


def test_a_zip_is_unpacked_and_a_single_top_folder_is_its_photo_folder(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("shoot/a.png", b"1")
        bundle.writestr("shoot/b.png", b"2")
        bundle.writestr("__MACOSX/shoot/._a.png", b"")
    written = unpack_zip(archive, tmp_path / "u")
    assert sorted(p.name for p in written) == ["._a.png", "a.png", "b.png"]
    assert photo_root(tmp_path / "u") == tmp_path / "u" / "shoot"
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(BadInput, match="not a zip file"):
        unpack_zip(tmp_path / "bad.zip", tmp_path / "v")


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_one_run_per_folder(tmp_path: Path) -> None:
    first = FolderLock.acquire(tmp_path / "out")
    with pytest.raises(BadInput, match="another batch is running"):
        FolderLock.acquire(tmp_path / "out")
    first.release()
    FolderLock.acquire(tmp_path / "out").release()
