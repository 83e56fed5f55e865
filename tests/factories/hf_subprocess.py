"""Run a factory function where the transformers classes it needs exist: here, or in a worker process.

transformers 4.30.2 (AUTOMATIC1111 1.10.1) lacks GroundingDino, VitMatte and DepthAnything. Production runs
those models in a worker process: the same Python with a private package folder
(``$GARMENT_WORKER_PACKAGES``: transformers 4.46.x, tokenizers, huggingface_hub) first on its import path.
The factories do the same, so the directories they write are the standard format in either environment.

One worker process is started on first need and serves every later call of the session: starting Python
with torch and transformers costs about 7 s on the project's 2-core machines, and a test session needs
several builds and checks. Calls and answers are JSON lines; the worker's own stdout is redirected to
stderr (a log file), because some libraries print, and that must not corrupt the answers.

Run as ``python -m tests.factories.hf_subprocess`` from the repository root to serve requests.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

IN_PROCESS = "in-process"
WORKER_SUBPROCESS = "worker-subprocess"
WORKER_PACKAGES_ENV = "GARMENT_WORKER_PACKAGES"
REPO_ROOT = Path(__file__).resolve().parents[2]
_WORKER_MODULE = "tests.factories.hf_subprocess"


class WorkerUnavailableError(RuntimeError):
    """The running transformers lacks a class and no worker package folder is configured."""


class WorkerCallError(RuntimeError):
    """A call failed inside the worker process (the message carries its traceback)."""


@dataclass(frozen=True)
class CallResult:
    """What a factory function returned, and where it ran."""

    value: Any
    built_with: str  # IN_PROCESS or WORKER_SUBPROCESS
    transformers_version: str
    transformers_file: str


def transformers_has(*class_names: str) -> bool:
    """True when every named class is importable here: a bare name is a transformers class, ``package:Class``
    one of another package (``diffusers:AutoencoderKL``: AUTOMATIC1111's set has no diffusers at all)."""
    import transformers

    for name in class_names:
        package, _, attr = name.rpartition(":")
        try:
            module = importlib.import_module(package) if package else transformers
        except ImportError:
            return False
        # transformers and diffusers resolve names lazily; a missing one raises AttributeError: hasattr is exact.
        if not hasattr(module, attr):
            return False
    return True


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    return getattr(importlib.import_module(module_name), attr)


def _transformers_identity() -> tuple[str, str]:
    import transformers

    return transformers.__version__, str(Path(transformers.__file__).resolve())


def _json_roundtrip(value: Any) -> Any:
    # In-process results go through JSON too, so a function that returns something the worker could not
    # send back fails in every environment, not only in the one that needs the worker.
    return json.loads(json.dumps(value))


class HFRunner:
    """Calls ``module:function`` targets in-process when possible, otherwise in one shared worker process."""

    def __init__(self, log_path: Path, worker_packages: str | None = None, timeout_s: float = 600.0) -> None:
        self.log_path = Path(log_path)
        self.worker_packages = worker_packages if worker_packages is not None else os.environ.get(WORKER_PACKAGES_ENV)
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._answers: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()

    def mode_for(self, required: Sequence[str]) -> str:
        return IN_PROCESS if transformers_has(*required) else WORKER_SUBPROCESS

    def call(self, target: str, required: Sequence[str], **kwargs: Any) -> CallResult:
        """Run ``target(**kwargs)`` where the transformers classes in ``required`` exist.

        kwargs and the return value must be JSON-serialisable (paths as strings).
        """
        if self.mode_for(required) == IN_PROCESS:
            value = _json_roundtrip(_resolve(target)(**kwargs))
            version, file = _transformers_identity()
            return CallResult(value, IN_PROCESS, version, file)
        answer = self._ask({"target": target, "kwargs": kwargs})
        return CallResult(
            answer["value"], WORKER_SUBPROCESS, answer["transformers_version"], answer["transformers_file"]
        )

    # -- worker process ----------------------------------------------------------------------------------

    def _start(self) -> subprocess.Popen[str]:
        if not self.worker_packages or not Path(self.worker_packages).is_dir():
            raise WorkerUnavailableError(
                f"this transformers lacks a needed class and ${WORKER_PACKAGES_ENV} "
                f"({self.worker_packages!r}) is not a package folder"
            )
        env = dict(os.environ)
        # The private folder goes first so its transformers/tokenizers/huggingface_hub shadow the venv's,
        # exactly as the production worker arranges its sys.path; the repo root makes tests.* importable.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (self.worker_packages, str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("a", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            encoding="utf-8",
        )
        # A reader thread turns the pipe into a queue, so every wait can have a timeout. Each process gets
        # a fresh queue: a late end-of-stream from a killed worker must not answer the next one's call.
        self._answers = queue.Queue()
        threading.Thread(target=self._pump, args=(proc.stdout, self._answers), daemon=True).start()
        return proc

    @staticmethod
    def _pump(stream: IO[str], answers: queue.Queue[str]) -> None:
        for line in stream:
            answers.put(line)
        answers.put("")  # end of stream: the worker exited

    def _log_tail(self, chars: int = 4000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            except BrokenPipeError:
                raise WorkerCallError(f"worker died before {request['target']}; log:\n{self._log_tail()}") from None
            try:
                line = self._answers.get(timeout=self.timeout_s)
            except queue.Empty:
                self.close()
                raise WorkerCallError(
                    f"worker gave no answer to {request['target']} within {self.timeout_s:.0f} s"
                ) from None
        if not line:
            raise WorkerCallError(f"worker exited during {request['target']}; log tail:\n{self._log_tail()}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise WorkerCallError(f"{request['target']} failed in the worker:\n{answer['error']}")
        return answer

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()  # end of input: the worker leaves its loop
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def serve(stdin: IO[str], answers: IO[str]) -> None:
    """Worker loop: one JSON request per line in, one JSON answer per line out."""
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            value = _resolve(request["target"])(**request["kwargs"])
            version, file = _transformers_identity()
            answer = {"ok": True, "value": value, "transformers_version": version, "transformers_file": file}
            text = json.dumps(answer)
        except Exception:  # noqa: BLE001 - any failure goes back to the caller; the worker serves on
            text = json.dumps({"ok": False, "error": traceback.format_exc()})
        answers.write(text + "\n")
        answers.flush()


def _main() -> None:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # prints from libraries (and from C code) go to the log, not into the answer stream
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)


if __name__ == "__main__":
    _main()
