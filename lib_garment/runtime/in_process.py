"""The runtime for models the host's own packages can run: a plain call in the WebUI's process."""

from __future__ import annotations

import pickle
import threading
from typing import Any

from lib_garment.runtime import cache
from lib_garment.runtime.base import IN_PROCESS, Mode, ModelRuntime, resolve_function
from lib_garment.runtime.wire import PROTOCOL


def _pickle_roundtrip(value: Any) -> Any:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=PROTOCOL, buffer_callback=buffers.append)
    return pickle.loads(data, buffers=buffers)


class InProcessRuntime(ModelRuntime):
    """Calls functions directly, one at a time (a model on the GPU is not run by two threads at once).

    ``timeout`` is accepted and not enforced: a thread cannot be stopped safely, so a slow call runs to its
    end. ``check_pickling`` sends arguments and results through pickle as the worker would, so tests catch
    a function whose result could not cross the process boundary in every environment (off in production:
    it copies nothing useful).
    """

    mode: Mode = IN_PROCESS

    def __init__(self, *, check_pickling: bool = False) -> None:
        self.check_pickling = check_pickling
        # Re-entrant: an engine function running here may call another one through the same runtime.
        self._lock = threading.RLock()

    def call(self, function: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        target = resolve_function(function)
        if self.check_pickling:
            args, kwargs = _pickle_roundtrip((args, kwargs))
        with self._lock:
            result = target(*args, **kwargs)
        return _pickle_roundtrip(result) if self.check_pickling else result

    def unload(self) -> int:
        with self._lock:
            return cache.unload_models()

    def offload(self) -> int:
        with self._lock:
            return cache.offload_models()

    def close(self) -> None:
        self.unload()

    def __repr__(self) -> str:
        return f"InProcessRuntime(check_pickling={self.check_pickling})"
