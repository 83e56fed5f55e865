"""``modules.call_queue``: the generation lock and the gradio wrappers (host-contract §4 "Auth and locking")."""

from __future__ import annotations

import collections
import functools
import html
import threading
import time
from collections.abc import Callable
from typing import Any

from modules import errors, shared


class FIFOLock:
    """A lock that hands itself to waiters in arrival order, like the WebUI's ``fifo_lock.FIFOLock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner_lock = threading.Lock()
        self._pending: collections.deque[threading.Event] = collections.deque()

    def acquire(self, blocking: bool = True) -> bool:
        with self._inner_lock:
            if self._lock.acquire(False):
                return True
            if not blocking:
                return False
            event = threading.Event()
            self._pending.append(event)
        event.wait()
        return self._lock.acquire()

    def release(self) -> None:
        with self._inner_lock:
            if self._pending:
                self._pending.popleft().set()
            self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        self.release()


queue_lock = FIFOLock()


def wrap_queued_call(func: Callable) -> Callable:
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        with queue_lock:
            return func(*args, **kwargs)

    return f


def wrap_gradio_gpu_call(func: Callable, extra_outputs: list | None = None) -> Callable:
    """Take the lock, ``state.begin/end`` around the call (the job id is ``args[0]`` when it reads
    ``task(...)``), then behave like ``wrap_gradio_call``."""

    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        is_task = bool(args) and isinstance(args[0], str) and args[0].startswith("task(") and args[0].endswith(")")
        id_task = args[0] if is_task else None
        with queue_lock:
            shared.state.begin(job=id_task)
            try:
                res = func(*args, **kwargs)
            finally:
                shared.state.end()
        return res

    return wrap_gradio_call(f, extra_outputs=extra_outputs, add_stats=True)


def wrap_gradio_call(func: Callable, extra_outputs: list | None = None, add_stats: bool = False) -> Callable:
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        try:
            res = func(*args, **kwargs)
        finally:
            shared.state.skipped = False
            shared.state.interrupted = False
            shared.state.stopping_generation = False
            shared.state.job_count = 0
            shared.state.job = ""
        return res

    return wrap_gradio_call_no_job(f, extra_outputs, add_stats)


def wrap_gradio_call_no_job(func: Callable, extra_outputs: list | None = None, add_stats: bool = False) -> Callable:
    """Exceptions become ``extra_outputs + [<div class='error'>…</div>]``; with ``add_stats`` the timing HTML
    is appended to the *last* output, which must therefore be a string (as in the WebUI)."""

    @functools.wraps(func)
    def f(*args: Any, extra_outputs_array: list | None = extra_outputs, **kwargs: Any) -> tuple:
        t = time.perf_counter()
        try:
            res = list(func(*args, **kwargs))
        except Exception as e:  # noqa: BLE001  (the WebUI turns any failure into an error output)
            errors.report(f"Error completing request\nArguments: {args} {kwargs}"[:131072], exc_info=True)
            if extra_outputs_array is None:
                extra_outputs_array = [None, ""]
            res = [*extra_outputs_array, f"<div class='error'>{html.escape(f'{type(e).__name__}: {e}')}</div>"]

        if not add_stats:
            return tuple(res)
        elapsed = time.perf_counter() - t
        timing = f"Time taken: <wbr><span class='measurement'>{elapsed:.1f} sec.</span>"
        res[-1] += f"<div class='performance'><p class='time'>{timing}</p></div>"
        return tuple(res)

    return f
