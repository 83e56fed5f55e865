"""The WebUI's queue: model-running routes and each catalogue job wait for (and hold back) generations like the
WebUI's own API."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from modules import call_queue, shared

JOB = "garment_studio"


@contextlib.contextmanager
def queued(timings: dict[str, float]) -> Iterator[Any]:
    """Hold the WebUI's generation lock with a "garment_studio" job begun (host-contract §4); yields the state."""
    asked = time.perf_counter()
    with call_queue.queue_lock:
        timings["queue_wait_s"] = time.perf_counter() - asked
        state = shared.state
        state.begin(job=JOB)
        try:
            yield state
        finally:
            state.end()
