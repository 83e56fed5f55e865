"""Shared test setup: offline switches first, then the host double and model factories."""

from __future__ import annotations

import os

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
