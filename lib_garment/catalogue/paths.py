"""Server paths a WebUI user or API caller names (a manifest, a photo folder, an output folder) kept inside one
root folder, and uploads unpacked there.

The WebUI's tab and REST routes let someone other than the server's owner name files on the server: without a
fence an API caller could read any image (a manifest row's ``image``) or write anywhere (``output``). Every such
path is resolved with symlinks followed and must stay inside the root the Settings page names; anything else is
refused by name. A path is checked once and the resolved path is what is used afterwards, so a link changed
later cannot move the work outside.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from lib_garment.catalogue.manifest import Manifest
from lib_garment.errors import BadInput

# An output folder is one name (it is also the run's id in URLs): letters, digits, '.', '_' and '-'.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
MAX_UNPACKED_BYTES = 8 << 30  # a zip bomb stops here, far above any real shoot
MAX_ENTRIES = 100_000


def confined(path: str | os.PathLike[str], root: Path, what: str, *, loc: tuple[str, ...] = ()) -> Path:
    """``path`` (relative to ``root``, or absolute) resolved with symlinks followed; BadInput naming ``what`` when
    it is empty or lies outside ``root`` (``..``, an absolute path elsewhere, a link that leaves it)."""
    text = os.fspath(path)
    if not text.strip():
        raise BadInput(f"{what} is empty: give a path under the catalogue folder {root}", loc=loc)
    if "\0" in text:
        raise BadInput(f"{what} {text!r} holds a NUL character", loc=loc)
    base = root.resolve()
    try:
        resolved = (base / text).resolve()  # an absolute ``text`` replaces base; links are followed
    except (OSError, RuntimeError) as err:  # a link loop, an over-long name
        raise BadInput(f"{what} {text!r} cannot be resolved: {err}", loc=loc) from None
    if resolved != base and base not in resolved.parents:
        raise BadInput(
            f"{what} {text!r} is outside the catalogue folder {base} (resolved to {resolved}): server paths must "
            "stay under the folder set in Settings → Garment Studio → Catalogue folder",
            loc=loc,
        )
    return resolved


def output_folder(name: str, root: Path, *, loc: tuple[str, ...] = ()) -> Path:
    """The output folder ``name`` directly under ``root`` (confined, and one plain name: it is the run's id)."""
    folder = confined(name, root, "output folder", loc=loc)
    if not _NAME.fullmatch(name) or ".." in name:
        raise BadInput(
            f"output folder {name!r} must be one folder name under the catalogue folder: letters, digits, '.', '_' "
            "and '-' (not starting with '.')",
            loc=loc,
        )
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"output folder {name!r} exists and is not a folder", loc=loc)
    return folder


def confine_rows(manifest: Manifest, root: Path) -> Manifest:
    """A :class:`~lib_garment.catalogue.manifest.Manifest` whose rows' photos and masks lie outside ``root``
    taken out, each named as a problem with its row (so the user sees them with every other problem)."""
    problems, rows = list(manifest.problems), []
    for row in manifest.rows:
        bad = []
        for what, path in (("image", row.image), ("mask", row.mask)):
            if path is None:
                continue
            try:
                confined(path, root, what)
            except BadInput as err:
                bad.append(f"{row.where}: {err}")
        problems += bad
        if not bad:
            rows.append(row)
    return dataclasses.replace(manifest, rows=tuple(rows), problems=tuple(problems))


def safe_member(name: str) -> PurePosixPath | None:
    """A zip entry's name as a relative path, or None when it is absolute or climbs out (``..``, a drive)."""
    if not name or "\0" in name or PureWindowsPath(name).drive:
        return None
    parts = PurePosixPath(name.replace("\\", "/"))
    if parts.is_absolute() or any(part == ".." for part in parts.parts):
        return None
    return parts


def unpack_zip(archive: str | os.PathLike[str], target: Path) -> list[Path]:
    """The zip's files written under ``target`` (a fresh folder); BadInput naming every entry that is absolute or
    climbs out with ``..`` (nothing is written then), a file that is not a zip, or one too large unpacked."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            unsafe = [m.filename for m in members if safe_member(m.filename) is None]
            if unsafe:
                shown = ", ".join(map(repr, unsafe[:10])) + (" …" if len(unsafe) > 10 else "")
                raise BadInput(f"the zip has entries with absolute paths or '..' (refused, nothing unpacked): {shown}")
            if len(members) > MAX_ENTRIES or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise BadInput(
                    f"the zip is too large unpacked (at most {MAX_ENTRIES} files, {MAX_UNPACKED_BYTES >> 30} GiB)"
                )
            target.mkdir(parents=True, exist_ok=True)
            written = []
            for member in members:
                relative = safe_member(member.filename)
                assert relative is not None
                destination = confined(str(relative), target, f"zip entry {member.filename!r}")
                destination.parent.mkdir(parents=True, exist_ok=True)
                # Entries are copied as bytes: a symlink entry becomes a small file, never a link.
                with bundle.open(member) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                written.append(destination)
    except zipfile.BadZipFile as err:
        raise BadInput(f"the photos upload is not a zip file ({err})") from None
    return written


def photo_root(folder: Path) -> Path:
    """Where an unpacked zip's photos are: the folder, or its one sub-folder when the zip wrapped them in one."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder
