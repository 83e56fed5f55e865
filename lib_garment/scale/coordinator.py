"""``batch … --broker``: a catalogue's generating jobs queued on Celery, their results recorded here.

The catalogue's own pieces stay the one source of truth: the jobs (deterministic ids), ``DIR/batch.sqlite``, each
job's files (written atomically), results.csv, result.json and the contact sheet. What changes is where a job
is generated: each pending job becomes one Celery task whose id is the job's id, carrying its request, photo and
mask; a worker's server does the job and the result comes back here. A job framed on a preset is framed here,
as the local runner frames it (``Runner._deliver``: the engine's ``deliver`` with the photo, the float matte and
the depth map): its server makes the exact composite only (the request without its preset) and adds the matte
and the depth map exactly (``/generate``'s opt-in ``exact_matte``), so the files are the local runner's, byte for
byte, and the coordinator's own presets (``--models-dir``) are the ones checked.

Exactly once, whatever is killed:

- a job's files are written, then the database marks it done, then Redis marks it ``recorded`` and its result is
  deleted; a result that arrives again (a message delivered twice) finds the job done and is dropped, and a
  worker that is handed a recorded job does not make it again;
- before a job is queued Redis marks it ``sending``, after it ``queued``: a coordinator started again
  re-attaches to ``queued`` jobs (their results are collected, nothing is queued twice) and queues the rest
  again; only a kill between queuing and marking can put one job in the queue twice, and then its result is
  still recorded once;
- a worker lost mid-job leaves its message unacknowledged: after the visibility timeout another worker makes it;
- a message Redis lost (a restart as a worker took it) is found missing and queued again (``_find_lost``).

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
from lib_garment.catalogue.files import JobImages, write_job_files
from lib_garment.catalogue.lock import FolderLock
from lib_garment.catalogue.runner import EXIT_FAILED, EXIT_MISSING, EXIT_OK, Events, RunOptions, RunSummary, describe
from lib_garment.catalogue.state import BatchState, Done, open_state
from lib_garment.errors import BadInput, GarmentError
from lib_garment.scale.app import DEFAULT_RESULT_EXPIRES_S, QUEUE, TASK, UNACKED_KEY, job_key, make_app, worker_key
from lib_garment.scale.broker import Broker, check_broker

if TYPE_CHECKING:
    from lib_garment.catalogue.jobs import Job
    from lib_garment.models.settings import ModelSettings
    from lib_garment.presets.deliver import Delivered
    from lib_garment.presets.load import PresetSet

DEFAULT_WINDOW = 200
POLL_S = 0.1
CHUNK = 500  # results read per Redis round trip
BROKER_MODULES = ("redis.", "kombu.")  # where a failure that is the broker's, not the job's, comes from
BROKER_LOSSES = 3
LOST_CONFIRM_S = 1.0  # a message missing from the queue and from the workers twice this far apart is lost


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
    from lib_garment.catalogue.runner import Runner, begin_run

    check_broker(options.broker)  # before anything in the folder is touched
    events = events or Events()
    lock = FolderLock.acquire(out)
    try:
        state = open_state(out)
        try:
            only = begin_run(state, jobs, retry_failed=retry_failed, on_notes=on_notes)
            wanted = [job for job in jobs if only is None or job.id in only]
            local = {job.id for job in wanted if job.local}
            if local & set(state.pending_ids()):  # nothing to generate: made here, as the local runner does
                summary = Runner(jobs, state, [], env, presets=presets, events=events,
                                 options=RunOptions(max_failures=options.max_failures)).run(local)  # fmt: skip
                if summary.stopped:
                    return summary
            queue = _Queue(jobs, state, options, events, presets)
            return queue.run({job.id for job in wanted if not job.local})
        finally:
            state.close()
    finally:
        lock.release()


class _BrokenAnswer(Exception):
    """A result that does not decode: the server's fault, said as such."""


class _Queue:
    def __init__(
        self, jobs: Sequence[Job], state: BatchState, options: QueueOptions, events: Events, presets: PresetSet | None
    ) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.state = state
        self.presets = presets  # for framing on a preset here, as the local runner does
        self.options = options
        self.events = events
        self.app = make_app(options.broker, visibility=options.visibility, result_expires=options.result_expires)
        self.redis = options.broker.client()
        self.backend = self.app.backend
        self.outstanding: dict[str, Job] = {}
        self.broker_losses: dict[str, int] = {}
        self._suspects: set[str] = set()  # outstanding jobs whose message was nowhere at the last look
        self._suspected_at = 0.0
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
            lost = self._find_lost(time.monotonic())
            if lost:
                for job in lost:
                    del self.outstanding[job.id]
                    to_send.append(job)
                self.events.note(f"{len(lost)} queued job(s) whose message the broker lost (Redis restarted as a "
                                 "worker took it): queued again")  # fmt: skip
            if not told_no_worker and time.monotonic() - quiet_since > 30 and not self._workers():
                self.events.note("no worker is running: start one per server with  python -m lib_garment worker "
                                 f"--broker {self.options.broker.shown} --webui URL")  # fmt: skip
                told_no_worker = True
            time.sleep(POLL_S)

    def _find_lost(self, now: float) -> list[Job]:
        """Outstanding jobs whose message is nowhere: the queue is empty, no worker holds a message (nothing
        unacknowledged) and no result came. Redis's queue is popped by a worker, then the message is recorded as
        unacknowledged in a second step; a Redis restart between the two loses it (kombu's Redis transport), and
        nothing would ever bring it back. Suspected once, then confirmed ``LOST_CONFIRM_S`` later with results
        collected in between, so a message a worker is taking that very millisecond, or a result being stored, is
        not taken for lost (and if one were, its result is still recorded once)."""
        if not self.outstanding:
            return []
        held = self._call(lambda: self.redis.llen(QUEUE) + self.redis.hlen(UNACKED_KEY))
        if held:
            self._suspects = set()
            return []
        if not self._suspects:
            self._suspects, self._suspected_at = set(self.outstanding), now
            return []
        if now - self._suspected_at < LOST_CONFIRM_S:
            return []
        lost = [self.outstanding[i] for i in sorted(self._suspects) if i in self.outstanding]
        self._suspects = set()
        return lost

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
        try:
            return bool(next(iter(self.redis.scan_iter(worker_key("*"), count=100)), None))
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
                    if self._lost_to_the_broker(job_id, result):
                        job = self.outstanding.pop(job_id)
                        self._call(lambda job_id=job_id: self.backend.forget(job_id))
                        to_send.append(job)
                        continue
                    text = result.get("exc_message") if isinstance(result, dict) else result
                    self._recorded(self.outstanding[job_id])
                    self._fail(self.outstanding.pop(job_id), f"the worker failed: {_text(text)}", None, None)
                    recorded += 1
        return recorded

    def _lost_to_the_broker(self, job_id: str, result: Any) -> bool:
        """A job whose worker lost the broker (Redis restarting while the task began or ended) is not at fault:
        it is queued again, up to ``BROKER_LOSSES`` times."""
        if not isinstance(result, dict) or not str(result.get("exc_module", "")).startswith(BROKER_MODULES):
            return False
        self.broker_losses[job_id] = self.broker_losses.get(job_id, 0) + 1
        if self.broker_losses[job_id] > BROKER_LOSSES:
            return False
        self.events.note(f"{self.jobs[job_id].label}: its worker lost the broker ({result.get('exc_type')}): queued "
                         "again")  # fmt: skip
        return True

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
            except _BrokenAnswer as err:
                self._fail(job, f"{server} sent back a broken answer: {err}", None, server)
            except BadInput as err:  # the job's own fault (framing refused it, its photo changed), as locally
                where = ".".join(str(part) for part in err.loc if part != "request") or None
                self._fail(job, f"row {job.row}: {where + ': ' if where else ''}{err}", where, server)
            except GarmentError as err:
                self._fail(job, str(err), None, server)
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
        from lib_garment.catalogue.runner import delivered_report

        try:
            composite = imageio.image_to_rgb(decode_image(result["images"][0], "images[0]"), "images[0]")
            mask = np.asarray(decode_image(result["mask"], "mask").convert("L"))
            alpha = np.asarray(decode_image(result["alpha"], "alpha").convert("L"))
            framing = self._framing_inputs(job, result, composite.shape[:2])
        except (BadInput, KeyError, TypeError) as err:
            raise _BrokenAnswer(str(err) if isinstance(err, BadInput) else f"{type(err).__name__}: {err}") from None
        delivered = self._deliver(job, composite, framing)
        images = JobImages(mask, alpha, composite, delivered)
        outputs = write_job_files(self.state.folder, job.sku, job.variant, images)
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
        if delivered is not None:
            report["delivered"] = delivered_report(delivered)
        checked = delivered.report if delivered is not None else None
        verdict = checked.verdict if checked is not None else None
        failing = [r.rule.id for r in checked.results if r.status == "fail"] if checked is not None else []
        exact = kept.get("exact") if isinstance(kept, dict) else None
        seconds = float(result.get("seconds") or 0.0)
        self.state.finish(job.id, Done(outputs, server, seconds, exact, verdict, failing, report))
        self._ended(job)

    @staticmethod
    def _framing_inputs(
        job: Job, result: dict[str, Any], size: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """A job framed on a preset: the float matte and the depth map its server sent (``exact_matte``), each
        at the composite's size."""
        from lib_garment.b64images import decode_array

        if job.request.preset is None:
            return None
        if result.get("matte") is None:
            raise BadInput("no matte in the answer (its server's Garment Studio predates exact_matte: update it)")
        matte = decode_array(result["matte"], "matte")
        depth = decode_array(result["depth"], "depth") if result.get("depth") is not None else None
        for name, array in (("matte", matte), ("depth", depth)):
            if array is not None and array.shape[:2] != tuple(size):
                raise BadInput(f"{name} of shape {array.shape} for a composite of {size[1]}x{size[0]}")
        return matte, depth

    def _deliver(
        self, job: Job, composite: np.ndarray, framing: tuple[np.ndarray, np.ndarray | None] | None
    ) -> Delivered | None:
        """The composite framed on the job's preset and checked, here, with the engine's own call and the
        inputs the local runner gives it (the photo, the float matte, the depth map): byte for byte its files."""
        from lib_garment.catalogue.runner import read_photo
        from lib_garment.presets.deliver import deliver

        if framing is None:
            return None
        matte, depth = framing
        return deliver(read_photo(job), composite, matte, job.request, presets=self.presets, depth=depth)

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
    from lib_garment.presets.deliver import without_delivery
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
    body: dict[str, Any] = {"image": base64.b64encode(data).decode("ascii"), "mask": mask}
    if job.request.preset is None:
        body["request"] = json.loads(job.request.json())
        return body
    # Framed here, after the result comes back: the server makes the exact composite only and sends the float
    # matte and the depth map that framing takes (a PNG matte would round it and move the framed pixels).
    body["request"] = json.loads(without_delivery(job.request).json())
    body["exact_matte"] = True
    return body
