"""Is this file the one the registry means, and may it be loaded? SHA-256 with a small on-disk cache, and the trust
policy for files whose hash is unknown.

Policy (the same for downloads and for copies found on disk):
- a size or SHA-256 that differs from the registry is always refused;
- a file with a known hash is used once the hash matches;
- without a known hash, formats that cannot run code when loaded (safetensors, JSON, text) are used with a
  logged note, and so are pickles the registry marks ``restricted_pickle`` (read by the data-only unpickler of
  ``lib_garment.models.safe_pickle``), while anything else (pickle checkpoints: .pth, .pt, .bin, .ckpt …) is refused unless the user
  trusts unverified files explicitly (argument, or ``GARMENT_TRUST_UNVERIFIED=1``), because unpickling runs code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from lib_garment.errors import ModelUnavailable
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.registry import ModelFile

log = logging.getLogger(__name__)

TRUST_ENV = "GARMENT_TRUST_UNVERIFIED"
# Formats whose loaders only parse data. Everything else is treated as possibly pickled.
DATA_ONLY_SUFFIXES = frozenset({".safetensors", ".json", ".txt", ".yaml", ".yml", ".md", ".model", ".onnx"})
CHUNK = 1 << 20


class ChecksumMismatch(ModelUnavailable):
    """A file's size or SHA-256 differs from the registry."""


class UnverifiedFile(ModelUnavailable):
    """A file that could run code when loaded has no known hash, and unverified files are not trusted."""


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def trust_unverified(explicit: bool | None = None) -> bool:
    """The explicit argument wins; otherwise ``GARMENT_TRUST_UNVERIFIED``."""
    return explicit if explicit is not None else truthy(os.environ.get(TRUST_ENV))


def is_data_only(name: str) -> bool:
    return Path(name).suffix.lower() in DATA_ONLY_SUFFIXES


def sha256_file(path: Path, progress: ProgressCallback | None = None, label: str = "") -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(label or f"verify {path.name}", done, total)
    return digest.hexdigest()


class HashCache:
    """SHA-256 values keyed by resolved path, valid while size and mtime are unchanged.

    Hashing a 2.5 GB checkpoint takes seconds; this keeps it to once per file. A cache that cannot be read or
    written (read-only models folder) only costs time, never correctness: a stale entry cannot match because
    size and mtime are part of the key.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, int | str]] | None = None
        self._lock = threading.Lock()
        self.hashed: list[Path] = []  # files actually read, for diagnostics and tests

    def _load(self) -> dict[str, dict[str, int | str]]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None and self.path.is_file():
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    if isinstance(data, dict):
                        self._entries = {k: v for k, v in data.items() if isinstance(v, dict)}
                except (OSError, ValueError):
                    log.warning("ignoring unreadable hash cache %s", self.path)
        return self._entries

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> str | None:
        key, size, mtime = self._key(path)
        with self._lock:
            entry = self._load().get(key)
        if entry and entry.get("size") == size and entry.get("mtime_ns") == mtime:
            value = entry.get("sha256")
            return value if isinstance(value, str) else None
        return None

    def put(self, path: Path, sha256: str) -> None:
        key, size, mtime = self._key(path)
        with self._lock:
            self._load()[key] = {"size": size, "mtime_ns": mtime, "sha256": sha256}
            self._save()

    def sha256(self, path: Path, progress: ProgressCallback | None = None) -> str:
        cached = self.get(path)
        if cached is not None:
            return cached
        value = sha256_file(path, progress, f"verify {path.name}")
        self.hashed.append(path)
        self.put(path, value)
        return value

    def _save(self) -> None:
        if self.path is None or self._entries is None:
            return
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._entries, indent=0, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as err:
            log.debug("could not write hash cache %s: %s", self.path, err)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # why it was refused, or the note logged when accepted without a hash
    error: type[ModelUnavailable] | None = None


def check_file(
    path: Path,
    model_file: ModelFile,
    *,
    cache: HashCache,
    trusted: bool,
    progress: ProgressCallback | None = None,
) -> Verdict:
    """May ``path`` be used as ``model_file``? Size first (free), then the SHA-256 (cached)."""
    size = path.stat().st_size
    if model_file.size is not None and size != model_file.size:
        return Verdict(
            False,
            f"{path} is {size:,} bytes, expected {model_file.size:,} (incomplete or a different file)",
            ChecksumMismatch,
        )
    if model_file.sha256 is not None:
        actual = cache.sha256(path, progress)
        if actual != model_file.sha256:
            return Verdict(
                False,
                f"{path} has SHA-256 {actual}, expected {model_file.sha256} (a different or damaged file)",
                ChecksumMismatch,
            )
        return Verdict(True)
    if is_data_only(model_file.name):
        return Verdict(True, f"{path}: no known SHA-256; used unverified because its format cannot run code")
    if model_file.restricted_pickle:
        return Verdict(True, f"{path}: no known SHA-256; read by the data-only unpickler, which cannot run code")
    if trusted:
        return Verdict(True, f"{path}: no known SHA-256; loading it anyway because unverified files are trusted")
    return Verdict(False, unverified_message(path, model_file), UnverifiedFile)


def unverified_message(path: Path | str, model_file: ModelFile) -> str:
    return (
        f"{path}: Garment Studio knows no SHA-256 for {model_file.name}, and this format can run code when "
        f"loaded (pickle), so it is not loaded. If you trust the source, allow unverified files with "
        f"{TRUST_ENV}=1 (or trust_unverified=True)."
    )
