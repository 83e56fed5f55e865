"""``batch … --broker``: a catalogue's generating jobs queued on Celery, their results recorded here.

The catalogue's own pieces stay the one source of truth: the jobs (deterministic ids), ``DIR/batch.sqlite``, each
job's files (written atomically), results.csv, result.json and the contact sheet. What changes is where a job
is generated: each pending job becomes one Celery task whose id is the job's id, carrying its request, photo and
mask; a worker's server does the job and the result comes back here.

Exactly once, whatever is killed:

- a job's files are written, then the database marks it done, then Redis marks it ``recorded`` and its result is
  deleted; a result that arrives again (a message delivered twice) finds the job done and is dropped, and a
  worker that is handed a recorded job does not make it again;
- before a job is queued Redis marks it ``sending``, after it ``queued``: a coordinator started again
  re-attaches to ``queued`` jobs (their results are collected, nothing is queued twice) and queues the rest
  again; only a kill between queuing and marking can put one job in the queue twice, and then its result is
  still recorded once;
- a worker lost mid-job leaves its message unacknowledged: after the visibility timeout another worker makes it.

At most ``window`` jobs are queued at a time (each message holds a photo): the broker's memory stays bounded
however long the catalogue.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib_garment.catalogue import reports
from lib_garment.catalogue.files import JobImages, remove_temporaries, write_job_files
from lib_garment.catalogue.lock import FolderLock
from lib_garment.catalogue.runner import EXIT_FAILED, EXIT_MISSING, EXIT_OK, Events, RunOptions, RunSummary, describe
from lib_garment.catalogue.state import BatchState, Done, open_state
from lib_garment.errors import BadInput
from lib_garment.scale.app import DEFAULT_RESULT_EXPIRES_S, TASK, job_key, make_app
from lib_garment.scale.broker import Broker, check_broker

if TYPE_CHECKING:
    from lib_garment.catalogue.jobs import Job
    from lib_garment.models.settings import ModelSettings
    from lib_garment.presets.load import PresetSet

DEFAULT_WINDOW = 200
POLL_S = 0.1
CHUNK = 500  # results read per Redis round trip


@dataclass(frozen=True)
class QueueOptions:
    broker: Broker
    job_timeout: float
    visibility: float
    window: int = DEFAULT_WINDOW
    broker_wait_s: float = 300.0  # how long a broker that went away is waited for before the run stops (exit 3)
    max_failures: int | None = None
    result_expires: float = DEFAULT_RESULT_EXPIRES_S


class _BrokerGone(Exception):
    pass


def refuse_unsupported(jobs: Sequence[Job]) -> None:
    """Jobs that generate and then frame on a preset's canvas need the float matte and the depth map that the
    /generate answer does not carry; they run with --webui (the local runner) for now."""
    framed = [job for job in jobs if not job.local and job.request.preset is not None]
    if framed:
        rows = ", ".join(dict.fromkeys(f"row {job.row} ({job.sku})" for job in framed[:8]))
        raise BadInput(
            f"{len(framed)} job(s) generate and then frame on a preset ({rows}{', …' if len(framed) > 8 else ''}): "
            "with --broker only jobs without a preset, or with a plain --background, run; run these with --webui"
        )


def run_queued(
    jobs: Sequence[Job],
    out: Path,
    env: ModelSettings,
    options: QueueOptions,
    *,
    retry_failed: bool = False,
    presets: PresetSet | None = None,
    events: Events | None = None,
    on_notes: Callable[[list[str]], None] | None = None,
) -> RunSummary:
    """Record ``jobs`` in ``out`` (resuming what is there), run the local ones here and queue the generating
    ones; returns when every pending job is recorded, the failure limit is reached or the run is stopped."""
    from lib_garment.catalogue.runner import Runner

    refuse_unsupported(jobs)
    check_broker(options.broker)  # before anything in the folder is touched
    events = events or Events()
    lock = FolderLock.acquire(out)
    try:
        state = open_state(out)
        try:
            notes = state.sync(jobs)
            if removed := remove_temporaries(out):
                notes.append(f"{removed} half-written file(s) a stopped run left were removed")
            only = None
            if retry_failed:
                only = state.retry_failed()
                notes.append(f"{len(only)} failed job(s) queued again (only these run)")
            if on_notes is not None:
                on_notes(notes)
            wanted = [job for job in jobs if only is None or job.id in only]
            local = {job.id for job in wanted if job.local}
            if local & set(state.pending_ids()):  # nothing to generate: made here, as the local runner does
                summary = Runner(jobs, state, [], env, presets=presets, events=events,
                                 options=RunOptions(max_failures=options.max_failures)).run(local)  # fmt: skip
                if summary.stopped:
                    return summary
            queue = _Queue(jobs, state, options, events)
            return queue.run({job.id for job in wanted if not job.local})
        finally:
            state.close()
    finally:
        lock.release()


class _Queue:
    def __init__(self, jobs: Sequence[Job], state: BatchState, options: QueueOptions, events: Events) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.state = state
        self.options = options
        self.events = events
        self.app = make_app(options.broker, visibility=options.visibility, result_expires=options.result_expires)
        self.redis = options.broker.client()
        self.backend = self.app.backend
        self.outstanding: dict[str, Job] = {}
        self.ran = self.failures = 0
        self.why: str | None = None
        self.exit: int | None = None
        self._last_report = 0.0

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self, ids: set[str]) -> RunSummary:
        waiting = [self.jobs[i] for i in self.state.pending_ids() if i in ids]
        self.events.started(len(waiting))
        try:
            to_send = self._reattach(waiting)
            self._loop(to_send)
        except KeyboardInterrupt:
            self._end("interrupted: queued jobs stay queued; run the same command again to collect them", EXIT_FAILED)
        except _BrokerGone as err:
            self._end(str(err), EXIT_MISSING)
        return self._summary()

    def _reattach(self, waiting: list[Job]) -> list[Job]:
        marks = self._call(lambda: self.redis.mget([job_key(job.id) for job in waiting])) if waiting else []
        to_send = []
        for job, mark in zip(waiting, marks, strict=True):
            if mark == b"queued":
                self.outstanding[job.id] = job
            else:
                to_send.append(job)
        if self.outstanding:
            self.events.note(f"{len(self.outstanding)} job(s) already queued by an earlier run: collecting them")
        return to_send

    def _loop(self, to_send: list[Job]) -> None:
        to_send.reverse()  # popped from the end: manifest order
        quiet_since = time.monotonic()
        told_no_worker = False
        while (to_send or self.outstanding) and self.why is None:
            while to_send and len(self.outstanding) < self.options.window:
                job = to_send.pop()
                if self._send(job):
                    self.outstanding[job.id] = job
            recorded = self._collect(to_send)
            if recorded:
                quiet_since = time.monotonic()
                continue
            if not told_no_worker and time.monotonic() - quiet_since > 30 and not self._workers():
                self.events.note("no worker is running: start one per server with  python -m lib_garment worker "
                                 f"--broker {self.options.broker.shown} --webui URL")  # fmt: skip
                told_no_worker = True
            time.sleep(POLL_S)

    # -- queuing ------------------------------------------------------------------------------------------------
    def _send(self, job: Job) -> bool:
        try:
            body = _body(job)
        except BadInput as err:
            self._fail(job, f"row {job.row}: {err}", None, None)
            return False
        key = job_key(job.id)
        expires = int(self.options.result_expires)
        self._call(lambda: self.redis.set(key, "sending", ex=expires))
        self._call(lambda: self.backend.forget(job.id))  # an old result (a retried job) must not be read as new
        self._call(lambda: self.app.send_task(TASK, args=(body, job.label), task_id=job.id))
        self._call(lambda: self.redis.set(key, "queued", ex=expires))
        return True

    def _workers(self) -> bool:
        from lib_garment.scale.app import KEY_PREFIX

        try:
            return bool(next(iter(self.redis.scan_iter(f"{KEY_PREFIX}:worker:*", count=100)), None))
        except Exception:  # noqa: BLE001 - only for a hint
            return True

    # -- collecting ---------------------------------------------------------------------------------------------
    def _collect(self, to_send: list[Job]) -> int:
        ids = list(self.outstanding)
        recorded = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            keys = [self.backend.get_key_for_task(i) for i in chunk]
            values = self._call(lambda keys=keys: self.backend.client.mget(keys))
            for job_id, value in zip(chunk, values, strict=True):
                if value is None:
                    continue
                meta = self.backend.decode_result(value)
                if meta.get("status") == "SUCCESS":
                    recorded += self._record(self.outstanding[job_id], meta.get("result"), to_send)
                elif meta.get("status") in ("FAILURE", "REVOKED"):
                    result = meta.get("result") or {}
                    text = result.get("exc_message") if isinstance(result, dict) else result
                    self._recorded(self.outstanding[job_id])
                    self._fail(self.outstanding.pop(job_id), f"the worker failed: {_text(text)}", None, None)
                    recorded += 1
        return recorded

    def _record(self, job: Job, result: Any, to_send: list[Job]) -> int:
        if not isinstance(result, dict) or result.get("skipped"):  # a worker saw an old "recorded" mark
            self.outstanding.pop(job.id)
            self._call(lambda: self.backend.forget(job.id))
            to_send.append(job)
            return 0
        self.outstanding.pop(job.id)
        if self._already_done(job.id):  # a result delivered twice: recorded once
            self._recorded(job)
            return 1
        server = result.get("server")
        if "error" in result:
            self.state.start(job.id, server)
            status = result.get("status")
            self._fail(job, f"on {server}: HTTP {status}: {result['error']}", None, server)
        else:
            self.state.start(job.id, server)
            try:
                self._write(job, result, server)
            except BadInput as err:
                self._fail(job, f"{server} sent back a broken answer: {err}", None, server)
        self._recorded(job)
        return 1

    def _already_done(self, job_id: str) -> bool:
        return any(r.id == job_id and r.status == "done" for r in self.state.records(sku=self.jobs[job_id].sku))

    def _recorded(self, job: Job) -> None:
        self._call(lambda: self.redis.set(job_key(job.id), "recorded", ex=int(self.options.result_expires)))
        self._call(lambda: self.backend.forget(job.id))

    def _write(self, job: Job, result: dict[str, Any], server: str | None) -> None:
        from lib_garment import imageio
        from lib_garment.b64images import decode_image

        composite = imageio.image_to_rgb(decode_image(result["images"][0], "images[0]"), "images[0]")
        mask = np.asarray(decode_image(result["mask"], "mask").convert("L"))
        alpha = np.asarray(decode_image(result["alpha"], "alpha").convert("L"))
        outputs = write_job_files(self.state.folder, job.sku, job.variant, JobImages(mask, alpha, composite, None))
        info = result.get("info") or {}
        kept = (info.get("kept") or [None])[0]
        report = {
            "row": job.row,
            "job_id": job.id,
            "mask_source": info.get("mask_source"),
            "segmentation": info.get("segmentation"),
            "notes": info.get("notes", []),
            "timings": info.get("timings", {}),
            "generated": {
                "seed": (info.get("seeds") or [None])[0],
                "infotext": (info.get("infotexts") or [None])[0],
                "kept": kept,
                "notes": [],
                "warnings": info.get("warnings", []),
                "server": {"url": server, "worker": result.get("worker"), "controlnet": info.get("controlnet")},
            },
        }
        exact = kept.get("exact") if isinstance(kept, dict) else None
        self.state.finish(job.id, Done(outputs, server, float(result.get("seconds") or 0.0), exact, None, [], report))
        self._ended(job)

    def _fail(self, job: Job, error: str, error_field: str | None, server: str | None) -> None:
        self.state.fail(job.id, error, error_field, server, 0.0)
        self.failures += 1
        self._ended(job)
        limit = self.options.max_failures
        if limit is not None and self.failures >= limit:
            self._end(f"{self.failures} job(s) failed, the --max-failures limit: the rest stays pending (queued jobs "
                      "stay queued and are collected by the next run)", EXIT_FAILED)  # fmt: skip

    def _ended(self, job: Job) -> None:
        self.ran += 1
        record = next(r for r in self.state.records(sku=job.sku) if r.id == job.id)
        self.events.job_ended(record, describe(record))
        reports.write_sku_report(self.state, job.sku)
        if time.monotonic() - self._last_report >= 2.0:
            reports.write_reports(self.state)
            self._last_report = time.monotonic()

    def _end(self, why: str, code: int) -> None:
        if self.why is None:
            self.why, self.exit = why, code

    def _summary(self) -> RunSummary:
        reports.write_reports(self.state)
        counts = self.state.counts()
        if self.exit is not None:
            code = self.exit
        elif counts["failed"] or counts["pending"] or counts["running"]:
            code = EXIT_FAILED
        else:
            code = EXIT_OK
        failed = [r for r in self.state.records() if r.status == "failed"]
        return RunSummary(counts, self.ran, self.why, code, failed)

    # -- the broker ---------------------------------------------------------------------------------------------
    def _call(self, work: Callable[[], Any]) -> Any:
        """``work()``, waiting for a broker that went away (a restart) up to ``broker_wait_s``."""
        deadline = None
        while True:
            try:
                return work()
            except Exception as err:  # noqa: PERF203 - a retry loop: the exception is the point
                if not _connection_error(err):
                    raise
                if deadline is None:
                    deadline = time.monotonic() + self.options.broker_wait_s
                    self.events.note(f"the broker {self.options.broker.shown} does not answer: waiting for it (up "
                                     f"to {self.options.broker_wait_s:g} s)")  # fmt: skip
                if time.monotonic() > deadline:
                    raise _BrokerGone(
                        f"the broker {self.options.broker.shown} did not come back within "
                        f"{self.options.broker_wait_s:g} s: queued jobs stay queued; run the same command again"
                    ) from None
                time.sleep(0.5)


def _connection_error(err: BaseException) -> bool:
    import redis
    from kombu.exceptions import OperationalError

    return isinstance(err, redis.ConnectionError | redis.TimeoutError | OperationalError | ConnectionError)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def _body(job: Job) -> dict[str, Any]:
    """The /generate body of a job: its request, its photo's bytes as checked when the run began, and its mask as
    the catalogue reads it (non-zero pixels kept), 0/255."""
    from lib_garment import imageio
    from lib_garment.b64images import encode_png
    from lib_garment.segment.coarse import coarse_mask_from_image

    data = job.image.read_bytes()
    if hashlib.sha256(data).hexdigest() != job.photo_sha:
        raise BadInput(f"{job.image} changed since the run began: run the batch again", loc=("image",))
    mask = None
    if job.mask is not None:
        mask_data = job.mask.read_bytes()
        if hashlib.sha256(mask_data).hexdigest() != job.mask_sha:
            raise BadInput(f"{job.mask} changed since the run began: run the batch again", loc=("mask",))
        photo = imageio.open_bytes(data, f"photo {job.image}")
        mask = encode_png(coarse_mask_from_image(imageio.open_bytes(mask_data, "mask"), (photo.height, photo.width)))
    request = json.loads(job.request.json())
    return {"request": request, "image": base64.b64encode(data).decode("ascii"), "mask": mask}
