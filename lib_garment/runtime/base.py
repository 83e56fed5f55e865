"""The one interface every model family runs through, whichever process the model lives in."""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

IN_PROCESS = "in-process"
WORKER = "worker"
Mode = Literal["in-process", "worker"]

_FUNCTION = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_function_name(function: str) -> None:
    """Refuse anything but ``package.module:function`` (or ``module:Class.method``) before any work starts."""
    if not isinstance(function, str) or not _FUNCTION.match(function):
        raise ValueError(f"function must look like 'package.module:function', got {function!r}")


def resolve_function(function: str) -> Callable[..., Any]:
    """Import the module and return the named attribute (dots after the colon walk attributes)."""
    check_function_name(function)
    module_name, _, path = function.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in path.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{function} is not callable")
    return target


class ModelRuntime(ABC):
    """Runs engine functions where their packages are: here (``in-process``) or in the model worker.

    ``function`` names the engine function as ``"package.module:function"``; arguments and the result must
    be picklable (numpy arrays, dicts, dataclasses, paths). Functions keep their models resident with
    ``lib_garment.runtime.cache.cached_model``, in whichever process runs them. Calls are serialised: one
    at a time per runtime. ``timeout`` is a keyword of ``call`` itself, so functions cannot take a keyword
    argument of that name.
    """

    mode: Mode

    @abstractmethod
    def call(self, function: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` and return its result."""

    @abstractmethod
    def unload(self) -> int:
        """Drop every cached model and give back GPU memory; returns how many models were dropped."""

    @abstractmethod
    def offload(self) -> int:
        """Move cached torch models to the CPU (the WebUI needs the GPU); returns how many moved.

        They move back to their device on their next use.
        """

    @abstractmethod
    def close(self) -> None:
        """Release everything. For the worker: stop the process (all its GPU memory, CUDA context included).

        A closed runtime still works: the next call starts over.
        """

    def __enter__(self) -> ModelRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
