"""The model worker: the WebUI's own Python with a private package folder first on its import path.

AUTOMATIC1111 1.10.1 pins transformers 4.30.2, which has no GroundingDINO, ViTMatte or Depth Anything; the
worker imports transformers 4.46 from ``.worker_packages`` instead, in a separate process, so the WebUI's
own packages are never touched. The process also contains crashes (a segfault ends the worker, not the
WebUI) and frees all of its GPU memory, CUDA context included, when it stops.

Life cycle: started on the first call, reused by later ones, started again on the call after a crash or
a timeout, stopped by ``close()`` and at interpreter exit. One request at a time: a lock serialises
callers from the WebUI's threads. Requests and answers travel on two dedicated pipes (``wire`` frames), never
on stdout: libraries print. The worker's stdout and stderr are forwarded to ours, each line prefixed, and
the last lines are kept for the message when it crashes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib_garment.errors import GarmentError
from lib_garment.paths import EXTENSION_DIR, worker_packages_dir
from lib_garment.runtime import wire
from lib_garment.runtime.base import WORKER, Mode, ModelRuntime, check_function_name
from lib_garment.runtime.errors import (
    RemoteTraceback,
    WorkerCrashed,
    WorkerError,
    WorkerTimeout,
    worker_call_error,
)
from lib_garment.runtime.worker_main import BOOTSTRAP

LOG_PREFIX = "[Garment Studio worker]"
TAIL_LINES = 40
CONTROL_TIMEOUT_S = 120.0  # unload / offload: moving big models off the GPU takes seconds, not minutes
STOP_GRACE_S = 10.0


class _Process:
    """One running worker process: its pipes, its log forwarder, and the timeout flag for the current call."""

    def __init__(self, popen: subprocess.Popen[bytes], to_worker: int, from_worker: int, log_fd: int) -> None:
        self.popen = popen
        self.to_worker = to_worker
        self.from_worker = from_worker
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.busy = False
        self.timed_out = False
        self.state_lock = threading.Lock()
        self.log_thread = threading.Thread(
            target=_forward_log, args=(log_fd, self.tail), name=f"garment-worker-log-{popen.pid}", daemon=True
        )
        self.log_thread.start()

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def expire(self) -> None:
        """Timer callback: the call in progress ran out of time. Killing the worker unblocks the caller."""
        with self.state_lock:
            if self.busy:
                self.timed_out = True
                self.kill()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.popen.kill()

    def collect(self, grace: float = 5.0) -> tuple[int | None, str]:
        """Wait for the process to end (killing it after ``grace``), close our ends; exit code and log tail."""
        try:
            returncode = self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self.popen.wait()
        for fd in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.to_worker = self.from_worker = -1
        self.log_thread.join(timeout=5.0)  # its last lines explain a crash; a grandchild may hold the pipe
        _RUNNING.discard(self)
        return returncode, "\n".join(self.tail)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Orderly stop: end of input makes the worker leave its loop and exit."""
        with contextlib.suppress(OSError):
            os.close(self.to_worker)
        self.to_worker = -1
        self.collect(grace)


def _forward_log(fd: int, tail: deque[str]) -> None:
    with open(fd, "rb", closefd=True) as stream:
        for raw in stream:
            # Progress bars redraw with carriage returns inside one line; the last state is the useful one.
            line = raw.decode("utf-8", "replace").rstrip("\r\n").rsplit("\r", 1)[-1]
            tail.append(line)
            err = sys.stderr
            if err is not None:  # None under pythonw
                with contextlib.suppress(Exception):
                    err.write(f"{LOG_PREFIX} {line}\n")
                    err.flush()


_RUNNING: set[_Process] = set()


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        process.kill()  # at exit there is no time for a polite stop; the OS frees everything
        process.collect(grace=5.0)


def _interpreter_flags() -> list[str]:
    # -X / -W / -E / -s … as the parent runs with, the way multiprocessing starts its children.
    flags = getattr(subprocess, "_args_from_interpreter_flags", None)
    return list(flags()) if flags is not None else []


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "exit code unknown"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _garment_classes(paths: Sequence[str]) -> list[type[GarmentError]]:
    """The GarmentError classes along the remote MRO that this process has already imported, in order.

    Importing a module here only to rebuild an error could run code that needs the worker's packages, so
    classes from modules not yet loaded are skipped in favour of their bases (BadInput, ModelUnavailable).
    """
    found = []
    for path in paths:
        module_name, _, qualname = path.partition(":")
        target: Any = sys.modules.get(module_name)
        for part in qualname.split("."):
            target = getattr(target, part, None)
        if isinstance(target, type) and issubclass(target, GarmentError):
            found.append(target)
    return found


def error_from_failure(function: str, failure: dict[str, Any]) -> BaseException:
    """The exception to raise here for a failure reported by the worker (raise it as it is: the worker's
    traceback is already chained as its cause).
    """
    error: BaseException | None = None
    for cls in _garment_classes(failure.get("garment_classes", ())):
        try:
            error = cls(failure["message"])
        except TypeError:  # a subclass with a constructor of its own: its base carries the same exit code
            continue
        error.remote_traceback = failure["traceback"]  # type: ignore[attr-defined]
        break
    if error is None:
        error = worker_call_error(function, failure["type"], failure["message"], failure["traceback"])
    error.__cause__ = RemoteTraceback(failure["traceback"])
    return error


class WorkerRuntime(ModelRuntime):
    """Runs functions in the model worker process (see the module docstring for its life cycle).

    ``packages_dir`` goes first on the worker's import path (default ``worker_packages_dir()``; a missing
    folder is left out, and the worker then runs the host's packages, which still isolates crashes).
    ``default_timeout`` applies to calls that give none; None waits as long as the worker lives. A timeout
    covers the whole call (sending, importing, loading the model, running it, answering).
    """

    mode: Mode = WORKER

    def __init__(
        self,
        packages_dir: str | os.PathLike[str] | None = None,
        *,
        python: str | None = None,
        extension_dir: str | os.PathLike[str] = EXTENSION_DIR,
        default_timeout: float | None = None,
    ) -> None:
        self.packages_dir = Path(packages_dir) if packages_dir is not None else worker_packages_dir()
        self.python = python or sys.executable
        self.extension_dir = Path(extension_dir)
        self.default_timeout = default_timeout
        self._process: _Process | None = None
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs; None before the first call and after a stop."""
        process = self._process
        return process.popen.pid if process is not None and process.alive else None

    def recent_output(self) -> list[str]:
        """The last lines the running worker printed (its stdout and stderr), oldest first."""
        process = self._process
        return list(process.tail) if process is not None else []

    def call(self, function: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        check_function_name(function)
        # Encoded before the worker is involved: an argument that cannot be pickled fails here, harmlessly.
        chunks = wire.encode(("call", function, args, kwargs))
        status, value = self._request(chunks, function, self.default_timeout if timeout is None else timeout)
        if status == "ok":
            return value
        raise error_from_failure(function, value)

    def unload(self) -> int:
        return self._control("unload")

    def offload(self) -> int:
        return self._control("offload")

    def close(self, *, wait: float | None = None) -> None:
        """Stop the worker. Waits for a call in progress (at most ``wait`` seconds, then kills the worker)."""
        acquired = self._lock.acquire(timeout=-1 if wait is None else wait)
        try:
            if not acquired:
                # The busy caller sees its worker end and cleans up; it gets a WorkerCrashed.
                process = self._process
                if process is not None:
                    process.kill()
                return
            process, self._process = self._process, None
            if process is not None:
                process.stop()
        finally:
            if acquired:
                self._lock.release()

    def __repr__(self) -> str:
        return f"WorkerRuntime(packages_dir={str(self.packages_dir)!r}, pid={self.pid})"

    # -- internals -------------------------------------------------------------------------------------

    def _control(self, kind: str) -> int:
        # No worker running means nothing resident: no reason to start one just to empty it.
        answer = self._request(wire.encode((kind,)), kind, CONTROL_TIMEOUT_S, start=False)
        if answer is None:
            return 0
        status, value = answer
        if status == "ok":
            return int(value)
        raise error_from_failure(kind, value)

    def _request(self, chunks: list[wire.Chunk], what: str, timeout: float | None, *, start: bool = True) -> Any:
        """Send one request and return the ``(status, value)`` answer (None: not running and ``start`` False)."""
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        with self._lock:
            if not start and (self._process is None or not self._process.alive):
                return None
            process = self._ensure_process()
            with process.state_lock:
                process.busy, process.timed_out = True, False
            timer = threading.Timer(timeout, process.expire) if timeout is not None else None
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                wire.write_frame(process.to_worker, chunks)
                frame = wire.read_frame(process.from_worker)
            except (OSError, EOFError):
                raise self._lost(process, what, timeout) from None
            except BaseException:
                # Interrupted half-way (KeyboardInterrupt): the pipes are out of step, this worker is done.
                process.kill()
                self._forget(process)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                with process.state_lock:
                    process.busy = False
        try:
            return wire.decode(*frame)
        except Exception as exc:  # the answer arrived whole; the worker is fine, this process cannot read it
            raise worker_call_error(
                what,
                f"{type(exc).__module__}.{type(exc).__qualname__}",
                f"its result could not be unpickled in this process: {exc}",
                "",
            ) from exc

    def _ensure_process(self) -> _Process:
        process = self._process
        if process is not None and process.alive:
            return process
        if process is not None:  # ended while idle (its log was forwarded already)
            self._forget(process)
        self._process = self._spawn()
        return self._process

    def _forget(self, process: _Process) -> tuple[int | None, str]:
        if self._process is process:
            self._process = None
        return process.collect()

    def _lost(self, process: _Process, what: str, timeout: float | None) -> WorkerError:
        timed_out = process.timed_out
        returncode, tail = self._forget(process)
        if timed_out:
            return WorkerTimeout(
                f"{what} did not finish within {timeout:g} s; the model worker was stopped "
                "(it starts again on the next call)",
                timeout=float(timeout or 0),
            )
        shown = tail if tail.strip() else "(it printed nothing)"
        return WorkerCrashed(
            f"the model worker stopped during {what} ({_describe_exit(returncode)}); it starts again on the "
            f"next call. Last lines of its output:\n{shown}",
            returncode=returncode,
            stderr_tail=tail,
        )

    def _spawn(self) -> _Process:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        log_r, log_w = os.pipe()
        child_fds = (to_child_r, from_child_w)
        packages = str(self.packages_dir) if self.packages_dir.is_dir() else ""
        options: dict[str, Any]
        if os.name == "nt":  # untested here: handles are inherited through STARTUPINFO's handle list
            import msvcrt

            handles = [msvcrt.get_osfhandle(fd) for fd in child_fds]  # type: ignore[attr-defined]
            for handle in handles:
                os.set_handle_inheritable(handle, True)
            for fd in (to_child_w, from_child_r):
                msvcrt.setmode(fd, os.O_BINARY)  # type: ignore[attr-defined]
            startupinfo = subprocess.STARTUPINFO()  # type: ignore[attr-defined]
            startupinfo.lpAttributeList = {"handle_list": handles}
            options = {"startupinfo": startupinfo, "close_fds": True}
            fd_args = [str(h) for h in handles]
        else:
            options = {"pass_fds": child_fds}
            fd_args = [str(fd) for fd in child_fds]
        command = [
            self.python,
            *_interpreter_flags(),
            "-c",
            BOOTSTRAP,
            packages,
            str(self.extension_dir),
            *fd_args,
        ]
        try:
            # The environment passes through unchanged: HF_HUB_OFFLINE and friends apply in the worker too.
            popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_w, stderr=log_w, **options)
        except OSError as exc:
            for fd in (to_child_w, from_child_r, log_r):
                os.close(fd)
            raise WorkerError(f"could not start the model worker with {self.python}: {exc}") from exc
        finally:
            for fd in (*child_fds, log_w):  # only the child holds these now, so its exit reads as EOF here
                os.close(fd)
        process = _Process(popen, to_child_w, from_child_r, log_r)
        _RUNNING.add(process)
        return process
