"""Model runtime: one interface, two implementations, for every model family.

Engine functions are plain functions named ``"package.module:function"`` that keep their models resident
with ``cached_model``. Callers pick a runtime by what the function needs and call through it::

    runtime = get_runtime("transformers>=4.34")          # in-process, the model worker, or ModelUnavailable
    found = runtime.call("lib_garment.segment.backends.vitmatte:matte", str(path), image, trimap)

See ``base`` (the interface), ``selection`` (which runtime), ``in_process`` and ``worker`` (the two
implementations; ``worker_main`` is the worker's side, ``wire`` the frames between them), ``cache`` (resident
models), ``errors`` (what a failed call raises), ``devices`` (which torch device a model runs on, resolved in
the process that runs it) and ``diagnostics`` (health checks any runtime can run).
"""

from __future__ import annotations

from lib_garment.runtime.base import IN_PROCESS, WORKER, Mode, ModelRuntime
from lib_garment.runtime.cache import cache_info, cached_model, offload_models, unload_models
from lib_garment.runtime.errors import RemoteTraceback, WorkerCallError, WorkerCrashed, WorkerError, WorkerTimeout
from lib_garment.runtime.in_process import InProcessRuntime
from lib_garment.runtime.selection import (
    POLICY_ENV,
    RuntimeChoice,
    choose_runtime,
    close_all,
    get_runtime,
    in_process_runtime,
    offload_all,
    shared_worker,
    unload_all,
)
from lib_garment.runtime.worker import WorkerRuntime

__all__ = [
    "IN_PROCESS",
    "POLICY_ENV",
    "WORKER",
    "InProcessRuntime",
    "Mode",
    "ModelRuntime",
    "RemoteTraceback",
    "RuntimeChoice",
    "WorkerCallError",
    "WorkerCrashed",
    "WorkerError",
    "WorkerRuntime",
    "WorkerTimeout",
    "cache_info",
    "cached_model",
    "choose_runtime",
    "close_all",
    "get_runtime",
    "in_process_runtime",
    "offload_all",
    "offload_models",
    "shared_worker",
    "unload_all",
    "unload_models",
]
