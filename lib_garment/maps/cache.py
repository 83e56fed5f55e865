"""A small cache so a job or batch computes each map once per (image content, parameters).

Keys name what a map was made from by content hash, never by object identity: the same photo loaded twice
hits, an edited copy misses. Cached arrays are made read-only, so one consumer cannot change another's map.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

DIGEST_CHUNK = 1 << 20  # 1 MiB: large arrays are hashed in pieces of this size, several at once
PARALLEL_DIGEST_MIN = 2 * DIGEST_CHUNK  # smaller (an RGB photo under about 836 px square): one piece
_MAX_DIGEST_THREADS = 8
DEFAULT_MAX_BYTES = 512 * 2**20  # a cache's arrays at most: about 14 RGB maps of a 12 MP photo, 170 of a 1 MP one


def _digest_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_DIGEST_THREADS, cores))


class _DigestPool:
    """The threads that hash the pieces of a large array (None on a single core), made on first use."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0  # the process that made it: a forked child has none of its threads and makes its own
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor | None:
        threads = _digest_threads()
        if threads < 2:
            return None
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(threads, thread_name_prefix="garment-digest")
                self._pid = os.getpid()
            return self._executor


_DIGEST_POOL = _DigestPool()


def _sha1(data: memoryview) -> bytes:
    return hashlib.sha1(data, usedforsecurity=False).digest()


def array_digest(array: np.ndarray) -> str:
    """Hash of an array's shape, type and every byte of its content.

    SHA-1 because it is the fastest hashlib offers on CPUs with SHA instructions (about twice blake2b, about
    2 GB/s a core); a cache key needs no collision resistance against an attacker, but it must see every
    pixel. A large array (a 2048 px photo is 12 MB, 6.5 ms on one core) is hashed as a tree: SHA-1 of each
    1 MiB piece, on several cores at once (hashlib lets go of the GIL while it hashes), then SHA-1 of the
    pieces' digests. Which form an array gets depends on its size alone, so equal arrays give equal digests
    whatever the machine's core count.
    """
    data = np.ascontiguousarray(array)
    header = f"{data.dtype.str}{data.shape}".encode()
    content = memoryview(data).cast("B")
    if content.nbytes < PARALLEL_DIGEST_MIN:
        h = hashlib.sha1(header, usedforsecurity=False)
        h.update(content)
        return h.hexdigest()
    pieces = [content[start : start + DIGEST_CHUNK] for start in range(0, content.nbytes, DIGEST_CHUNK)]
    pool = _DIGEST_POOL.get()
    digests = list(pool.map(_sha1, pieces)) if pool is not None else [_sha1(piece) for piece in pieces]
    root = hashlib.sha1(b"pieces:" + header, usedforsecurity=False)
    for digest in digests:
        root.update(digest)
    return root.hexdigest()


class MapCache:
    """Least-recently-used store of computed maps, at most ``max_entries`` of them and ``max_bytes`` of arrays
    (the newest entry always stays, however large); thread-safe.

    The byte bound is what keeps memory following the work rather than the photos: maps are made at the photo's
    size, so 32 maps of 12 MP phone photos would hold over a gigabyte by count alone (issue 13)."""

    def __init__(self, max_entries: int = 16, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """The bytes of the arrays held now."""
        return self._bytes

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
            self._bytes -= self._sizes.pop(key, 0)  # another thread stored it meanwhile: replaced
            self._entries[key] = value
            self._entries.move_to_end(key)
            self._sizes[key] = array_bytes(value)
            self._bytes += self._sizes[key]
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                oldest, _ = self._entries.popitem(last=False)
                self._bytes -= self._sizes.pop(oldest)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._bytes = 0
            self.hits = self.misses = 0


def array_bytes(value: object) -> int:
    """The bytes of the numpy arrays in ``value``: an array, or a dataclass, tuple, list or dict holding them."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(array_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple | list):
        return sum(array_bytes(item) for item in value)
    if isinstance(value, dict):
        return sum(array_bytes(item) for item in value.values())
    return 0
