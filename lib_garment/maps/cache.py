"""A small cache so a job or batch computes each map once per (image content, parameters).

Keys name what a map was made from by content hash, never by object identity: the same photo loaded twice
hits, an edited copy misses. Cached arrays are made read-only, so one consumer cannot change another's map.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def array_digest(array: np.ndarray) -> str:
    """Hash of an array's shape, type and pixels.

    SHA-1 because it is the fastest hashlib offers on CPUs with SHA instructions (about twice blake2b); a
    cache key needs no collision resistance against an attacker.
    """
    data = np.ascontiguousarray(array)
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"{data.dtype.str}{data.shape}".encode())
    h.update(memoryview(data).cast("B"))
    return h.hexdigest()


class MapCache:
    """Least-recently-used store of computed maps, at most ``max_entries`` of them; thread-safe."""

    def __init__(self, max_entries: int = 16) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value stored under ``key``, computing and storing it first if absent.

        ``key`` should hold the map kind, the digests of its sources and its (frozen) parameters. Two threads
        missing the same key at once may both compute it; the result is the same either way.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]  # type: ignore[return-value]
            self.misses += 1
        value = compute()
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
