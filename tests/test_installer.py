"""Carrying out install plans: pip calls made (or not), constraints passed, worker folder swapped in whole."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from lib_garment import installer
from lib_garment.deps import A1111_1_10_1_PINS
from lib_garment.install_plan import Action, InstallPlan

ROOT = Path(__file__).resolve().parents[1]


class RecordingRunner:
    """Stands in for pip: records each command and, for --target installs, writes a fake package there."""

    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.commands: list[list[str]] = []
        self.constraints: list[str] = []

    def __call__(self, command: Sequence[str]) -> int:
        command = list(command)
        self.commands.append(command)
        if "-c" in command:
            self.constraints = Path(command[command.index("-c") + 1]).read_text().split()
        if "--target" in command:
            target = Path(command[command.index("--target") + 1])
            target.mkdir(parents=True, exist_ok=True)
            (target / "marker.txt").write_text("new")
        return self.code


def test_no_pip_call_and_no_output_when_nothing_is_planned(tmp_path: Path) -> None:
    runner, logged = RecordingRunner(), []
    failures = installer.execute(InstallPlan(), {}, {}, worker_folder=tmp_path / "w", runner=runner, log=logged.append)
    assert (failures, runner.commands, logged) == (0, [], [])


def test_install_passes_pins_as_constraints_and_logs_one_line() -> None:
    runner, logged = RecordingRunner(), []
    plan = InstallPlan([Action("install", ("ultralytics>=8.3.0,<8.4.119",), "installing ultralytics")])
    installed = {"numpy": "1.26.2", "torch": "2.1.2"}
    installer.execute(
        plan, installed, A1111_1_10_1_PINS, worker_folder=Path("unused"), runner=runner, log=logged.append
    )
    (command,) = runner.commands
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "ultralytics>=8.3.0,<8.4.119" in command
    assert {"numpy==1.26.2", "torch==2.1.2", "transformers==4.30.2", "httpx==0.24.1"} <= set(runner.constraints)
    assert logged == ["[Garment Studio] installing ultralytics"]
    assert "--no-deps" not in command


def test_a_no_deps_requirement_is_installed_with_no_deps_and_the_pins_held() -> None:
    runner = RecordingRunner()
    plan = InstallPlan([Action("install", ("pysodmetrics==1.6.2",), "installing pysodmetrics", no_deps=True)])
    installer.execute(plan, {}, A1111_1_10_1_PINS, worker_folder=Path("unused"), runner=runner, log=lambda _: None)
    (command,) = runner.commands
    assert "--no-deps" in command
    assert "pysodmetrics==1.6.2" in command
    assert "numpy==1.26.2" in runner.constraints


def test_conflicts_are_logged_but_never_run() -> None:
    runner, logged = RecordingRunner(), []
    plan = InstallPlan([Action("conflict", ("x==1",), "x is pinned")])
    installer.execute(plan, {}, {}, worker_folder=Path("unused"), runner=runner, log=logged.append)
    assert runner.commands == []
    assert logged == ["[Garment Studio] x is pinned"]


def test_failed_install_is_reported_and_counted() -> None:
    logged: list[str] = []
    plan = InstallPlan([Action("install", ("a",), "installing a"), Action("install", ("b",), "installing b")])
    failures = installer.execute(
        plan, {}, {}, worker_folder=Path("unused"), runner=RecordingRunner(code=1), log=logged.append
    )
    assert failures == 2
    assert sum("FAILED" in line for line in logged) == 2


def test_worker_folder_is_swapped_in_whole_and_keeps_other_packages(tmp_path: Path) -> None:
    folder = tmp_path / "worker"
    folder.mkdir()
    (folder / "kept.txt").write_text("old")
    plan = InstallPlan([Action("worker", ("tokenizers==0.20.3",), "worker")])
    installer.execute(plan, {}, {}, worker_folder=folder, runner=RecordingRunner(), log=lambda _: None)
    assert (folder / "marker.txt").read_text() == "new"
    assert (folder / "kept.txt").read_text() == "old"
    assert not (tmp_path / "worker.partial").exists()


def test_failed_worker_install_leaves_no_half_folder(tmp_path: Path) -> None:
    folder = tmp_path / "worker"
    plan = InstallPlan([Action("worker", ("transformers==4.46.3",), "worker")])
    installer.execute(plan, {}, {}, worker_folder=folder, runner=RecordingRunner(code=1), log=lambda _: None)
    assert not folder.exists()
    assert not (tmp_path / "worker.partial").exists()


def test_skipped_plan_says_so_once() -> None:
    logged: list[str] = []
    installer.execute(
        InstallPlan(skipped=True), {}, {}, worker_folder=Path("x"), runner=RecordingRunner(), log=logged.append
    )
    assert logged == ["[Garment Studio] --skip-install: not checking or installing packages"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"GARMENT_SKIP_INSTALL": "1"}, True), ({"COMMANDLINE_ARGS": "--api --skip-install"}, True), ({}, False)],
)
def test_skip_requested(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: bool) -> None:
    monkeypatch.delenv("GARMENT_SKIP_INSTALL", raising=False)
    monkeypatch.delenv("COMMANDLINE_ARGS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert installer.skip_requested() is expected


def test_install_py_in_a_complete_environment_makes_no_pip_call(tmp_path: Path) -> None:
    """The real install.py, in this (complete) test environment: silent, exit 0, nothing installed."""
    env = {**os.environ, "PIP_NO_INDEX": "1"}  # a pip call would fail loudly rather than download
    env.pop("GARMENT_SKIP_INSTALL", None)
    before = installer.installed_distributions()
    result = subprocess.run(
        [sys.executable, str(ROOT / "install.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert installer.installed_distributions() == before


def test_read_pins_prefers_the_webuis_own_file(tmp_path: Path) -> None:
    (tmp_path / "requirements_versions.txt").write_text("gradio==4.40.0\n")
    assert installer.read_pins(tmp_path) == {"gradio": "4.40.0"}
    assert installer.read_pins(None) == A1111_1_10_1_PINS


def test_names_and_versions_read_off_the_headers_match_the_full_parser() -> None:
    from importlib import metadata

    dists = list(metadata.distributions())
    assert len(dists) > 50  # this environment's packages, torch and gradio among them
    for dist in dists:
        assert installer.name_and_version(dist) == (dist.metadata["Name"], dist.version), dist._path


def test_a_metadata_file_without_the_headers_falls_back_to_the_parser(tmp_path) -> None:
    from importlib import metadata

    info = tmp_path / "odd-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nSummary: x\n\nName: not-a-header\n", encoding="utf-8")
    (dist,) = metadata.distributions(path=[str(tmp_path)])
    assert installer.name_and_version(dist) == (None, None)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: odd\nVersion: 1.0\n\nlong text\n", encoding="utf-8")
    assert installer.installed_distributions([str(tmp_path)]) == {"odd": "1.0"}
