"""Resident models for the process that runs engine functions (the WebUI's, or the model worker's).

A model is loaded once per key and reused by every later call: loading costs seconds and VRAM, an image
costs milliseconds. ``unload_models`` drops them all and returns GPU memory; ``offload_models`` moves torch
models to the CPU when the WebUI needs the GPU, and each moves back to where it was loaded on its next use.

Engine functions use it like this::

    processor, model = cached_model(("vitmatte", str(path), device), lambda: load_vitmatte(path, device))

Keys should name everything the loaded object depends on (family, file, device, dtype). Torch is never
imported here: if no torch module was imported, there is no torch model to move.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Mover = Callable[[Any, str], Any]


@dataclass
class _Entry:
    value: Any
    device: str | None  # where the model runs; None when it holds no torch module (nothing to move)
    move: Mover | None
    offloaded: bool = False


_entries: dict[Hashable, _Entry] = {}
_key_locks: dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()
_loads: Counter[Hashable] = Counter()  # loads per key since the process started (survives unload)


def _torch() -> Any:
    return sys.modules.get("torch")


def torch_modules(value: Any) -> Iterator[Any]:
    """The torch modules inside a cached value: the value itself, tuple/list/dict members, or ``.model``
    (SamPredictor, transformers pipelines). Deeper structures need a ``move`` function of their own.
    """
    torch = _torch()
    if torch is None:
        return
    if isinstance(value, torch.nn.Module):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from torch_modules(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from torch_modules(item)
    elif isinstance(getattr(value, "model", None), torch.nn.Module):
        yield value.model


def module_device(module: Any) -> str | None:
    for tensor in module.parameters():
        return str(tensor.device)
    for tensor in module.buffers():
        return str(tensor.device)
    return None


def _default_device(value: Any) -> str | None:
    for module in torch_modules(value):
        device = module_device(module)
        if device is not None:
            return device
    return None


def _move(entry: _Entry, device: str) -> None:
    if entry.move is not None:
        entry.move(entry.value, device)
        return
    for module in torch_modules(entry.value):
        module.to(device)


def free_gpu_memory() -> None:
    """Collect garbage and return cached CUDA blocks to the driver (only if this process uses torch)."""
    gc.collect()
    torch = _torch()
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def cached_model(key: Hashable, loader: Callable[[], T], *, device: str | None = None, move: Mover | None = None) -> T:
    """The model stored under ``key``, loading it with ``loader()`` the first time.

    ``device`` is where the model runs (detected from its first torch parameter when not given); an
    offloaded model is moved back there before it is returned. ``move(value, device)`` replaces the default
    mover (``.to(device)`` on every torch module found by ``torch_modules``) for values it cannot see into.
    Two threads asking for the same key at once load it once; different keys load in parallel. A loader
    that raises stores nothing.
    """
    with _lock:
        entry = _entries.get(key)
        if entry is not None and not entry.offloaded:
            return entry.value  # the common case: resident and in place
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            entry = _entries.get(key)
        if entry is None:
            value = loader()
            entry = _Entry(value, device if device is not None else _default_device(value), move)
            with _lock:
                _entries[key] = entry
                _loads[key] += 1
        elif entry.offloaded:
            if entry.device is not None:
                _move(entry, entry.device)
            entry.offloaded = False
        return entry.value


def unload_models() -> int:
    """Drop every cached model and free GPU memory; returns how many were dropped."""
    with _lock:
        count = len(_entries)
        _entries.clear()  # key locks stay: a load still running under one must keep excluding its twin
    free_gpu_memory()
    return count


def offload_models() -> int:
    """Move every resident model that is not on the CPU to the CPU; returns how many moved."""
    moved = 0
    with _lock:
        entries = list(_entries.items())
    for key, entry in entries:
        with _lock:
            key_lock = _key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if entry.offloaded or entry.device is None or entry.device == "cpu":
                continue
            _move(entry, "cpu")
            entry.offloaded = True
            moved += 1
    if moved:
        free_gpu_memory()
    return moved


@dataclass(frozen=True)
class CachedModel:
    key: Hashable
    device: str | None
    offloaded: bool
    loads: int


def cache_info() -> list[CachedModel]:
    """What is resident now (for status panels and tests)."""
    with _lock:
        return [CachedModel(k, e.device, e.offloaded, _loads[k]) for k, e in _entries.items()]


def load_count(key: Hashable) -> int:
    """How many times ``key`` was loaded in this process (an unload followed by a use counts twice)."""
    with _lock:
        return _loads[key]
