"""The model worker process: its packages, life cycle, crashes, timeouts and output."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

from lib_garment.deps import A1111_1_10_1_PINS, WORKER_PACKAGES
from lib_garment.errors import BadInput
from lib_garment.paths import EXTENSION_DIR, worker_packages_dir
from lib_garment.runtime import InProcessRuntime, WorkerCrashed, WorkerRuntime, WorkerTimeout
from lib_garment.runtime.selection import folder_version
from lib_garment.runtime.worker import LOG_PREFIX, error_from_failure

PROBE = "tests.runtime_probe"
WORKER_TRANSFORMERS = next(s.split("==")[1] for s in WORKER_PACKAGES if s.startswith("transformers=="))


@pytest.fixture(scope="module")
def worker() -> Iterator[WorkerRuntime]:
    rt = WorkerRuntime()
    yield rt
    rt.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_worker_imports_transformers_from_its_folder_and_this_process_from_the_webui(
    worker: WorkerRuntime,
) -> None:
    folder = worker_packages_dir()
    host = metadata.version("transformers")
    in_worker = worker.call(f"{PROBE}:transformers_identity")
    here = InProcessRuntime().call(f"{PROBE}:transformers_identity")
    assert here["version"] == host
    assert not Path(here["file"]).is_relative_to(folder.resolve())
    if Version(host) < Version("4.40"):  # AUTOMATIC1111 1.10.1's set: the reason the worker exists
        assert host == A1111_1_10_1_PINS["transformers"]
        assert folder_version("transformers", folder) is not None, f"no worker folder at {folder}"
    if folder_version("transformers", folder) is not None:
        assert in_worker["version"] == WORKER_TRANSFORMERS
        assert Path(in_worker["file"]).is_relative_to(folder.resolve())
    else:  # Forge without a folder: the worker runs the host's own transformers
        assert in_worker == here


def test_the_worker_path_and_environment(worker: WorkerRuntime) -> None:
    folder = worker_packages_dir()
    head = worker.call(f"{PROBE}:sys_path_head", 2)
    expected = [str(folder), str(EXTENSION_DIR)] if folder.is_dir() else [str(EXTENSION_DIR)]
    assert head[: len(expected)] == expected
    # Offline switches set by conftest pass through unchanged.
    assert worker.call(f"{PROBE}:environment", "HF_HUB_OFFLINE") == os.environ["HF_HUB_OFFLINE"] == "1"
    described = worker.call("lib_garment.runtime.diagnostics:describe")
    assert described["in_worker"] is True
    assert described["pid"] == worker.pid


def test_the_worker_starts_on_the_first_call_is_reused_and_stops_on_close() -> None:
    rt = WorkerRuntime()
    assert rt.pid is None  # constructing starts nothing
    assert rt.unload() == 0  # nor does emptying a worker that is not there
    assert rt.offload() == 0
    assert rt.pid is None
    first = rt.call(f"{PROBE}:pid")
    assert first == rt.pid
    assert first != os.getpid()
    assert rt.call(f"{PROBE}:pid") == first
    # The worker itself imports neither torch nor transformers: a start costs only what the calls need.
    assert rt.call(f"{PROBE}:loaded", ["torch", "transformers"]) == {"torch": False, "transformers": False}
    assert rt.call(f"{PROBE}:use_model", "depth")["pid"] == first
    assert rt.unload() == 1  # drops models and keeps the process
    assert rt.call(f"{PROBE}:pid") == first
    rt.close()
    assert rt.pid is None
    assert _gone(first)
    second = rt.call(f"{PROBE}:pid")  # a closed runtime starts over on demand
    assert second != first
    rt.close()
    assert _gone(second)


def test_a_crash_raises_with_the_last_output_and_the_next_call_restarts(
    worker: WorkerRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    before = worker.call(f"{PROBE}:pid")
    with pytest.raises(WorkerCrashed) as crashed:
        worker.call(f"{PROBE}:crash", 3, "probe: going down")
    error = crashed.value
    assert error.returncode == 3
    assert "probe: going down" in error.stderr_tail
    assert f"during {PROBE}:crash (exit code 3)" in str(error)
    assert "probe: going down" in str(error)
    assert error.exit_code == 1
    assert worker.pid is None
    assert f"{LOG_PREFIX} probe: going down" in capfd.readouterr().err
    after = worker.call(f"{PROBE}:pid")
    assert after != before
    assert _gone(before)


def test_a_segfault_is_reported_as_such(worker: WorkerRuntime) -> None:
    with pytest.raises(WorkerCrashed, match="killed by SIGSEGV"):
        worker.call(f"{PROBE}:die_by_signal")
    assert worker.call(f"{PROBE}:echo", "alive") == (("alive",), {})


def test_a_timeout_kills_the_worker_and_the_next_call_works(worker: WorkerRuntime) -> None:
    before = worker.call(f"{PROBE}:pid")
    with pytest.raises(WorkerTimeout) as timed_out:
        worker.call(f"{PROBE}:sleep", 120, timeout=0.5)
    assert timed_out.value.timeout == 0.5
    assert f"{PROBE}:sleep did not finish within 0.5 s" in str(timed_out.value)
    assert worker.pid is None
    assert _gone(before)
    assert worker.call(f"{PROBE}:sleep", 0.0, timeout=60) == 0.0
    with pytest.raises(ValueError, match="positive"):
        worker.call(f"{PROBE}:sleep", 0.0, timeout=0)


def test_prints_do_not_disturb_answers_and_reach_stderr_prefixed(worker: WorkerRuntime) -> None:
    assert worker.call(f"{PROBE}:shout", "hello from a library") == "hello from a library"
    deadline = time.monotonic() + 30  # the forwarder thread runs on its own; wait for it, do not time it
    while worker.recent_output().count("hello from a library") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.recent_output().count("hello from a library") == 2  # stdout and stderr both


def test_close_while_a_call_runs_stops_the_worker_and_fails_that_call() -> None:
    rt = WorkerRuntime()
    outcome: list[BaseException] = []

    def long_call() -> None:
        try:
            rt.call(f"{PROBE}:sleep", 120)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    thread = threading.Thread(target=long_call)
    thread.start()
    deadline = time.monotonic() + 60
    while rt.pid is None and time.monotonic() < deadline:  # started: the call holds the worker until it ends
        time.sleep(0.02)
    pid = rt.pid
    assert pid is not None
    rt.close(wait=0.2)
    thread.join(60)
    assert len(outcome) == 1
    assert isinstance(outcome[0], WorkerCrashed)
    assert rt.pid is None
    assert _gone(pid)


def test_the_worker_is_stopped_when_the_interpreter_exits() -> None:
    code = (
        "from lib_garment.runtime import WorkerRuntime\n"
        "rt = WorkerRuntime()\n"
        "print(rt.call('tests.runtime_probe:pid'), flush=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=EXTENSION_DIR, capture_output=True, text=True, check=True)
    pid = int(result.stdout.strip())
    assert _gone(pid)


def test_garment_error_classes_the_parent_has_not_loaded_fall_back_to_their_base() -> None:
    failure = {
        "type": "lib_garment.segment.not_loaded.NoGarment",
        "message": "no garment found",
        "traceback": "Traceback ...\nNoGarment: no garment found\n",
        "garment_classes": [
            "lib_garment.segment.not_loaded:NoGarment",
            "lib_garment.errors:BadInput",
            "lib_garment.errors:GarmentError",
        ],
    }
    error = error_from_failure("lib_garment.segment.not_loaded:segment", failure)
    assert type(error) is BadInput
    assert str(error) == "no garment found"
    assert error.remote_traceback == failure["traceback"]  # type: ignore[attr-defined]
    assert "lib_garment.segment.not_loaded" not in sys.modules  # nothing was imported to rebuild it
