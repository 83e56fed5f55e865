"""``python -m lib_garment``: doctor's report and the exit-code policy (0 ok, 2 bad input, 3 missing, 1 internal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib_garment.cli import main as cli
from lib_garment.errors import BadInput, ModelUnavailable

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib_garment", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_doctor_json_reports_this_environment_and_the_runtime_each_family_gets(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "sam").mkdir(parents=True)
    (models / "sam" / "sam_vit_b_01ec64.pth").write_bytes(b"not really weights")
    result = run_cli("doctor", "--json", "--models-dir", str(models))  # one run: each costs seconds of imports
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    import gradio
    import torch
    import transformers

    assert report["usable"] is True
    assert report["packages"]["torch"] == torch.__version__.split("+")[0]
    assert report["packages"]["gradio"] == gradio.__version__
    assert report["device"].startswith(("cpu", "cuda"))
    found = {m["name"]: m["path"] for m in report["models"]}
    assert found["sam_vit_b"] == str(models / "sam" / "sam_vit_b_01ec64.pth")  # reused from the SAM extension
    assert found["sam_vit_h"] is None
    assert set(report["runtimes"]) >= {"ViTMatte", "SAM (segment-anything)", "YOLOv8 pose / face / hand"}

    old_host = tuple(int(x) for x in transformers.__version__.split(".")[:2]) < (4, 34)
    vitmatte = report["runtimes"]["ViTMatte"]
    assert vitmatte.startswith("worker (transformers 4.46" if old_host else "in-process (transformers")
    if old_host:
        assert any("model worker" in note for note in report["pin_conflicts"])


def test_doctor_text_mentions_every_section() -> None:
    result = run_cli("doctor")
    assert result.returncode == 0
    for title in ("Host", "Packages", "WebUI pins", "Model runtimes", "Model files under"):
        assert title in result.stdout


def test_unknown_command_is_bad_input() -> None:
    result = run_cli("segmnet")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadInput("no such file: x.png"), 2),
        (ModelUnavailable("sam_vit_b_01ec64.pth missing"), 3),
        (RuntimeError("boom"), 1),
    ],
)
def test_errors_map_to_exit_codes_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception, code: int
) -> None:
    def failing(_args: object) -> int:
        raise error

    monkeypatch.setattr(cli.doctor, "run", failing)
    assert cli.main(["doctor"]) == code
    err = capsys.readouterr().err
    assert str(error) in err
    assert "Traceback" not in err
