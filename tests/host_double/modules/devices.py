"""``modules.devices``: ``device``, ``cpu``, ``get_device_for``, ``torch_gc`` (host-contract §1 ``--use-cpu``).

torch is imported only when a ``torch.device``/dtype attribute is first read, so tests that never touch it
stay light; the device is always the CPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

from modules import shared


class NansException(Exception):
    pass


def torch_gc() -> None:
    """Nothing to free: no tensors live on a device in the double."""


def get_optimal_device_name() -> str:
    return "cpu"


def get_optimal_device() -> Any:
    import torch

    return torch.device(get_optimal_device_name())


def get_device_for(task: str) -> Any:
    """CPU when ``task`` or ``all`` is in ``--use-cpu``; else the main device (also the CPU here)."""
    if task in shared.cmd_opts.use_cpu or "all" in shared.cmd_opts.use_cpu:
        return __getattr__("cpu")
    return get_optimal_device()


def autocast(disable: bool = False) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def without_autocast(disable: bool = False) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def test_for_nans(x: Any, where: str) -> None:
    """The fake sampler never produces NaNs."""


_LAZY = {
    "cpu": lambda torch: torch.device("cpu"),
    "device": lambda torch: torch.device("cpu"),
    "device_interrogate": lambda torch: torch.device("cpu"),
    "device_gfpgan": lambda torch: torch.device("cpu"),
    "device_esrgan": lambda torch: torch.device("cpu"),
    "device_codeformer": lambda torch: torch.device("cpu"),
    "dtype": lambda torch: torch.float32,
    "dtype_vae": lambda torch: torch.float32,
    "dtype_unet": lambda torch: torch.float32,
    "dtype_inference": lambda torch: torch.float32,
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import torch

        value = _LAZY[name](torch)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modules.devices' has no attribute {name!r}")
