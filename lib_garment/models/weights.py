"""Which weight files may be loaded, and loading torch checkpoints once they may.

Unpickling runs code, so a ``.pth``/``.pt`` file is opened only as a :class:`TrustedFile`, which is made in
exactly three ways:

- :func:`registry_file`: ``ensure_model`` found (or downloaded) the registry's file and its SHA-256 matched
  (the registry's hash policy, :mod:`lib_garment.models.verify`);
- :func:`user_file`: a user's own file of any name, trusted when its size and SHA-256 match one of the
  registry's files of that family (a renamed ``sam_vit_b_01ec64.pth`` is still that file), otherwise only
  when unverified files are trusted explicitly;
- :func:`explicit_file`: a path handed in by code (tests, benchmarks) together with ``trust=True``.

Even then :func:`load_torch_state` asks torch for a weights-only load first; only a verified file that needs
more than tensors (some training checkpoints hold extra Python objects) is unpickled in full.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib_garment.errors import ModelUnavailable
from lib_garment.models.progress import ProgressCallback
from lib_garment.models.registry import MODELS, ModelSpec, get_spec
from lib_garment.models.store import ensure_model, hash_cache_for
from lib_garment.models.verify import TRUST_ENV, UnverifiedFile, is_data_only
from lib_garment.models.verify import trust_unverified as unverified_trusted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrustedFile:
    """A weights file cleared for loading; ``basis`` says why (for provenance and messages)."""

    path: Path
    basis: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))


def registry_file(
    spec: str | ModelSpec,
    models_root: Path,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool | None = None,
) -> TrustedFile:
    """The registry model's verified file (or folder), found on disk or downloaded (see ``ensure_model``)."""
    path = ensure_model(spec, models_root, offline=offline, progress=progress, trust_unverified=trust_unverified)
    entry = get_spec(spec) if isinstance(spec, str) else spec  # the lookup ensure_model made
    # A file with no published hash (e.g. yolov8s-pose) was loaded only because unverified files are trusted:
    # the basis a report shows must say so, not claim a check that never happened.
    checked = all(f.sha256 for f in entry.files)
    how = "SHA-256 verified" if checked else "no published SHA-256; loaded because unverified files are trusted"
    return TrustedFile(path, f"registry model {entry.name} ({how})")


def explicit_file(path: str | Path, *, trust: bool) -> TrustedFile:
    """A file named by code rather than found through the registry: loadable only with ``trust=True``
    (or when its format cannot run code)."""
    path = Path(path)
    if not path.exists():
        raise ModelUnavailable(f"{path} does not exist")
    if not trust and not (path.is_file() and is_data_only(path.name)):
        raise UnverifiedFile(f"{path} is not a registry-verified file; pass trust=True to load it anyway")
    return TrustedFile(path, "trusted by the caller")


def user_file(
    path: str | Path,
    family: str,
    models_root: Path,
    *,
    trust_unverified: bool | None = None,
    progress: ProgressCallback | None = None,
    models: tuple[ModelSpec, ...] = MODELS,
) -> TrustedFile:
    """A user's checkpoint of any name: trusted when it is byte for byte a registry file of ``family``
    (size first, so most files are never hashed), or when unverified files are trusted."""
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailable(f"{path} does not exist")
    size = path.stat().st_size
    known = [(spec, f) for spec in models if spec.family == family for f in spec.files if f.sha256 and f.size == size]
    if known:
        digest = hash_cache_for(models_root).sha256(path, progress)
        for spec, model_file in known:
            if digest == model_file.sha256:
                return TrustedFile(path, f"same SHA-256 as the registry's {model_file.name} ({spec.name})")
    if is_data_only(path.name):
        return TrustedFile(path, "a format that cannot run code")
    if unverified_trusted(trust_unverified):
        log.warning("%s matches no registry file; loading it because unverified files are trusted", path)
        return TrustedFile(path, "unverified; trusted by the user")
    raise UnverifiedFile(
        f"{path} is not one of the {family} files Garment Studio knows (no size and SHA-256 match), and this "
        f"format can run code when loaded (pickle), so it is not loaded. If you trust its source, allow "
        f"unverified files with {TRUST_ENV}=1 (or --trust-unverified)."
    )


def load_torch_state(weights: TrustedFile) -> dict[str, Any]:
    """The state dict of a checkpoint: a bare one, or the ``model``/``state_dict`` entry of a training
    checkpoint, with the ``module.`` prefix of DataParallel saves removed. Tensors stay on the CPU."""
    if not isinstance(weights, TrustedFile):
        raise TypeError("checkpoints are loaded only from a TrustedFile (see lib_garment.models.weights)")
    import torch

    try:
        checkpoint = torch.load(weights.path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError) as err:
        # Extra Python objects (an argparse Namespace, an optimizer) beside the tensors. The file itself is
        # verified or trusted, so the full unpickler may read it.
        log.info("%s needs a full unpickle (%s)", weights.path, str(err).splitlines()[0] if str(err) else err)
        try:
            checkpoint = torch.load(weights.path, map_location="cpu", weights_only=False)
        except Exception as full_err:
            raise ModelUnavailable(f"cannot read {weights.path}: {full_err}") from full_err
    except (OSError, EOFError) as err:
        raise ModelUnavailable(f"cannot read {weights.path}: {err}") from err
    return unwrap_state(checkpoint, weights.path)


def unwrap_state(checkpoint: Any, where: Path | str = "checkpoint") -> dict[str, Any]:
    """The tensors of a checkpoint: see :func:`load_torch_state`."""
    for key in ("model", "state_dict"):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        raise ModelUnavailable(f"{where} holds no state dict (got {type(checkpoint).__name__})")
    state = {str(k): v for k, v in checkpoint.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state
