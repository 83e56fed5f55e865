"""The model worker's side: read requests from the parent's pipe, run them, write answers back.

Started by ``lib_garment.runtime.worker.WorkerRuntime`` as ``python -c BOOTSTRAP packages extension in out``:
the bootstrap puts the private package folder and the extension root first on ``sys.path`` and calls
``main``. Requests are ``("call", function, args, kwargs)``, ``("unload",)`` or ``("offload",)``; answers are
``("ok", value)`` or ``("error", failure)`` where ``failure`` is a plain dict (see ``describe_exception``),
so the parent needs none of the worker's exception classes. The worker serves until its request pipe
closes, then exits without interpreter teardown (torch's can hang with CUDA; all memory goes at exit).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from lib_garment.errors import GarmentError
from lib_garment.runtime import cache, wire
from lib_garment.runtime.base import resolve_function

IN_WORKER_ENV = "GARMENT_IN_WORKER"

# Runs in a fresh interpreter before anything else is imported; argv: packages, extension, in, out.
BOOTSTRAP = (
    "import sys\n"
    "sys.path[0:0] = [p for p in sys.argv[1:3] if p]\n"
    "from lib_garment.runtime.worker_main import main\n"
    "main(sys.argv[3:5])\n"
)


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """What the parent needs to report or re-raise an exception, in picklable builtins only."""
    cls = type(exc)
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails still deserves a report
        message = repr(exc)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": message,
        "traceback": "".join(traceback.format_exception(cls, exc, exc.__traceback__)),
        # GarmentError classes along the MRO, most specific first: the parent re-raises the first it knows.
        "garment_classes": [
            f"{c.__module__}:{c.__qualname__}"
            for c in cls.__mro__
            if isinstance(c, type) and issubclass(c, GarmentError)
        ],
    }


def handle(message: Any) -> Any:
    kind = message[0]
    if kind == "call":
        _, function, args, kwargs = message
        return resolve_function(function)(*args, **kwargs)
    if kind == "unload":
        return cache.unload_models()
    if kind == "offload":
        return cache.offload_models()
    raise ValueError(f"unknown request {kind!r}")


def _answer(message_frame: tuple[bytearray, list[bytearray]]) -> list[wire.Chunk]:
    try:
        reply: tuple[str, Any] = ("ok", handle(wire.decode(*message_frame)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller; the worker serves on
        reply = ("error", describe_exception(exc))
    try:
        return wire.encode(reply)
    except BaseException as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
        failure = describe_exception(exc)
        failure["message"] = f"the result could not be sent back to the WebUI process: {failure['message']}"
        return wire.encode(("error", failure))


def serve(read_fd: int, write_fd: int) -> None:
    while True:
        try:
            frame = wire.read_frame(read_fd)
        except EOFError:
            return  # the parent closed the pipe (close(), or it exited): time to go
        chunks = _answer(frame)
        del frame  # the request's arrays are no longer needed while the answer is written
        try:
            wire.write_frame(write_fd, chunks)
        except OSError:
            return  # the parent is gone


def _open_fd(value: str, flags: int) -> int:
    if os.name == "nt":  # a handle inherited through STARTUPINFO's handle list
        import msvcrt

        return msvcrt.open_osfhandle(int(value), flags | os.O_BINARY)  # type: ignore[attr-defined]
    return int(value)


def main(argv: Sequence[str]) -> None:
    # Ctrl+C in the WebUI's terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stdout is the parent's stderr pipe (forwarded line by line); libraries that print should show up promptly.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    os.environ[IN_WORKER_ENV] = "1"
    read_fd, write_fd = _open_fd(argv[0], os.O_RDONLY), _open_fd(argv[1], os.O_WRONLY)
    code = 0
    try:
        serve(read_fd, write_fd)
    except BaseException:  # noqa: BLE001 - a fault in the loop itself: say so on stderr, exit non-zero
        traceback.print_exc()
        code = 1
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
