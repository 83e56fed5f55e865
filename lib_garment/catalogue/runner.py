"""A catalogue run: the pending jobs of ``DIR/batch.sqlite`` made on one or more generators.

Threads: one *preparer* reads each photo, segments it and makes its maps (local models, loaded once and kept)
and puts the prepared job on a bounded queue; jobs with nothing to generate (a plain background) it finishes
itself. One thread per generator (a WebUI generates one job at a time, so each gets one at a time) takes the
next prepared job, has it generated, frames and checks it, writes its files and marks it done — while the
preparer works ahead, so every server stays busy.

A job's failure never stops the run: it is recorded (with its row and field when it is the input's fault) and
the others go on. A server's failure takes the server out and hands the job to another (attempts recorded, at
most ``max_attempts``). The run stops early on a stop request (Ctrl-C, the tab's Stop), after
``max_failures`` failed jobs, when no server is left, when a model is missing, or when the disk is full; the
running jobs are finished or released, and running the same command again resumes.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.catalogue import reports
from lib_garment.catalogue.files import JobImages, write_job_files
from lib_garment.catalogue.generators import Generated, Generator, ServerFailure
from lib_garment.catalogue.jobs import Job
from lib_garment.catalogue.lock import FolderLock
from lib_garment.catalogue.state import BatchState, Done, JobRecord
from lib_garment.errors import BadInput, GarmentError, ModelUnavailable

if TYPE_CHECKING:
    import numpy as np

    from lib_garment.generate.prepare import Prepared
    from lib_garment.models.settings import ModelSettings
    from lib_garment.presets.deliver import Delivered
    from lib_garment.presets.load import PresetSet

EXIT_OK, EXIT_FAILED, EXIT_MISSING = 0, 1, 3
REPORT_EVERY_S = 2.0


@dataclass(frozen=True)
class RunOptions:
    timeout: float = 3600.0  # one generation call
    max_failures: int | None = None  # stop after this many failed jobs in this run
    max_attempts: int = 3  # server failures a job may meet before it counts as failed
    prefetch: int | None = None  # prepared jobs waiting for a server (default: one per server, plus one)
    # Held around each job's local model work (preparing, a plain background). In the WebUI: its queue lock, so
    # that our models never run beside another user's generation; None (nothing held) on the command line.
    local_guard: Callable[[], contextlib.AbstractContextManager[Any]] | None = None


@dataclass
class RunSummary:
    counts: dict[str, int]
    ran: int
    stopped: str | None  # why the run ended before its queue did
    exit_code: int
    failed: list[JobRecord] = field(default_factory=list)


class Events:
    """What a run tells its watcher (the command line's progress bar, the tab's table). No-ops by default."""

    def started(self, total: int) -> None: ...

    def job_ended(self, record: JobRecord, line: str) -> None: ...

    def note(self, text: str) -> None: ...


class _Fatal(Exception):
    """Ends the run (a missing model, a full disk): the job is released, not failed."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _WorkQueue:
    """Prepared jobs waiting for a server: bounded for the preparer, a failed job put back at the front."""

    def __init__(self, capacity: int, stop: threading.Event) -> None:
        self._items: collections.deque[tuple[Job, Prepared]] = collections.deque()
        self._capacity = capacity
        self._stop = stop
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: tuple[Job, Prepared]) -> bool:
        with self._cond:
            while len(self._items) >= self._capacity and not self._stop.is_set():
                self._cond.wait(0.2)
            if self._stop.is_set():
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def put_front(self, item: tuple[Job, Prepared]) -> None:
        with self._cond:
            self._items.appendleft(item)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self) -> tuple[Job, Prepared] | None:
        """The next job; None when the queue is closed and empty, or the run stops."""
        with self._cond:
            while not self._items and not self._closed and not self._stop.is_set():
                self._cond.wait(0.2)
            if self._stop.is_set() or not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item


class Runner:
    """One run over ``state``'s pending jobs (``jobs``: this manifest's, by id)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        state: BatchState,
        generators: Sequence[Generator],
        env: ModelSettings,
        *,
        presets: PresetSet | None = None,
        options: RunOptions | None = None,
        events: Events | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.state = state
        self.generators = list(generators)
        self.env = env
        self.presets = presets
        self.options = options or RunOptions()
        self.events = events or Events()
        self.stop = stop or threading.Event()
        self._finish_lock = threading.Lock()  # framing (numba) and writing: one job at a time
        self._report_lock = threading.Lock()
        self._last_report = 0.0
        self._failures = 0
        self._ran = 0
        self._live = set(range(len(self.generators)))
        self._why: str | None = None
        self._exit: int | None = None
        self._count_lock = threading.Lock()
        self._said: set[str] = set()  # the notes of prepared jobs told so far (only the preparing thread)

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self, only: set[str] | None = None) -> RunSummary:
        """Run the pending jobs (only those in ``only`` when given)."""
        queue = [self.jobs[i] for i in self.state.pending_ids() if i in self.jobs and (only is None or i in only)]
        self.events.started(len(queue))
        work = _WorkQueue(self.options.prefetch or len(self.generators) + 1, self.stop)
        threads = [threading.Thread(target=self._prepare_all, args=(queue, work), name="catalogue-prepare")]
        threads += [
            threading.Thread(target=self._serve, args=(k, work), name=f"catalogue-server-{k}")
            for k in range(len(self.generators))
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self._end("interrupted: the running jobs finish, the rest stays pending", EXIT_FAILED)
            self.events.note("stopping after the running jobs (Ctrl-C again to leave now; the run can be resumed)")
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        return self._summary()

    def _summary(self) -> RunSummary:
        reports.write_reports(self.state)
        records = self.state.records()
        counts = self.state.counts()
        if self._exit is not None:
            code = self._exit
        elif counts["failed"] or counts["pending"] or counts["running"]:
            code = EXIT_FAILED
        else:
            code = EXIT_OK
        if self._why is None and self.stop.is_set():
            self._why = "stopped: the rest stays pending"
        failed = [r for r in records if r.status == "failed"]
        return RunSummary(counts, self._ran, self._why, code, failed)

    def _end(self, why: str, exit_code: int) -> None:
        with self._count_lock:
            if self._why is None:
                self._why, self._exit = why, exit_code
        self.stop.set()

    # -- preparing (one thread: the local models are not shared between threads) --------------------------------
    def _prepare_all(self, queue: list[Job], work: _WorkQueue) -> None:
        try:
            for job in queue:
                if self.stop.is_set():
                    break
                if job.local:
                    self._run_local(job)
                    continue
                if not self._live:
                    break
                prepared = self._prepare(job)
                if prepared is not None and not work.put((job, prepared)):
                    break
        except _Fatal as err:
            self._end(str(err), err.exit_code)
        except Exception as err:  # noqa: BLE001 - a bug must end the run with a message, not hang it
            self._end(f"internal error while preparing: {type(err).__name__}: {err}", EXIT_FAILED)
        finally:
            work.close()

    def _prepare(self, job: Job) -> Prepared | None:
        from lib_garment.generate.prepare import prepare

        started = time.perf_counter()
        try:
            photo, mask = self._inputs(job)
            with self._guard():
                prepared = prepare(job.request, photo, self.env, mask=mask)
        except Exception as err:  # noqa: BLE001 - each error is sorted by _job_error
            self._job_error(job, err, None, time.perf_counter() - started)
            return None
        # Each job's result.json keeps its notes, but nobody reads those while a batch runs; each kind is told once
        # (the first job that has it), so a note every job shares does not bury the job lines.
        for note in prepared.notes:
            if note not in self._said:
                self._said.add(note)
                self.events.note(f"{job.label}: {note} (told once; each job's result.json lists its own notes)")
        return prepared

    def _guard(self) -> contextlib.AbstractContextManager[Any]:
        guard = self.options.local_guard
        return guard() if guard is not None else contextlib.nullcontext()

    def _inputs(self, job: Job) -> tuple[np.ndarray, np.ndarray | None]:
        """The photo (and mask) as checked when the run began: a file changed since is the input's fault."""
        from lib_garment.models.verify import sha256_file
        from lib_garment.segment.coarse import read_coarse_mask

        photo = read_photo(job)
        if job.mask is None:
            return photo, None
        if sha256_file(job.mask) != job.mask_sha:
            raise BadInput(f"{job.mask} changed since the run began: run the batch again", loc=("mask",))
        return photo, read_coarse_mask(job.mask, photo.shape[:2])

    def _run_local(self, job: Job) -> None:
        from lib_garment.presets.deliver import deliver_without_generation

        self.state.start(job.id, None)
        started = time.perf_counter()
        try:
            photo, mask = self._inputs(job)
            with self._guard():
                prepared, delivered = deliver_without_generation(job.request, photo, self.env, mask=mask,
                                                                 presets=self.presets)  # fmt: skip
            with self._finish_lock:
                self._write(job, prepared, None, delivered, None, started)
        except Exception as err:  # noqa: BLE001 - each error is sorted by _job_error
            self._job_error(job, err, None, time.perf_counter() - started)

    # -- generating (one thread per generator) ------------------------------------------------------------------
    def _serve(self, k: int, work: _WorkQueue) -> None:
        generator = self.generators[k]
        while k in self._live:
            item = work.get()
            if item is None:
                return
            job, prepared = item
            attempt = self.state.start(job.id, generator.name)
            started = time.perf_counter()
            try:
                generated = generator.generate(prepared, self.options.timeout)
            except ServerFailure as err:
                self._server_lost(k, job, prepared, attempt, str(err), work)
                return
            except Exception as err:  # noqa: BLE001 - each error is sorted by _job_error
                self._job_error(job, err, generator.name, time.perf_counter() - started)
                continue
            try:
                with self._finish_lock:
                    delivered = self._deliver(job, prepared, generated)
                    self._write(job, prepared, generated, delivered, generator.name, started)
            except Exception as err:  # noqa: BLE001 - each error is sorted by _job_error
                self._job_error(job, err, generator.name, time.perf_counter() - started)

    def _server_lost(self, k: int, job: Job, prepared: Prepared, attempt: int, error: str, work: _WorkQueue) -> None:
        name = self.generators[k].name
        with self._count_lock:
            self._live.discard(k)
            left = len(self._live)
        self.events.note(f"server {name} taken out: {error}")
        if attempt >= self.options.max_attempts:
            self._fail(job, f"{error} (after {attempt} attempts)", None, name, 0.0)
        else:
            self.state.requeue(job.id, error, name)
            if left:
                work.put_front((job, prepared))
        if not left:
            self._end(f"no server left: the last one failed ({name}: {error})", EXIT_MISSING)

    def _deliver(self, job: Job, prepared: Prepared, generated: Generated) -> Delivered | None:
        from lib_garment.presets.deliver import deliver, map_depth

        if not generated.images:
            raise GarmentError("the server sent back no image")
        return deliver(prepared.photo, generated.images[0], prepared.segmentation.alpha, job.request,
                       presets=self.presets, depth=map_depth(prepared.maps))  # fmt: skip

    # -- recording ------------------------------------------------------------------------------------------------
    def _write(
        self,
        job: Job,
        prepared: Prepared,
        generated: Generated | None,
        delivered: Delivered | None,
        server: str | None,
        started: float,
    ) -> None:
        from lib_garment.segment.matte import alpha_to_uint8

        composite = generated.images[0] if generated is not None else None
        images = JobImages(
            prepared.segmentation.mask, alpha_to_uint8(prepared.segmentation.alpha), composite, delivered
        )
        try:
            outputs = write_job_files(self.state.folder, job.sku, job.variant, images)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise _DiskFull(f"the disk is full writing {job.label} into {self.state.folder}: free space and "
                                "run the same command again (nothing is lost)") from None  # fmt: skip
            raise
        report = job_report(job, prepared, generated, delivered)
        verdict = delivered.report.verdict if delivered is not None and delivered.report is not None else None
        failing = (
            [r.rule.id for r in delivered.report.results if r.status == "fail"]
            if delivered is not None and delivered.report is not None
            else []
        )
        kept = generated.kept[0].exact if generated is not None and generated.kept else None
        seconds = time.perf_counter() - started
        self.state.finish(job.id, Done(outputs, server, seconds, kept, verdict, failing, report))
        self._ended(job)

    def _job_error(self, job: Job, err: BaseException, server: str | None, seconds: float) -> None:
        if isinstance(err, _DiskFull):
            self.state.release(job.id)
            self._end(str(err), EXIT_FAILED)
            return
        if isinstance(err, ModelUnavailable):  # every job would need it: end the run, the job stays pending
            self.state.release(job.id)
            self._end(str(err), EXIT_MISSING)
            return
        if isinstance(err, BadInput):
            where = ".".join(str(part) for part in err.loc if part != "request") or None
            self._fail(job, f"row {job.row}: {where + ': ' if where else ''}{err}", where, server, seconds)
        elif isinstance(err, GarmentError):
            self._fail(job, str(err), None, server, seconds)
        elif isinstance(err, OSError):
            self._fail(job, f"{err.strerror or err}: {err.filename or ''}".strip(": "), None, server, seconds)
        else:
            self._fail(job, f"internal error: {type(err).__name__}: {err}", None, server, seconds)

    def _fail(self, job: Job, error: str, error_field: str | None, server: str | None, seconds: float) -> None:
        self.state.fail(job.id, error, error_field, server, seconds)
        with self._count_lock:
            self._failures += 1
            failures = self._failures
        self._ended(job)
        limit = self.options.max_failures
        if limit is not None and failures >= limit:
            self._end(f"{failures} job(s) failed, the --max-failures limit: the rest stays pending", EXIT_FAILED)

    def _ended(self, job: Job) -> None:
        with self._count_lock:
            self._ran += 1
        record = self.state.records(sku=job.sku)
        mine = next(r for r in record if r.id == job.id)
        self.events.job_ended(mine, describe(mine))
        with self._report_lock:
            reports.write_sku_report(self.state, job.sku)
            now = time.monotonic()
            if now - self._last_report >= REPORT_EVERY_S:
                reports.write_reports(self.state)
                self._last_report = now


class _DiskFull(OSError):
    pass


def read_photo(job: Job) -> np.ndarray:
    """The job's photo, RGB, as checked when the run began: a file changed since is the input's fault."""
    from lib_garment import imageio

    data = job.image.read_bytes()
    if hashlib.sha256(data).hexdigest() != job.photo_sha:
        raise BadInput(f"{job.image} changed since the run began: run the batch again", loc=("image",))
    return imageio.image_to_rgb(imageio.open_bytes(data, f"photo {job.image}"), f"photo {job.image}")


def delivered_report(delivered: Delivered) -> dict[str, Any]:
    """What a job's result.json entry says of its delivery (the plain colour, the shadow, the preset's report)."""
    return {
        "background": delivered.background,
        "shadow": delivered.shadow,
        "notes": list(delivered.notes),
        "compliance": delivered.framed.to_json() if delivered.framed is not None else None,
    }


def job_report(
    job: Job, prepared: Prepared, generated: Generated | None, delivered: Delivered | None
) -> dict[str, Any]:
    """What a job's entry in its SKU's result.json holds beyond the database's columns."""
    report: dict[str, Any] = {
        "row": job.row,
        "job_id": job.id,
        "mask_source": prepared.mask_source,
        "segmentation": prepared.segmentation.to_json(),
        "notes": list(prepared.notes),
        "timings": dict(prepared.timings),
    }
    if generated is not None:
        report["generated"] = {
            "seed": generated.seeds[0] if generated.seeds else None,
            "infotext": generated.infotexts[0] if generated.infotexts else None,
            "kept": generated.kept[0].to_json() if generated.kept else None,
            "notes": generated.notes,
            "warnings": generated.warnings,
            "server": generated.server,
        }
    if delivered is not None:
        report["delivered"] = delivered_report(delivered)
    return report


def describe(record: JobRecord) -> str:
    """One log line: ``SKU-1 #2 done on http://… in 3.1 s: kept exact, amazon-main: pass``."""
    head = f"{record.sku} #{record.variant}"
    if record.status == "failed":
        return f"{head} failed: {record.error}"
    where = f" on {record.server}" if record.server else " here"
    parts = []
    if record.kept_exact is not None:
        parts.append("kept exact" if record.kept_exact else "KEPT PIXELS CHANGED")
    if record.compliance:
        failing = f" ({', '.join(record.failing_rules)})" if record.failing_rules else ""
        parts.append(f"{record.compliance}{failing}")
    seconds = f" in {record.seconds:.1f} s" if record.seconds is not None else ""
    return f"{head} {record.status}{where}{seconds}" + (f": {', '.join(parts)}" if parts else "")


def run_catalogue(
    jobs: Sequence[Job],
    out: Path,
    generators: Sequence[Generator],
    env: ModelSettings,
    *,
    retry_failed: bool = False,
    presets: PresetSet | None = None,
    options: RunOptions | None = None,
    events: Events | None = None,
    stop: threading.Event | None = None,
    on_notes: Callable[[list[str]], None] | None = None,
    lock: FolderLock | None = None,
) -> RunSummary:
    """Record ``jobs`` in ``out``'s database (resuming what is there) and run the pending ones. ``lock``: the
    folder's lock when the caller holds it already (else it is taken here, before anything in the folder is
    touched, and released at the end)."""
    from lib_garment.catalogue.state import open_state

    held = lock if lock is not None else FolderLock.acquire(out)
    try:
        state = open_state(out)
        try:
            only = begin_run(state, jobs, retry_failed=retry_failed, on_notes=on_notes)
            runner = Runner(jobs, state, generators, env, presets=presets, options=options, events=events, stop=stop)
            return runner.run(only)
        finally:
            state.close()
    finally:
        if lock is None:
            held.release()


def begin_run(
    state: BatchState,
    jobs: Sequence[Job],
    *,
    retry_failed: bool = False,
    on_notes: Callable[[list[str]], None] | None = None,
) -> set[str] | None:
    """A run's start, whoever runs it (this runner, the queue's coordinator): ``jobs`` recorded (resuming what is
    there), a stopped run's half-written files removed, with ``retry_failed`` the failed jobs queued again — their
    ids returned, the only ones to run (None: every pending job) — and what was found told to ``on_notes``."""
    from lib_garment.catalogue.files import remove_temporaries

    notes = state.sync(jobs)
    if removed := remove_temporaries(state.folder):
        notes.append(f"{removed} half-written file(s) a stopped run left were removed")
    only = None
    if retry_failed:
        only = state.retry_failed()
        notes.append(f"{len(only)} failed job(s) queued again (only these run)")
    if on_notes is not None:
        on_notes(notes)
    return only
