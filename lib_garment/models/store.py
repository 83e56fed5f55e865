"""Get a model onto the disk, verified: reuse a copy the user already has, or download what is missing.

``ensure_model(name, models_root)`` is the one call loaders make before they open any weights. It returns the
file (single-file models) or the folder (Hugging Face style models) only when every file passed the checks in
``lib_garment.models.verify``; otherwise it raises :class:`~lib_garment.errors.ModelUnavailable` (or one of its
subclasses) with a message that names the file and the folder to put it in.

Search order: Garment Studio's own folder (``<models>/garment_studio/<kind>/``), other extensions' folders
(``models/sam``, ``models/grounding-dino``, ``models/adetailer``), extra folders the caller names, then the
Hugging Face cache (pinned commit first). A copy outside our own folder is never modified or deleted; one that
fails its check is skipped with a logged note. Downloads always go to our own folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lib_garment.errors import ModelUnavailable
from lib_garment.models.download import DEFAULT_TIMEOUT, download
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.registry import (
    Candidate,
    ModelFile,
    ModelSpec,
    candidates,
    get_spec,
    hf_hub_cache,
    install_path,
    own_folder,
    present,
    search_folders,
)
from lib_garment.models.verify import (
    ChecksumMismatch,
    HashCache,
    UnverifiedFile,
    Verdict,
    check_file,
    is_data_only,
    trust_unverified,
    truthy,
    unverified_message,
)
from lib_garment.paths import MODELS_SUBDIR

log = logging.getLogger(__name__)

OFFLINE_ENV = ("GARMENT_OFFLINE", "HF_HUB_OFFLINE")
HASH_CACHE_NAME = ".sha256-cache.json"


def offline_mode(explicit: bool | None = None) -> tuple[bool, str]:
    """Whether downloads are off, and what turned them off (for messages)."""
    if explicit is not None:
        return explicit, f"offline={explicit} was passed"
    for name in OFFLINE_ENV:
        if truthy(os.environ.get(name)):
            return True, f"{name}={os.environ[name]} is set"
    return False, ""


def hash_cache_for(models_root: Path) -> HashCache:
    return HashCache(models_root / MODELS_SUBDIR / HASH_CACHE_NAME)


def verify_file(
    path: Path,
    expected_sha256: str | None,
    expected_size: int | None = None,
    *,
    cache: HashCache | None = None,
    trust: bool | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Check one file against a size and SHA-256; raise ``ChecksumMismatch`` (or ``UnverifiedFile`` for a
    pickle file without a known hash, unless trusted). Returns the path, for chaining into a loader."""
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailable(f"{path} does not exist")
    model_file = ModelFile(path.name, (path.as_uri(),), expected_sha256, expected_size)
    verdict = check_file(
        path, model_file, cache=cache or HashCache(None), trusted=trust_unverified(trust), progress=progress
    )
    if not verdict.ok:
        raise (verdict.error or ModelUnavailable)(verdict.reason)
    if verdict.reason:
        log.info("%s", verdict.reason)
    return path


@dataclass
class ModelStore:
    """Settings shared by every lookup in one job: where to look, whether to download, whom to tell."""

    models_root: Path
    offline: bool | None = None  # None: from GARMENT_OFFLINE / HF_HUB_OFFLINE
    trust_unverified: bool | None = None  # None: from GARMENT_TRUST_UNVERIFIED
    extra_folders: tuple[Path, ...] = ()
    hub_cache: Path | None = field(default_factory=hf_hub_cache)  # None: do not look in the HF cache
    progress: ProgressCallback | None = None
    timeout: float = DEFAULT_TIMEOUT
    cache: HashCache | None = None

    def __post_init__(self) -> None:
        self.models_root = Path(self.models_root)
        if self.cache is None:
            self.cache = hash_cache_for(self.models_root)

    # -- looking -------------------------------------------------------------------------------------------------
    def _check(self, spec: ModelSpec, candidate: Candidate, trusted: bool) -> list[tuple[ModelFile, Verdict]]:
        """Verdicts for the files of one candidate; stops at the first refusal (no point hashing the rest)."""
        assert self.cache is not None
        verdicts = []
        for model_file in spec.files:
            path = candidate.file(spec, model_file)
            verdict = (
                check_file(path, model_file, cache=self.cache, trusted=trusted, progress=self.progress)
                if path.is_file()
                else Verdict(False, f"{path} is missing")
            )
            verdicts.append((model_file, verdict))
            if not verdict.ok:
                break
        return verdicts

    def find(self, spec: ModelSpec, *, trusted: bool | None = None) -> tuple[Path | None, list[str]]:
        """The first complete copy that passes every check, and the reasons other copies were skipped."""
        trusted = trust_unverified(self.trust_unverified) if trusted is None else trusted
        skipped: list[str] = []
        for candidate in candidates(spec, self.models_root, self.extra_folders, self.hub_cache):
            if not present(spec, candidate):
                continue
            verdicts = self._check(spec, candidate, trusted)
            refused = [v.reason for _, v in verdicts if not v.ok]
            if refused:
                log.warning("not using %s: %s", candidate.path, refused[0])
                skipped.extend(refused)
                continue
            for _, verdict in verdicts:
                if verdict.reason:
                    log.info("%s", verdict.reason)
            return candidate.path, skipped
        return None, skipped

    # -- getting -------------------------------------------------------------------------------------------------
    def ensure(self, name: str | ModelSpec) -> Path:
        """The verified model on disk, downloading what is missing unless offline."""
        spec = get_spec(name) if isinstance(name, str) else name
        trusted = trust_unverified(self.trust_unverified)
        unverifiable = [f for f in spec.files if f.sha256 is None and not _cannot_run_code(f)]
        if unverifiable and not trusted:
            # Neither a copy on disk nor a fresh download could be checked: refuse before any work.
            where = install_path(spec, self.models_root)
            raise UnverifiedFile(f"{spec.name}: {unverified_message(where, unverifiable[0])}")
        found, skipped = self.find(spec, trusted=trusted)
        if found is not None:
            return found
        target = install_path(spec, self.models_root)
        own = Candidate(target, own=True)
        missing = [f for f in spec.files if not self._own_file_ok(spec, own, f, trusted)]
        offline, why = offline_mode(self.offline)
        if offline:
            raise ModelUnavailable(self._offline_message(spec, missing, skipped, why))
        for model_file in missing:
            self._download(spec, own.file(spec, model_file), model_file)
        return target

    def _own_file_ok(self, spec: ModelSpec, own: Candidate, model_file: ModelFile, trusted: bool) -> bool:
        """A file already in our own folder that passes (a partly downloaded model folder keeps its good files)."""
        assert self.cache is not None
        path = own.file(spec, model_file)
        if not path.is_file():
            return False
        return check_file(path, model_file, cache=self.cache, trusted=trusted, progress=self.progress).ok

    def _download(self, spec: ModelSpec, dest: Path, model_file: ModelFile) -> None:
        assert self.cache is not None
        log.info("downloading %s for %s into %s", model_file.name, spec.name, dest.parent)
        fetched = download(
            model_file.urls,
            dest,
            sha256=model_file.sha256,
            size=model_file.size,
            progress=self.progress,
            timeout=self.timeout,
            label=f"download {model_file.name}",
        )
        self.cache.put(dest, fetched.sha256)  # already hashed while streaming: never hash it again
        if model_file.sha256 is None:
            why = "its format cannot run code" if _cannot_run_code(model_file) else "unverified files are trusted"
            log.info("%s: no known SHA-256 (got %s); kept because %s", dest, fetched.sha256, why)

    def _offline_message(self, spec: ModelSpec, missing: list[ModelFile], skipped: list[str], why: str) -> str:
        folder = install_path(spec, self.models_root) if spec.is_dir else own_folder(spec, self.models_root)
        names = ", ".join(f"{f.name}{_size_text(f.size)}" for f in missing)
        others = [
            p
            for p in search_folders(spec, self.models_root, self.extra_folders)
            if p != own_folder(spec, self.models_root)
        ]
        lines = [
            f"model {spec.name!r} is not on disk and downloads are off ({why}).",
            f"Missing: {names}.",
            f"Put {'them' if len(missing) > 1 else 'it'} in {folder}"
            + (f" (also looked in: {', '.join(str(p) for p in others)})" if others else "")
            + ".",
        ]
        lines += [f"Not used: {reason}" for reason in skipped]
        lines += [f"Download {f.name} from {f.urls[0]}" for f in missing]
        return "\n".join(lines)


def _cannot_run_code(model_file: ModelFile) -> bool:
    """Loading it runs no code: a data format, or a pickle read by the data-only unpickler."""
    return is_data_only(model_file.name) or model_file.restricted_pickle


def _size_text(size: int | None) -> str:
    return f" ({size / 2**20:,.1f} MiB)" if size else ""


def ensure_model(
    name: str | ModelSpec,
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
    extra_folders: Iterable[Path] = (),
    hub_cache: Path | None = None,
    search_hub_cache: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """The model's verified file or folder, reusing existing copies and downloading the rest (see module doc).

    ``hub_cache`` overrides where the Hugging Face cache is looked for (default: where huggingface_hub keeps it);
    ``search_hub_cache=False`` skips it.
    """
    cache_dir = (Path(hub_cache) if hub_cache is not None else hf_hub_cache()) if search_hub_cache else None
    store = ModelStore(
        Path(models_root),
        offline=offline,
        trust_unverified=trust_unverified,
        extra_folders=tuple(Path(p) for p in extra_folders),
        hub_cache=cache_dir,
        progress=progress,
        timeout=timeout,
    )
    return store.ensure(name)


__all__ = [
    "ChecksumMismatch",
    "ModelStore",
    "UnverifiedFile",
    "ensure_model",
    "offline_mode",
    "verify_file",
]
