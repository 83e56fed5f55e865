"""The switch that turns a missing model worker from a skip into a failure (GARMENT_REQUIRE_WORKER=1, set by
tools/run_tests.sh): without it, a machine without the worker's folder skips those tests with the reason."""

from __future__ import annotations

import pytest

from tests.factories.fixtures import REQUIRE_WORKER_ENV, worker_missing


def test_a_missing_worker_fails_where_the_environment_requires_it(monkeypatch) -> None:
    monkeypatch.setenv(REQUIRE_WORKER_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="model worker is required here"):
        worker_missing("no folder")


def test_a_missing_worker_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.delenv(REQUIRE_WORKER_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no folder"):
        worker_missing("no folder")


def test_the_test_command_requires_the_worker() -> None:
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "tools" / "run_tests.sh").read_text()
    assert f"export {REQUIRE_WORKER_ENV}=1" in script
