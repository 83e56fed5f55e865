"""Shared test setup: offline switches first, then the host double and model factories."""

from __future__ import annotations

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


@pytest.fixture(scope="session", autouse=True)
def _stop_the_shared_model_worker() -> Iterator[None]:
    """The shared model worker serves every test module that needs one (starting one costs seconds: torch and
    transformers are imported again); it is stopped once, when the session ends. Tests that need a fresh
    worker make their own ``WorkerRuntime``."""
    yield
    runtime = sys.modules.get("lib_garment.runtime")  # never imported: no worker to stop
    if runtime is not None:
        runtime.close_all()
