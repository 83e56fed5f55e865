"""Catalogues in the WebUI (the host double, both flavours): REST start → watch → done, resume, stop, 404, a bad
manifest's 422 listing every problem, paths confined to the catalogue folder (``..``, an absolute path elsewhere,
a symlink out; the rows' photos too), rows and photos in the body, the queue lock taken per job so other
users' generations interleave with a catalogue, and the product fidelity each run's end measures (the report,
REST and the tab's view: exact, a changed kept pixel, a photo gone)."""

from __future__ import annotations

import base64
import importlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lib_garment import imageio
from tests.catalogue_support import write_csv, write_shoot

API = "/garment-studio/v1"
CN_MODELS = ("control_v11p_sd15_canny",)
BASE = {
    "control": [{"kind": "mask_canny"}],  # weight-free: no model file needed
    "segment": {"matte": "none"},
    "generation": {"steps": 2, "sampler": "Euler a"},
}
WAIT_S = 120  # a safety net for a broken test, never a timing assertion


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    return any_webui.with_garment_studio(CN_MODELS)


def runs() -> Any:
    """The installed copy's run manager (the one the routes use)."""
    return sys.modules["lib_garment.host.passes.catalogue_runs"].RUNS


def root_of(host: Any) -> Path:
    return host.root / "outputs" / "garment_studio" / "catalogues"


def tab_view(report: dict) -> Any:
    """The report as the tab's Catalogue section shows it (the installed copy's)."""
    return importlib.import_module("lib_garment.host.ui.tab_catalogue").describe(report)


def start(client: Any, status: int = 202, **body: Any) -> dict:
    response = client.post(f"{API}/batch", json={"request": BASE, **body})
    assert response.status_code == status, response.text
    return response.json()


def finished(client: Any, run_id: str) -> dict:
    assert runs().wait(run_id, WAIT_S)
    response = client.get(f"{API}/batch/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_folder_runs_to_the_end_and_a_second_start_resumes_without_work(host) -> None:
    client = host.client()
    root = root_of(host)
    skus = write_shoot(root / "shoot", 3)
    began = start(client, manifest="shoot", output="first")
    assert (began["id"], began["jobs"]) == ("first", 3)
    report = finished(client, "first")
    assert report["status"] == "finished", report
    assert report["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 0}
    assert [(j["sku"], j["variant"], j["status"], j["kept_exact"]) for j in report["jobs"]] == [
        (sku, 1, "done", True) for sku in skus
    ]
    folder = Path(report["folder"])
    assert folder == (root / "first").resolve()
    for job in report["jobs"]:
        photo = imageio.read_image(root / "shoot" / f"{job['sku']}.png")
        result = imageio.read_image(folder / job["files"]["result"])
        kept = imageio.read_mask(folder / job["sku"] / "alpha.png") == 255
        assert np.array_equal(result[kept], photo[kept])  # generated in the WebUI, the product's pixels kept
        assert job["server"] == "this WebUI"
    assert (folder / "results.csv").is_file()
    assert (folder / "index.html").is_file()
    done_before = {j["id"]: j["files"] for j in report["jobs"]}
    overall = report["fidelity"]["overall"]  # measured once, at the run's end, into fidelity.json
    assert (overall["results"], overall["exact_results"], overall["kept_share"]) == (3, 3, 1.0)
    assert overall["compliance_checked"] == 0
    assert json.loads((folder / "fidelity.json").read_text()) == report["fidelity"]
    view = tab_view(report)
    assert "\n\nProduct kept: 100.000 % of α=1 pixels identical (3/3 results exact) · seam " in view.summary
    assert view.errors == []

    (folder / "fidelity.json").unlink()  # as a folder finished before runs measured themselves
    older = client.get(f"{API}/batch/first").json()
    assert older["fidelity"] is None  # a look measures nothing
    assert "product fidelity not measured yet" in tab_view(older).notes[-1]
    start(client, manifest=str(root / "shoot"), output="first")  # absolute inside the root: the same folder
    again = finished(client, "first")
    assert again["counts"]["done"] == 3
    assert {j["id"]: j["files"] for j in again["jobs"]} == done_before
    assert again["log"] == []  # no job ran again
    assert again["fidelity"]["overall"] == overall  # the run with nothing to make measured the folder


def test_rows_and_photos_in_the_body(host) -> None:
    client = host.client()
    folder = host.root / "shots"
    write_shoot(folder, 2)
    photos = {p.name: base64.b64encode(p.read_bytes()).decode() for p in sorted(folder.iterdir())}
    rows = [
        {"sku": "A", "image": "SKU-000.png", "mask": "SKU-000.mask.png", "variants": 2},
        {"sku": "B", "image": "SKU-001.png", "mask": "SKU-001.mask.png", "prompt": "on marble"},
    ]
    began = start(client, rows=rows, photos=photos, output="inline")
    assert began["jobs"] == 3
    report = finished(client, "inline")
    assert [(j["sku"], j["variant"], j["status"]) for j in report["jobs"]] == [
        ("A", 1, "done"),
        ("A", 2, "done"),
        ("B", 1, "done"),
    ]


def test_a_bad_manifest_is_422_listing_every_problem_and_nothing_is_written(host) -> None:
    client = host.client()
    root = root_of(host)
    write_shoot(root / "shoot", 2)
    manifest = write_csv(
        root / "shoot" / "bad.csv",
        [
            {"sku": "A", "image": "SKU-000.png", "mask": "SKU-000.mask.png"},
            {"sku": "A", "image": "SKU-001.png", "mask": "SKU-001.mask.png"},  # duplicate
            {"sku": "C", "image": "missing.png", "mask": "SKU-001.mask.png"},
            {"sku": "D", "image": "SKU-001.png", "mask": "SKU-001.mask.png", "request": {"taks": 1}},
        ],
    )
    detail = start(client, 422, manifest=str(manifest.relative_to(root)), output="bad")["detail"]
    assert all(d["loc"] == ["body", "manifest"] and d["type"] == "value_error.manifest" for d in detail)
    messages = [d["msg"] for d in detail]
    assert any(m.startswith("row 3 (A): duplicate sku") for m in messages), messages
    assert any(m.startswith("row 4 (C): image") for m in messages), messages
    assert any(m.startswith("row 5 (D)") and "taks" in m for m in messages), messages
    assert not (root / "bad").exists()

    inline = start(client, 422, rows=[{"sku": "x"}, {"image": "a.png"}], photos={}, output="bad")["detail"]
    assert [d["loc"] for d in inline] == [["body", "rows"], ["body", "rows"]]
    assert not list((root / ".uploads").iterdir())  # the refused upload was removed


def test_paths_outside_the_catalogue_folder_are_refused_by_name(host, tmp_path) -> None:
    client = host.client()
    root = root_of(host)
    write_shoot(tmp_path / "elsewhere", 1)
    write_shoot(root / "shoot", 1)
    (root / "link-out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    def refused(**body: Any) -> list[dict]:
        return start(client, 422, **body)["detail"]

    for manifest in ("../../../", "shoot/../../x", str(tmp_path / "elsewhere"), "link-out"):
        (problem,) = refused(manifest=manifest, output="out")
        assert problem["loc"] == ["body", "manifest"]
        assert "is outside the catalogue folder" in problem["msg"], problem
    for output in ("..", "../escape", str(tmp_path / "out"), "link-out"):
        (problem,) = refused(manifest="shoot", output=output)
        assert problem["loc"] == ["body", "output"]
        assert "outside the catalogue folder" in problem["msg"] or "one folder name" in problem["msg"], problem
    assert not (tmp_path / "out").exists()
    assert not (root.parent / "escape").exists()

    # A manifest inside the folder whose rows point outside it: each row named, nothing read.
    rows = [{"sku": "in", "image": "SKU-000.png", "mask": "SKU-000.mask.png"},
            {"sku": "out", "image": str(tmp_path / "elsewhere" / "SKU-000.png")},
            {"sku": "up", "image": "../../../../etc/hostname"}]  # fmt: skip
    manifest = write_csv(root / "shoot" / "escape.csv", rows)
    detail = refused(manifest="shoot/escape.csv", output="out")
    messages = [d["msg"] for d in detail]
    assert len(messages) == 2, messages
    assert all("outside the catalogue folder" in m for m in messages), messages
    assert messages[0].startswith("row 3 (out): image")
    assert messages[1].startswith("row 4 (up): image")
    assert manifest.is_file()
    assert not (root / "out").exists()


def test_unknown_ids_are_404_and_stop_ends_a_run_after_its_running_job(host, monkeypatch) -> None:
    client = host.client()
    for path in (f"{API}/batch/nope", f"{API}/batch/..nope", f"{API}/batch/nope/stop"):
        method = client.post if path.endswith("/stop") else client.get
        response = method(path)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFound"
        assert "nope" in response.json()["detail"]

    root = root_of(host)
    write_shoot(root / "shoot", 4)
    job = sys.modules["lib_garment.host.passes.catalogue_job"]
    real, calls = job.run_plan, []
    first_generated, stopped = threading.Event(), threading.Event()

    def gated(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == 1:
            result.images[0] = result.images[0].copy()
            result.images[0][30, 40, 1] ^= 1  # one kept pixel of SKU-000 (its box: rows 10-49, columns 15-64)
            first_generated.set()
            assert stopped.wait(WAIT_S)  # Stop is pressed while the first job is running
        return result

    monkeypatch.setattr(job, "run_plan", gated)
    start(client, manifest="shoot", output="stopping")
    assert first_generated.wait(WAIT_S)
    response = client.post(f"{API}/batch/stopping/stop")
    assert response.status_code == 200
    assert response.json()["status"] in ("stopping", "stopped")
    stopped.set()
    report = finished(client, "stopping")
    assert report["status"] == "stopped", report
    assert report["stopped"], report
    assert report["counts"]["done"] == 1
    assert report["counts"]["pending"] == 3
    assert len(calls) == 1
    # A stopped run measures what it made: the changed pixel, which the job's own check did not see, is loud.
    assert report["jobs"][0]["kept_exact"] is True
    assert (report["fidelity"]["overall"]["results"], report["fidelity"]["overall"]["exact_results"]) == (1, 0)
    view = tab_view(report)
    assert "Product kept: 99.9" in view.summary
    assert "(0/1 results exact)" in view.summary
    assert len(view.errors) == 1
    assert view.errors[0].startswith("KEPT PIXELS CHANGED in 1 of 1 result(s): SKU-000 #1 (99.9")

    start(client, manifest="shoot", output="stopping")  # resume
    resumed = finished(client, "stopping")
    assert resumed["counts"]["done"] == 4
    assert len(calls) == 4  # the done job was not generated again
    assert (resumed["fidelity"]["overall"]["results"], resumed["fidelity"]["overall"]["exact_results"]) == (4, 3)


def test_a_second_start_on_a_running_folder_is_409_and_a_photo_gone_is_a_fidelity_note(host, monkeypatch) -> None:
    client = host.client()
    write_shoot(root_of(host) / "shoot", 1)
    job = sys.modules["lib_garment.host.passes.catalogue_job"]
    real, inside, release = job.run_plan, threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(WAIT_S)
        (root_of(host) / "shoot" / "SKU-000.png").unlink()  # moved away after it was read: nothing to measure against
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "run_plan", held)
    start(client, manifest="shoot", output="busy")
    assert inside.wait(WAIT_S)
    answer = start(client, 409, manifest="shoot", output="busy")
    assert answer["error"] == "Conflict"
    assert "busy" in answer["detail"]
    release.set()
    report = finished(client, "busy")
    assert report["status"] == "finished"  # the measurement failing does not fail the run
    assert report["counts"]["done"] == 1
    assert "SKU-000.png" in report["fidelity"]["error"]
    view = tab_view(report)
    assert view.errors == []
    assert view.notes[-1].startswith("Product fidelity not measured: ")


def test_each_job_takes_the_queue_lock_on_its_own(host, monkeypatch) -> None:
    """Another user's generation that asks for the lock during the first job gets it before the second job is
    generated: the catalogue does not hold the lock from one job to the next."""
    client = host.client()
    write_shoot(root_of(host) / "shoot", 3)
    call_queue = host.module("call_queue")
    lock = call_queue.queue_lock
    job = sys.modules["lib_garment.host.passes.catalogue_job"]
    real, generated = job.run_plan, []
    other: dict[str, Any] = {}

    def another_user() -> None:
        with lock:
            other["generated_before"] = len(generated)

    def watched(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        generated.append(1)
        if len(generated) == 1:  # still inside the first job's lock: another user asks for it now
            other["thread"] = threading.Thread(target=another_user)
            other["thread"].start()
            while not lock._pending:  # the double's FIFO lock: the other user is queued behind this job
                threading.Event().wait(0.01)
        return result

    monkeypatch.setattr(job, "run_plan", watched)
    start(client, manifest="shoot", output="shared")
    report = finished(client, "shared")
    other["thread"].join(WAIT_S)
    assert report["counts"]["done"] == 3
    assert other["generated_before"] == 1  # served between the catalogue's first and second job
    assert not lock.locked()
    assert host.shared.state.begun_jobs.count("garment_studio") >= 3  # one begun job per generation at least


def test_the_catalogue_folder_setting_moves_the_fence(host, tmp_path) -> None:
    client = host.client()
    elsewhere = tmp_path / "catalogues"
    write_shoot(elsewhere / "shoot", 1)
    assert start(client, 422, manifest=str(elsewhere / "shoot"), output="x")["detail"][0]["loc"] == ["body", "manifest"]
    host.set_options(garment_studio_catalogue_root=str(elsewhere))
    start(client, manifest=str(elsewhere / "shoot"), output="x")
    assert finished(client, "x")["counts"]["done"] == 1
    assert (elsewhere / "x" / "results.csv").is_file()
    # The fence cannot be moved over the API: the WebUI refuses API writes of a restricted option.
    options = host.shared.opts
    assert options.set("garment_studio_catalogue_root", "/", is_api=True) is False


def test_bodies_are_checked_field_by_field(host) -> None:
    client = host.client()
    detail = start(client, 422, manifest="a", rows=[], output=3, max_failures=0, extra=1)["detail"]
    locs = {tuple(d["loc"]) for d in detail}
    assert {("body", "output"), ("body", "max_failures"), ("body", "extra"), ("body", "manifest")} <= locs
    detail = start(client, 422, rows=[], photos={"../x.png": "AA==", "ok.png": "###"}, output="o")["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "photos", "../x.png"), ("body", "photos", "ok.png")}
    response = client.post(f"{API}/batch", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert json.loads(response.text)["detail"][0]["loc"] == ["body"]
