"""``modules.extensions``: the installed extension list and ``active()`` (host-contract §1 "Discovery")."""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# ruff: noqa: PTH112, PTH113, PTH118, PTH122

from __future__ import annotations

import os

from modules import shared
from modules.paths_internal import extensions_builtin_dir, extensions_dir


class Extension:
    def __init__(self, name: str, path: str, enabled: bool = True, is_builtin: bool = False) -> None:
        self.name = name
        self.path = path
        self.enabled = enabled
        self.is_builtin = is_builtin
        # The WebUI overwrites metadata.ini's Name with the lowercased dir name (host-contract §1 quirk).
        self.canonical_name = name.lower().strip()
        self.status = ""
        self.can_update = False
        self.commit_hash = ""
        self.commit_date = None
        self.version = ""
        self.branch = None
        self.remote = None
        self.have_info_from_repo = False

    def list_files(self, subdir: str, extension: str) -> list:
        """Top-level files of ``subdir`` with the suffix, sorted by name; subfolders are ignored."""
        from modules import scripts

        dirpath = os.path.join(self.path, subdir)
        if not os.path.isdir(dirpath):
            return []
        res = []
        for filename in sorted(os.listdir(dirpath)):
            path = os.path.join(dirpath, filename)
            if os.path.isfile(path) and os.path.splitext(filename)[1].lower() == extension:
                res.append(scripts.ScriptFile(self.path, filename, path))
        return res

    def read_info_from_repo(self) -> None:
        """No git metadata in the double."""


extensions: list[Extension] = []
extension_paths: dict[str, Extension] = {}


def active() -> list[Extension]:
    if shared.cmd_opts.disable_all_extensions or shared.opts.disable_all_extensions == "all":
        return []
    if shared.cmd_opts.disable_extra_extensions or shared.opts.disable_all_extensions == "extra":
        return [x for x in extensions if x.enabled and x.is_builtin]
    return [x for x in extensions if x.enabled]


def list_extensions() -> None:
    """Built-ins first, then user extensions, each group sorted by directory name."""
    extensions.clear()
    extension_paths.clear()
    disabled = set(shared.opts.data.get("disabled_extensions", []) or [])
    for base, is_builtin in ((extensions_builtin_dir, True), (extensions_dir, False)):
        if not os.path.isdir(base):
            continue
        for dirname in sorted(os.listdir(base)):
            path = os.path.join(base, dirname)
            if not os.path.isdir(path) or dirname.startswith("."):
                continue
            ext = Extension(dirname, path, enabled=dirname not in disabled, is_builtin=is_builtin)
            extensions.append(ext)
            extension_paths[path] = ext
