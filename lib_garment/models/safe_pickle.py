"""Load a PyTorch checkpoint whose pickle may only rebuild data: tensors, numbers, strings, containers, numpy.

A pickle runs whatever its globals name, which is why a pickle checkpoint without a known SHA-256 is normally
refused (``lib_garment.models.verify``). Some checkpoints have no published hash at all (DepthFM's
``depthfm-v1.ckpt``); for those the registry marks the file ``restricted_pickle``: it is read with an unpickler
that resolves only the globals in :data:`ALLOWED`, the ones needed to rebuild tensors and plain data, and
refuses any other with a message naming it. Nothing in a refused file ever runs.

``torch.load(weights_only=True)`` is the same idea, but on the torches the WebUIs ship (2.1.2, 2.3.1) it also
refuses numpy arrays, which research checkpoints store (DepthFM keeps its empty-prompt embedding as one).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from lib_garment.errors import ModelUnavailable

ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch", "Size"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes (numpy array data)
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),  # numpy 2 spells the module this way
        ("numpy._core.multiarray", "scalar"),
    }
)


class RefusedGlobal(ModelUnavailable):
    """The checkpoint names a global outside :data:`ALLOWED`: loading it could run code."""


def _allowed_dtype(module: str, name: str) -> bool:
    """``torch.float16`` and friends: attributes of torch that are dtypes (pickled by name)."""
    if module != "torch":
        return False
    import torch

    return isinstance(getattr(torch, name, None), torch.dtype)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED` globals (and torch dtypes)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED or _allowed_dtype(module, name):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


class _RestrictedPickleModule:
    """What ``torch.load(pickle_module=...)`` needs of a pickle module."""

    __name__ = "garment_restricted_pickle"
    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()


def load_restricted_checkpoint(path: Path | str) -> Any:
    """The checkpoint at ``path`` on the CPU, rebuilt by :class:`RestrictedUnpickler`.

    Raises :class:`RefusedGlobal` naming the first global the file asks for that is not plain data.
    """
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", pickle_module=_RestrictedPickleModule, weights_only=False)
    except pickle.UnpicklingError as err:
        raise RefusedGlobal(
            f"{path} asks to run {err} while loading, which is not plain data, so Garment Studio's safe loader "
            "refused it. If you trust where the file came from, allow unverified files with "
            "GARMENT_TRUST_UNVERIFIED=1 to load it with plain torch.load."
        ) from None


def load_checkpoint(path: Path | str, *, trusted: bool) -> Any:
    """A checkpoint through the safe loader, or plain ``torch.load`` when the user trusts unverified files."""
    if not trusted:
        return load_restricted_checkpoint(path)
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=False)
