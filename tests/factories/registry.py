"""Random model files placed where the production registry looks for them, with a registry that knows them.

A random file under a released file's name is not the released file: the real registry's SHA-256 refuses it. A
test (or a check against a real WebUI) therefore swaps in the real registry with the placed entries' sizes and
hashes replaced by the placed files' own, so the whole lookup-and-verify path still runs on them. Used by the
tests and by tools/check_webui_ablation.py.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def place_models(models_root: Path, sources: Mapping[str, Path]) -> tuple[Any, ...]:
    """Link each source (a file for a single-file entry, the model's folder for a folder entry) to where the
    registry entry named by its key is installed under ``models_root``; return ``registry.MODELS`` with those
    entries' files carrying the linked files' sizes and SHA-256 (the caller puts it in place of the real one)."""
    from lib_garment.models import registry

    replaced = {}
    for name, source in sources.items():
        spec = registry.get_spec(name)
        target = registry.install_path(spec, models_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A link, not a copy: the tools' real-size files are hundreds of MB, and the registry hashes what it reads.
        os.symlink(Path(source).resolve(), target, target_is_directory=spec.is_dir)
        files = tuple(
            replace(f, sha256=_sha256(path), size=path.stat().st_size)
            for f, path in ((f, target / f.name if spec.is_dir else target) for f in spec.files)
        )
        replaced[name] = replace(spec, files=files)
    return tuple(replaced.get(spec.name, spec) for spec in registry.MODELS)
