"""Shared test setup: offline switches first, then the host double and model factories."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator

import pytest

# Any hub or telemetry access must fail loudly rather than download: set before anything imports
# huggingface_hub, transformers, ultralytics or gradio.
os.environ.update(
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    YOLO_OFFLINE="true",
    GRADIO_ANALYTICS_ENABLED="False",
    DO_NOT_TRACK="1",
)

pytest_plugins = ["tests.host_double.fixtures", "tests.factories.fixtures"]

# The collector's generations after collection: hundreds of tests each start a host double (a fresh copy of the
# extension imported, a gradio UI built), and with CPython's default thresholds each start ran several full
# collections over torch's, gradio's and transformers' objects — about a tenth of the suite's CPU time. Those
# long-lived objects are frozen out of the collector, and collections run less often (garbage is still freed:
# reference counting frees all but cycles, and the rarer collections free those; about 0.2 GB more at peak).
GC_THRESHOLDS = (50_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.fixture(scope="session", autouse=True)
def _stop_the_shared_model_worker() -> Iterator[None]:
    """The shared model worker serves every test module that needs one (starting one costs seconds: torch and
    transformers are imported again); it is stopped once, when the session ends. Tests that need a fresh
    worker make their own ``WorkerRuntime``."""
    yield
    runtime = sys.modules.get("lib_garment.runtime")  # never imported: no worker to stop
    if runtime is not None:
        runtime.close_all()
