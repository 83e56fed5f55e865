"""Errors of the model runtime: the worker could not answer, or the function raised inside it.

Crashes and timeouts are ``GarmentError`` subclasses (the user gets a message, exit code 1): they are
environmental (out of memory, a driver fault, a stuck model) and the runtime recovers on the next call.
A function that raised an ordinary exception in the worker is a bug, like the same exception in-process, so
``WorkerCallError`` is not a ``GarmentError``: the CLI reports it as an internal error and ``--debug`` prints
the worker's traceback (chained as the cause). A ``GarmentError`` raised in the worker (BadInput,
ModelUnavailable, …) is raised again in the parent as the same class, so exit codes stay right.
"""

from __future__ import annotations

import builtins
import threading

from lib_garment.errors import GarmentError


class WorkerError(GarmentError):
    """The model worker could not run a call: it failed to start, crashed or ran out of time."""

    exit_code = 1


class WorkerCrashed(WorkerError):
    """The worker process ended during a call (a hard exit, a segfault, killed for memory)."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class WorkerTimeout(WorkerError):
    """A call took longer than its timeout; the worker was stopped (the next call starts a fresh one)."""

    def __init__(self, message: str, *, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class RemoteTraceback(Exception):
    """The worker's traceback text, chained as ``__cause__`` so tracebacks printed here show both sides."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n--- in the model worker ---\n" + self.text.rstrip()


class WorkerCallError(Exception):
    """The function raised an exception (not a GarmentError) in the worker.

    ``remote_type`` is the exception's qualified name (``builtins.ValueError``,
    ``torch.cuda.OutOfMemoryError``), ``remote_message`` its message, ``remote_traceback`` the worker's
    traceback text. When the remote type is a builtin exception, the error raised here is also an instance
    of that builtin (``except ValueError`` works in both runtime modes).
    """

    function: str = ""
    remote_type: str = ""
    remote_message: str = ""
    remote_traceback: str = ""


_mirrors: dict[str, type[WorkerCallError]] = {}
_mirrors_lock = threading.Lock()


def _mirror_class(remote_type: str) -> type[WorkerCallError]:
    """WorkerCallError, or a subclass that also derives from the builtin exception the worker raised."""
    module, _, name = remote_type.rpartition(".")
    builtin = getattr(builtins, name, None) if module == "builtins" else None
    if not (isinstance(builtin, type) and issubclass(builtin, Exception)):
        return WorkerCallError
    with _mirrors_lock:
        if name not in _mirrors:
            try:
                _mirrors[name] = type(f"Worker{name}", (WorkerCallError, builtin), {"__module__": __name__})
            except TypeError:  # a builtin whose memory layout cannot be combined; the plain class still works
                _mirrors[name] = WorkerCallError
        return _mirrors[name]


def worker_call_error(function: str, remote_type: str, message: str, traceback_text: str) -> WorkerCallError:
    """Build the error for a failed call (the caller raises it ``from RemoteTraceback(traceback_text)``)."""
    short_type = remote_type.removeprefix("builtins.")
    cls = _mirror_class(remote_type)
    try:
        error = cls(f"{function} failed in the model worker: {short_type}: {message}")
    except TypeError:  # a builtin with a different constructor signature
        error = WorkerCallError(f"{function} failed in the model worker: {short_type}: {message}")
    error.function = function
    error.remote_type = remote_type
    error.remote_message = message
    error.remote_traceback = traceback_text
    return error
