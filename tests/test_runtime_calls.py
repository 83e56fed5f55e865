"""The same calls through both runtimes: results, errors and resident models behave alike.

The in-process runtime checks pickling as the worker needs it, so a function whose result could not
cross the process boundary fails in both package sets, not only in the one that needs the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lib_garment.errors import BadInput, GarmentError, ModelUnavailable
from lib_garment.runtime import IN_PROCESS, InProcessRuntime, ModelRuntime, WorkerCallError, WorkerRuntime
from tests.runtime_probe import Sample

PROBE = "tests.runtime_probe"


@pytest.fixture(scope="module", params=["in-process", "worker"])
def runtime(request: pytest.FixtureRequest) -> Iterator[ModelRuntime]:
    rt: ModelRuntime = InProcessRuntime(check_pickling=True) if request.param == "in-process" else WorkerRuntime()
    yield rt
    rt.close()


def test_arrays_and_records_round_trip(runtime: ModelRuntime) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    depth = rng.random((256, 192), dtype=np.float32)
    sample = Sample("tee", Path("/data/tee.png"), (1024, 1024))
    args, kwargs = runtime.call(f"{PROBE}:echo", image, depth[::2], sample=sample, mask=image[..., 0] > 127)
    np.testing.assert_array_equal(args[0], image)
    np.testing.assert_array_equal(args[1], depth[::2])
    assert args[1].dtype == np.float32
    assert kwargs["sample"] == sample
    np.testing.assert_array_equal(kwargs["mask"], image[..., 0] > 127)
    assert args[0].flags.writeable  # the caller owns what comes back


def test_a_function_error_keeps_its_type_message_and_the_worker_traceback(runtime: ModelRuntime) -> None:
    with pytest.raises(ValueError, match="the trimap is empty") as raised:
        runtime.call(f"{PROBE}:raise_value_error", "the trimap is empty")
    with pytest.raises(KeyError):
        runtime.call(f"{PROBE}:raise_key_error", "box")
    if runtime.mode == IN_PROCESS:
        assert type(raised.value) is ValueError
        return
    error = raised.value
    assert isinstance(error, WorkerCallError)
    assert not isinstance(error, GarmentError)  # a bug stays an internal error, as it would be in-process
    assert error.function == f"{PROBE}:raise_value_error"
    assert error.remote_type == "builtins.ValueError"
    assert error.remote_message == "the trimap is empty"
    assert "in raise_value_error" in error.remote_traceback
    assert "ValueError: the trimap is empty" in error.remote_traceback
    assert f"{PROBE}:raise_value_error failed in the model worker: ValueError: the trimap is empty" in str(error)
    assert error.__cause__ is not None
    assert "raise_value_error" in str(error.__cause__)


@pytest.mark.parametrize(
    ("probe", "cls", "exit_code"),
    [("raise_bad_input", BadInput, 2), ("raise_model_unavailable", ModelUnavailable, 3)],
)
def test_garment_errors_arrive_as_the_same_class(runtime: ModelRuntime, probe: str, cls: type, exit_code: int) -> None:
    with pytest.raises(cls) as raised:
        runtime.call(f"{PROBE}:{probe}", "no garment found for 'red scarf'")
    assert type(raised.value) is cls
    assert str(raised.value) == "no garment found for 'red scarf'"
    assert raised.value.exit_code == exit_code


def test_missing_functions_and_bad_names(runtime: ModelRuntime) -> None:
    with pytest.raises(ModuleNotFoundError):
        runtime.call("tests.no_such_probe_module:run")
    with pytest.raises(AttributeError):
        runtime.call(f"{PROBE}:no_such_function")
    for bad in ("tests.runtime_probe.echo", "tests.runtime_probe:", "os:system; rm", ""):
        with pytest.raises(ValueError, match="package.module:function"):
            runtime.call(bad)


def test_unpicklable_arguments_and_results_fail_clearly_and_the_runtime_goes_on(runtime: ModelRuntime) -> None:
    with pytest.raises(TypeError):
        runtime.call(f"{PROBE}:echo", threading.Lock())
    with pytest.raises(TypeError) as raised:
        runtime.call(f"{PROBE}:unpicklable_result")
    if runtime.mode != IN_PROCESS:
        assert "could not be sent back" in str(raised.value)
    assert runtime.call(f"{PROBE}:echo", 1) == ((1,), {})


def test_a_model_is_loaded_once_per_process_and_unload_drops_it(runtime: ModelRuntime) -> None:
    runtime.unload()
    first = runtime.call(f"{PROBE}:use_model", "matting")
    later = [runtime.call(f"{PROBE}:use_model", "matting") for _ in range(3)]
    loads_before = first["cache_loads"]
    assert all(r["cache_loads"] == loads_before for r in later)
    assert {r["model_id"] for r in later} == {first["model_id"]}
    assert runtime.offload() == 0  # nothing on a GPU here; the model stays resident
    assert runtime.call(f"{PROBE}:use_model", "matting")["cache_loads"] == loads_before
    assert runtime.unload() >= 1
    assert runtime.call(f"{PROBE}:use_model", "matting")["cache_loads"] == loads_before + 1


def test_calls_from_several_threads_run_one_at_a_time(runtime: ModelRuntime) -> None:
    seen: list[int] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(5):
                seen.append(runtime.call(f"{PROBE}:exclusive"))
                value = np.full((64, 64), index * 100 + n, np.int32)
                assert int(runtime.call(f"{PROBE}:echo", value)[0][0][0, 0]) == index * 100 + n
        except BaseException as exc:  # noqa: BLE001 - reported below with the others
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert seen == [1] * 20


def test_timeout_is_accepted_in_both_modes(runtime: ModelRuntime) -> None:
    assert runtime.call(f"{PROBE}:sleep", 0.0, timeout=30) == 0.0
