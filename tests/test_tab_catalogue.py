"""The tab's Catalogue section in the host double: a zip of photos started with the tab's own settings as the
base request, its summary with the product fidelity, its table and thumbnails, the output as a zip; unsafe
uploads and paths outside the catalogue folder are messages, nothing started (host/ui/tab_catalogue.py)."""

from __future__ import annotations

import importlib
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.catalogue_support import write_shoot
from tests.test_tab_handlers import inputs, start

WAIT_S = 120  # a safety net for a broken test, never a timing assertion


@pytest.fixture
def paired(make_webui, fresh_engine_modules):
    """The flavour that ships this gradio, the tab built as the WebUI builds it."""
    import gradio

    webui = make_webui("forge" if int(gradio.__version__.split(".")[0]) >= 4 else "a1111")
    webui.tab = start(webui)
    return webui


@pytest.fixture
def section(paired) -> Any:
    return importlib.import_module("lib_garment.host.ui.tab_catalogue")


def shoot_zip(folder: Path, count: int) -> Path:
    write_shoot(folder / "shoot", count)
    archive = folder / "shoot.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((folder / "shoot").iterdir()):
            bundle.write(path, f"shoot/{path.name}")
    return archive


def test_a_zip_of_photos_runs_with_the_tabs_settings_and_comes_back_as_a_zip(paired, section, tmp_path) -> None:
    tab = paired.tab
    named = {"photos_zip": str(shoot_zip(tmp_path, 2)), "output": "tabrun", "max_failures": 0}
    view = section.run_start(named, inputs(tab, units=["mask_canny"], prompt="studio light"))
    assert view.errors == [], view.errors
    assert view.notes[0].startswith("started: 2 job(s)")
    runs = sys.modules["lib_garment.host.passes.catalogue_runs"].RUNS
    assert runs.wait("tabrun", WAIT_S)
    summary, rows, thumbnails, message = section.refresh_clicked("tabrun")
    assert "**tabrun**: finished · 2 done, 0 failed" in summary
    assert "\n\nProduct kept: 100.000 % of α=1 pixels identical (2/2 results exact) · seam " in summary
    assert [row[:3] + row[4:5] for row in rows] == [["done", "SKU-000", 1, "yes"], ["done", "SKU-001", 1, "yes"]]
    assert [caption for _image, caption in thumbnails] == ["SKU-000 #1", "SKU-001 #1"]
    report = runs.report("tabrun")
    assert report["jobs"][0]["files"]["result"] == "SKU-000/SKU-000-1.png"
    result = Path(report["folder"]) / "SKU-000" / "result.json"
    assert "studio light" in result.read_text()  # the tab's prompt reached the rows' requests

    archive, _ = section.zip_clicked("tabrun")
    names = zipfile.ZipFile(archive).namelist()
    assert "tabrun/results.csv" in names
    assert "tabrun/SKU-001/SKU-001-1.png" in names
    assert not any(name.endswith(("batch.sqlite", ".batch.lock")) for name in names)


def test_unsafe_uploads_and_outside_paths_are_messages_and_nothing_starts(paired, section, tmp_path) -> None:
    tab = paired.tab
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../../escape.png", b"x")
    view = section.run_start({"photos_zip": str(evil), "output": "x"}, inputs(tab))
    assert "absolute paths or '..'" in view.errors[0]
    view = section.run_start({"photos_path": str(tmp_path), "output": "x"}, inputs(tab))
    assert "is outside the catalogue folder" in view.errors[0]
    view = section.run_start({"photos_path": "shoot", "manifest_path": "m.csv", "output": "x"}, inputs(tab))
    assert "relative to itself" in view.errors[0]
    view = section.run_start({"output": "x"}, inputs(tab))
    assert view.errors == ["give a manifest (CSV or JSONL) or photos (a zip, or a folder on the server)"]
    root = paired.root / "outputs" / "garment_studio" / "catalogues"
    assert not (root / "x").exists()
    assert not any((root / ".uploads").iterdir())
    assert not (tmp_path.parent / "escape.png").exists()
    *_, message = section.stop_clicked("never-started")
    assert "no catalogue &#x27;never-started&#x27;" in message  # escaped by the message line
    assert section.refresh_clicked("never-started")[0] == ""
