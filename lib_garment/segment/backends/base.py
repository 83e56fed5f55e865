"""What every backend shares: call statistics, the runtime call that fills them, and engine-side helpers.

Engine functions return plain dicts whose ``"timings"`` entry says where their time went, measured in the
process that ran them: ``load_s`` (a model loaded by this call; 0 when it was resident), ``model_s`` (the
model's forward passes alone), ``total_s`` (the whole function). The backend object adds the wall time it
measured around the runtime call, so ``wall_s - total_s`` is what the runtime itself cost (the worker's
pickling and pipes; about nothing in-process).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lib_garment.runtime import ModelRuntime
from lib_garment.runtime.cache import cached_model
from lib_garment.runtime.devices import check_device

T = TypeVar("T")


@dataclass
class CallStats:
    """Totals over every call a backend made (all images so far)."""

    calls: int = 0
    wall_s: float = 0.0  # measured here, around the runtime call
    total_s: float = 0.0  # the engine function's own time, in the process that ran it
    model_s: float = 0.0  # the forward passes alone
    load_s: float = 0.0  # model loads (once per process, on the first call)
    encodings: int = 0  # SAM: image embeddings computed (one per distinct image)
    last: dict[str, float] = field(default_factory=dict)  # the latest call's timings, wall_s included

    @property
    def runtime_overhead_s(self) -> float:
        """Wall time not spent inside the engine function: the runtime's round trips."""
        return max(0.0, self.wall_s - self.total_s)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["runtime_overhead_s"] = self.runtime_overhead_s
        return data

    def copy(self) -> CallStats:
        return CallStats(**{**asdict(self), "last": dict(self.last)})

    def since(self, before: CallStats) -> dict[str, float]:
        """What was added after ``before`` was copied (one image's share of the totals)."""
        return {
            "calls": self.calls - before.calls,
            "wall_s": self.wall_s - before.wall_s,
            "model_s": self.model_s - before.model_s,
            "load_s": self.load_s - before.load_s,
            "runtime_overhead_s": max(0.0, (self.wall_s - before.wall_s) - (self.total_s - before.total_s)),
            "encodings": self.encodings - before.encodings,
        }


class RuntimeBackend:
    """A backend object that runs its engine functions through one runtime and keeps :class:`CallStats`."""

    name = "backend"

    def __init__(self, runtime: ModelRuntime, device: str | None = None) -> None:
        self.runtime = runtime
        self.device = check_device(device)  # None: the GPU when the running process sees one
        self.stats = CallStats()
        self.model_info: dict[str, Any] = {}  # what the engine reported about the loaded model
        self.origin: dict[str, Any] = {}  # where the files came from (set by whoever built the backend)

    @property
    def runtime_mode(self) -> str:
        return self.runtime.mode

    def load(self) -> None:
        """Load the model now, where it runs (otherwise its first call does)."""
        raise NotImplementedError

    def _call(self, function: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        start = time.perf_counter()
        result: dict[str, Any] = self.runtime.call(function, *args, **kwargs)
        wall = time.perf_counter() - start
        timings = result.get("timings", {})
        stats = self.stats
        stats.calls += 1
        stats.wall_s += wall
        stats.total_s += float(timings.get("total_s", 0.0))
        stats.model_s += float(timings.get("model_s", 0.0))
        stats.load_s += float(timings.get("load_s", 0.0))
        stats.last = {**{k: float(v) for k, v in timings.items()}, "wall_s": wall}
        if result.get("model"):
            self.model_info = dict(result["model"])
        return result

    def describe(self) -> dict[str, Any]:
        """For result.json: which model, where it ran, and what it cost."""
        return {
            "backend": self.name,
            "runtime": self.runtime_mode,
            "device": self.device or "auto",
            **self.origin,
            **self.model_info,
        }


# -- engine side (runs in whichever process the runtime chose) -----------------------------------------------


def sync(device: str) -> None:
    """Wait for queued GPU work, so that a timing covers the forward pass and not only its launch."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class Timer:
    """Engine-side timings for one call (see the module docstring)."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.load_s = 0.0
        self.model_s = 0.0

    def resident(self, key: Hashable, loader: Callable[[], T]) -> T:
        """``cached_model(key, loader)``, counting the time as loading (≈0 when it is resident)."""
        start = time.perf_counter()
        value = cached_model(key, loader)
        self.load_s += time.perf_counter() - start
        return value

    @contextmanager
    def model(self, device: str) -> Iterator[None]:
        """Time a block of forward passes (synchronised on the GPU)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            sync(device)
            self.model_s += time.perf_counter() - start

    def timings(self) -> dict[str, float]:
        return {"load_s": self.load_s, "model_s": self.model_s, "total_s": time.perf_counter() - self._start}


def peak_rss_bytes() -> int:
    """The largest resident set this process has had (for benchmarks; 0 where unknown).

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this process's own memory map.
    ``getrusage``'s ``ru_maxrss`` is only the fallback: a child started by fork and exec (the model worker)
    inherits the parent's figure there.
    """
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def process_info() -> dict[str, Any]:
    """Which process answers, and its peak memory (benchmarks call this in the worker too)."""
    return {"pid": os.getpid(), "peak_rss_bytes": peak_rss_bytes()}


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Libraries that print while loading (groundingdino does) must not write into a CLI's stdout."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
