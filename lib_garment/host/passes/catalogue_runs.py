"""Catalogue runs inside the WebUI: started from the tab or REST, run in a background thread by the engine's
runner (:func:`lib_garment.catalogue.runner.run_catalogue`) with this WebUI as the generator
(:mod:`.catalogue_job`), kept by id (the output folder's name), stopped, resumed (started again on the same
folder) and reported (counts, every job's record, the files).

Every server path is confined to the catalogue folder of the Settings page (``lib_garment.catalogue.paths``):
the manifest, the photos and masks its rows name, the output folder. Uploads (a manifest file, a zip of photos,
rows and photos in a REST body) are written into a fresh folder under it, ``.uploads/<id>``.

Order, as on the command line, so that mistakes cost seconds: the paths, every row of the manifest, then the
ControlNet and models of every request the run will generate; only then the output folder is locked and the
run starts. No pipeline logic here: the engine's catalogue package does the work.
"""

from __future__ import annotations

import collections
import shutil
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.catalogue.jobs import Job, distinct_requests, needs_server, plan_jobs
from lib_garment.catalogue.lock import FolderLock
from lib_garment.catalogue.manifest import read_manifest
from lib_garment.catalogue.paths import confine_rows, confined, output_folder, photo_root, unpack_zip
from lib_garment.catalogue.runner import Events, RunOptions, RunSummary, run_catalogue
from lib_garment.catalogue.state import DB_NAME, STATUSES, JobRecord, read_records
from lib_garment.errors import BadInput, GarmentError
from lib_garment.evaluate.fidelity import read_fidelity, record_fidelity
from lib_garment.host.passes.catalogue_job import WebUIGenerator
from lib_garment.host.webui.messages import warn
from lib_garment.host.webui.queue import queued
from lib_garment.host.webui.settings import current_settings, model_settings

UPLOADS = ".uploads"
LOG_LINES = 500  # the last job lines a run keeps for its watchers


class UnknownRun(GarmentError):
    """No run of that id, in this WebUI or as a folder under the catalogue folder."""


class RunConflict(GarmentError):
    """A run is already going on that folder."""


class Recorder(Events):
    """What a run told: its size, one line per finished job, notes (thread-safe: read while the run goes on)."""

    def __init__(self) -> None:
        self.total = 0
        self.ended = 0
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.notes: list[str] = []
        self._lock = threading.Lock()

    def started(self, total: int) -> None:
        self.total = total

    def job_ended(self, record: JobRecord, line: str) -> None:
        with self._lock:
            self.ended += 1
            self.lines.append(line)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def add_notes(self, notes: list[str]) -> None:
        with self._lock:
            self.notes.extend(notes)

    def snapshot(self) -> tuple[list[str], list[str]]:
        with self._lock:
            return list(self.lines), list(self.notes)


@dataclass(frozen=True)
class CatalogueStart:
    """What a run starts from: ``manifest`` (a CSV/JSONL file or a photo folder, relative to the catalogue
    folder or absolute inside it), ``output`` (a folder name under it: the run's id), ``base`` (the base request
    every row starts from, as JSON)."""

    manifest: str
    output: str
    base: dict[str, Any] = field(default_factory=dict)
    retry_failed: bool = False
    max_failures: int | None = None


@dataclass
class CatalogueRun:
    id: str
    folder: Path
    start: CatalogueStart
    jobs: int
    stop: threading.Event
    recorder: Recorder
    started: float
    thread: threading.Thread | None = None
    summary: RunSummary | None = None
    error: str | None = None
    finished: float | None = None

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def status(self) -> str:
        """running, stopping, finished (no job left pending), stopped (some left: resume), failed (the run
        itself broke: see ``error``)."""
        if self.alive:
            return "stopping" if self.stop.is_set() else "running"
        if self.error is not None:
            return "failed"
        if self.summary is not None and (self.summary.stopped or self.summary.counts.get("pending")):
            return "stopped"
        return "finished"


def _local_work() -> Any:
    """The runner's guard around our own models' work: the WebUI's queue lock, per job."""
    return queued({})


class Catalogues:
    """The runs of this WebUI process, by id."""

    def __init__(self) -> None:
        self._runs: dict[str, CatalogueRun] = {}
        self._lock = threading.Lock()

    # -- where ------------------------------------------------------------------------------------------------
    @staticmethod
    def root() -> Path:
        """The catalogue folder (Settings), created on first use."""
        root = current_settings().catalogue_root()
        root.mkdir(parents=True, exist_ok=True)
        return root

    def new_upload(self) -> Path:
        """A fresh folder for one start's uploads."""
        folder = self.root() / UPLOADS / uuid.uuid4().hex[:16]
        folder.mkdir(parents=True)
        return folder

    def sources(
        self, *, manifest_file: str | None, manifest_path: str, zip_file: str | None, photo_path: str
    ) -> tuple[str, Path | None]:
        """Where a tab start's manifest is (relative to the catalogue folder, or absolute in it) and the upload
        folder made for it (None when nothing was uploaded). An uploaded manifest and zip are put together in a
        fresh upload folder (the manifest's image paths are relative to it); a zip alone is a folder of photos
        (its one top folder, when it has one). BadInput for a combination that cannot work."""
        manifest_path, photo_path = manifest_path.strip(), photo_path.strip()
        if manifest_file and manifest_path:
            raise BadInput("give one manifest: an uploaded file or a path on the server, not both")
        if zip_file and photo_path:
            raise BadInput("give one source of photos: a zip or a folder on the server, not both")
        if (manifest_file or manifest_path) and photo_path:
            raise BadInput(
                "a manifest names its photos relative to itself: put it in the photo folder on the server and give "
                "its path, or upload the photos as a zip with the manifest"
            )
        if manifest_path and zip_file:
            raise BadInput("with a manifest on the server its photos are there too: leave the zip empty")
        if not (manifest_file or zip_file):
            if not (manifest_path or photo_path):
                raise BadInput("give a manifest (CSV or JSONL) or photos (a zip, or a folder on the server)")
            return manifest_path or photo_path, None
        suffix = Path(manifest_file).suffix.lower() if manifest_file else ""
        if manifest_file and suffix not in (".csv", ".jsonl"):
            raise BadInput(f"the manifest must be a .csv or .jsonl file, not {Path(manifest_file).name}")
        upload = self.new_upload()
        try:
            if zip_file:
                unpack_zip(zip_file, upload)
            if manifest_file:
                target = upload / f"manifest{suffix}"
                shutil.copyfile(manifest_file, target)
                return str(target), upload
            return str(photo_root(upload)), upload
        except BaseException:
            shutil.rmtree(upload, ignore_errors=True)
            raise

    # -- starting ---------------------------------------------------------------------------------------------
    def start(self, start: CatalogueStart, *, upload: Path | None = None) -> CatalogueRun:
        """Check everything, then start the run in a thread. ``upload``: the folder made for this start's
        uploads, removed when the start is refused (nothing is left behind by a bad manifest).

        BadInput (a path outside the catalogue folder, ManifestProblems naming every bad row), ModelUnavailable
        (ControlNet or a unit's model missing), RunConflict (a run is going on that folder)."""
        try:
            return self._start(start)
        except BaseException:
            if upload is not None:
                shutil.rmtree(upload, ignore_errors=True)
            raise

    def _start(self, start: CatalogueStart) -> CatalogueRun:
        root = self.root()
        if start.max_failures is not None and start.max_failures < 1:
            raise BadInput(f"max_failures must be 1 or more, got {start.max_failures}", loc=("max_failures",))
        folder = output_folder(start.output, root, loc=("output",))
        source = confined(start.manifest, root, "manifest", loc=("manifest",))
        with self._lock:
            self._refuse_running(start.output)
        manifest = confine_rows(read_manifest(source), root)
        jobs = plan_jobs(manifest, start.base, models_dir=str(current_settings().models_root()))
        generator = WebUIGenerator()
        for request in distinct_requests(needs_server(jobs)):
            generator.check(request)  # ControlNet and every unit's model, before anything is written
        with self._lock:
            self._refuse_running(start.output)
            try:
                lock = FolderLock.acquire(folder)
            except BadInput as err:
                raise RunConflict(str(err)) from None
            run = CatalogueRun(start.output, folder, start, len(jobs), threading.Event(), Recorder(), time.time())
            run.thread = threading.Thread(
                target=self._run, args=(run, jobs, generator, lock), name=f"garment-catalogue-{run.id}", daemon=True
            )
            self._runs[run.id] = run
            run.thread.start()
        return run

    def _refuse_running(self, run_id: str) -> None:
        running = self._runs.get(run_id)
        if running is not None and running.alive:
            raise RunConflict(f"catalogue {run_id!r} is running: stop it first, or wait for it to end")

    def _run(self, run: CatalogueRun, jobs: list[Job], generator: WebUIGenerator, lock: FolderLock) -> None:
        start = run.start
        try:
            run.summary = run_catalogue(
                jobs,
                run.folder,
                [generator],
                model_settings(),
                retry_failed=start.retry_failed,
                options=RunOptions(max_failures=start.max_failures, local_guard=_local_work),
                events=run.recorder,
                stop=run.stop,
                on_notes=run.recorder.add_notes,
                lock=lock,
            )
            record_fidelity(run.folder, jobs)  # still under the folder's lock: no other run changes it meanwhile
        except GarmentError as err:
            run.error = str(err)
        except Exception as err:  # noqa: BLE001 - a thread's failure must be reported, not lost
            traceback.print_exc()
            run.error = f"internal error: {type(err).__name__}: {err} (the traceback is in the WebUI console)"
        finally:
            lock.release()
            run.finished = time.time()
            if run.error is not None:
                warn(f"catalogue {run.id}: {run.error}")

    # -- watching and stopping ----------------------------------------------------------------------------------
    def _find(self, run_id: str) -> tuple[CatalogueRun | None, Path]:
        """The run in memory and its folder, or a catalogue folder left by an earlier session; UnknownRun."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is not None:
            return run, run.folder
        try:
            folder = output_folder(run_id, self.root())
        except BadInput:
            folder = None
        if folder is None or not (folder / DB_NAME).is_file():
            raise UnknownRun(f"no catalogue {run_id!r}: start one with that output folder name")
        return None, folder

    def stop(self, run_id: str) -> dict[str, Any]:
        """Ask the run to stop after its running job (resume by starting it again); its report."""
        run, _ = self._find(run_id)
        if run is not None:
            run.stop.set()
        return self.report(run_id)

    def wait(self, run_id: str, timeout: float | None = None) -> bool:
        """Wait for the run's thread to end (tests, unloading); True when it has."""
        run, _ = self._find(run_id)
        if run is not None and run.thread is not None:
            run.thread.join(timeout)
        return run is None or not run.alive

    def stop_all(self, timeout: float = 30.0) -> None:
        """Stop every run and wait for them (Reload UI, shutting down): nothing runs on unloaded code."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop.set()
        deadline = time.monotonic() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))

    def run(self, run_id: str) -> CatalogueRun | None:
        """The run of that id in this session, if any."""
        with self._lock:
            return self._runs.get(run_id)

    def last_start(self, run_id: str) -> CatalogueStart | None:
        """What the run was started from (in this session): Resume starts it again."""
        with self._lock:
            run = self._runs.get(run_id)
        return run.start if run is not None else None

    def report(self, run_id: str) -> dict[str, Any]:
        """The run's status, counts, every job's record (files relative to its folder), what it said, and the
        product fidelity measured when the last run on its folder ended (``fidelity.json``; None when none)."""
        run, folder = self._find(run_id)
        records = read_records(folder) or []
        counts = dict.fromkeys(STATUSES, 0)
        for record in records:
            counts[record.status] += 1
        if run is not None:
            lines, notes = run.recorder.snapshot()
            status = run.status
        else:  # a folder of an earlier session: what its database says
            lines, notes = [], []
            status = "stopped" if counts["pending"] or counts["running"] else "finished"
        summary = run.summary if run is not None else None
        return {
            "id": run_id,
            "status": status,
            "folder": str(folder),
            "counts": counts,
            "total": sum(counts.values()),
            "stopped": summary.stopped if summary is not None else None,
            "exit_code": summary.exit_code if summary is not None else None,
            "error": run.error if run is not None else None,
            "started": run.started if run is not None else None,
            "finished": run.finished if run is not None else None,
            "notes": notes,
            "log": lines,
            "jobs": [job_json(record) for record in records],
            "results_csv": "results.csv" if (folder / "results.csv").is_file() else None,
            "contact_sheet": "index.html" if (folder / "index.html").is_file() else None,
            "fidelity": read_fidelity(folder),
        }

    def zip_output(self, run_id: str, into: Path | None = None) -> Path:
        """The output folder as a zip (images, mattes, result.json, results.csv, the contact sheet; not the
        database, which is the run's working state), written to a temporary folder."""
        _, folder = self._find(run_id)
        target = (into or Path(tempfile.mkdtemp(prefix="garment_catalogue_"))) / f"{run_id}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith((DB_NAME, ".")):  # hidden: the lock, temporaries
                    bundle.write(path, f"{run_id}/{path.relative_to(folder).as_posix()}")
        return target


def job_json(record: JobRecord) -> dict[str, Any]:
    """A job's record for REST and the tab: its files by kind, relative to the run's folder."""
    return {
        "id": record.id,
        "sku": record.sku,
        "variant": record.variant,
        "row": record.row,
        "status": record.status,
        "attempts": record.attempts,
        "seed": record.seed,
        "server": record.server,
        "error": record.error,
        "error_field": record.error_field,
        "kept_exact": record.kept_exact,
        "compliance": record.compliance,
        "failing_rules": list(record.failing_rules),
        "seconds": record.seconds,
        "files": {output["kind"]: output["file"] for output in record.outputs},
    }


RUNS = Catalogues()  # the one manager of this WebUI process (the tab and REST share it)
