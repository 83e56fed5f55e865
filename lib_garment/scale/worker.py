"""``python -m lib_garment worker``: one Celery worker in front of one WebUI server.

The worker needs no GPU and no models: each job's message carries its request, photo and mask, and the worker
asks its server to do the whole job through Garment Studio's own route (``POST /garment-studio/v1/generate``:
segmentation, maps, generation, the exact composite), then hands the answer (images, mask, matte, info) back as the
job's result. Images travel in the message and the result, not through a shared folder, so workers need nothing
but the broker and their server (no NFS between the coordinator, the workers and the GPU machines, no folder
permissions, no stale files); docs/scale.md says what that costs in broker memory and when a shared store pays.

One job at a time (concurrency 1, prefetch 1, the solo pool): a WebUI generates one job at a time under its queue
lock. Its server is checked before the worker takes any work and every ``health_interval`` seconds after; when it
does not answer, or fails a job (unreachable, HTTP 5xx, a broken connection, a timeout), the worker stops taking
jobs, says why, and gives the job back to the queue for another worker; it takes jobs again once its server
answers. A job the server refuses (HTTP 4xx: the request's fault) is a failed job, the same on every server.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from lib_garment.client.errors import HTTPStatusError, WebUIError, WebUIUnavailable
from lib_garment.client.http import JsonClient
from lib_garment.errors import BadInput, GarmentError, ModelUnavailable
from lib_garment.scale.app import QUEUE, TASK, job_key, make_app, worker_key
from lib_garment.scale.broker import Broker, check_broker

GENERATE = "/garment-studio/v1/generate"
VERSION = "/garment-studio/v1/version"
HEALTH_TIMEOUT_S = 5.0
log = logging.getLogger("garment_studio.worker")


@dataclass(frozen=True)
class WorkerOptions:
    broker: Broker
    webui: str
    auth: tuple[str, str] | None
    name: str
    job_timeout: float
    visibility: float
    health_interval: float = 10.0
    restore_interval: float = 5.0  # how often lost jobs (past the visibility timeout) are looked for


def default_name(webui: str) -> str:
    """``gpu1-7860``: the server's host and port, so ``status`` reads as a list of servers."""
    client = JsonClient(webui)
    host = client.base.split("://", 1)[1].split("/", 1)[0].replace(":", "-").strip("[]")
    return host or socket.gethostname()


def check_server(client: JsonClient, timeout: float = HEALTH_TIMEOUT_S) -> dict[str, Any]:
    """The server's Garment Studio version, or WebUIUnavailable saying why it cannot take jobs."""
    try:
        found = client.get(VERSION, timeout=timeout)
    except HTTPStatusError as err:
        if err.status == 404:
            raise WebUIUnavailable(
                f"{client.url} has no Garment Studio routes ({VERSION} not found): install the extension in that "
                "WebUI and start it with --api"
            ) from None
        raise WebUIUnavailable(f"{client.url} is not usable: {err}") from None
    except BadInput as err:  # credentials wanted or refused: the message names the flag
        raise WebUIUnavailable(str(err)) from None
    except WebUIError as err:
        raise WebUIUnavailable(f"{client.url} is not usable: {err}") from None
    if not isinstance(found, dict) or "version" not in found:
        raise WebUIUnavailable(f"{client.url}{VERSION} did not answer like Garment Studio")
    return found


class _Serving:
    """The worker's state: its server, whether it takes jobs, and its counts (shared by the task and the
    timers, which all run on the worker's one thread: the solo pool runs tasks in the event loop)."""

    def __init__(self, options: WorkerOptions, app: Any) -> None:
        self.options = options
        self.app = app
        self.client = JsonClient(options.webui, options.auth, timeout=options.job_timeout)
        self.server = self.client.url  # never with credentials
        self.consumer: Any = None
        self.taking = True
        self.reason = ""
        self.done = self.failed = 0
        self.busy_s = 0.0
        self.started = time.time()
        self._redis = options.broker.client()
        self._lock = threading.Lock()

    # -- the server ------------------------------------------------------------------------------------------
    def stop_taking(self, why: str) -> None:
        with self._lock:
            was, self.taking, self.reason = self.taking, False, why
        if was:
            say(f"server {self.server} {why}: this worker stops taking jobs until it answers again")
            if self.consumer is not None:
                self.consumer.cancel_task_queue(QUEUE)
        self.heartbeat()

    def resume(self) -> None:
        with self._lock:
            was, self.taking, self.reason = self.taking, True, ""
        if not was:
            say(f"server {self.server} answers again: taking jobs")
            if self.consumer is not None:
                self.consumer.add_task_queue(QUEUE)
        self.heartbeat()

    def health(self) -> None:
        try:
            check_server(self.client)
        except ModelUnavailable as err:
            self.stop_taking(f"does not answer ({err})")
            return
        self.resume()

    # -- shared records --------------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """This worker's record for ``status`` (expires when the worker is gone)."""
        record = {
            "name": self.options.name, "server": self.server, "state": "taking jobs" if self.taking else "stopped",
            "reason": self.reason, "done": self.done, "failed": self.failed, "busy_s": round(self.busy_s, 3),
            "since": self.started, "seen": time.time(), "pid": os.getpid(),
        }  # fmt: skip
        ttl = max(30, int(3 * self.options.health_interval))
        try:
            self._redis.hset(worker_key(self.options.name), mapping={k: str(v) for k, v in record.items()})
            self._redis.expire(worker_key(self.options.name), ttl)
        except Exception as err:  # noqa: BLE001 - a broker away for a moment must not stop the worker
            log.debug("heartbeat not written: %s", type(err).__name__)

    def recorded(self, job_id: str) -> bool:
        """The coordinator recorded this job already (a message delivered twice): nothing to make."""
        try:
            return self._redis.get(job_key(job_id)) == b"recorded"
        except Exception:  # noqa: BLE001 - when in doubt, make it: a result recorded twice is recorded once
            return False

    def restore_lost(self) -> None:
        """Give back jobs whose worker was lost (unacknowledged past the visibility timeout) now, not at kombu's
        own pace (every hundred seconds or so)."""
        if self.consumer is None or self.consumer.task_consumer is None:
            return
        try:
            qos = self.consumer.task_consumer.channel.qos
            qos.restore_visible(num=qos.channel.unacked_restore_limit, interval=1)
        except Exception as err:  # noqa: BLE001 - another transport, or the broker away for a moment
            log.debug("restore skipped: %s", type(err).__name__)

    # -- a job -----------------------------------------------------------------------------------------------
    def run(self, job_id: str, body: dict[str, Any], label: str) -> dict[str, Any]:
        from celery.exceptions import Reject

        if self.recorded(job_id):
            say(f"{label}: recorded already, not made again")
            return {"skipped": "recorded"}
        if not self.taking:
            raise Reject(f"server {self.server} is not answering", requeue=True)
        started = time.perf_counter()
        try:
            answer = self.client.post(GENERATE, body, timeout=self.options.job_timeout)
        except HTTPStatusError as err:
            if _job_refused(err.status):  # the request's fault: it fails on every server, so it is the result
                self._count(failed=True, seconds=time.perf_counter() - started)
                say(f"{label} failed on {self.server}: {err.detail or err}")
                return {"error": err.detail or str(err), "status": err.status, "server": self.server}
            self.stop_taking(f"failed a job ({err})")
            raise Reject(str(err), requeue=True) from None
        except (WebUIError, GarmentError) as err:  # down, a broken answer, a timeout, credentials refused
            self.stop_taking(f"went away ({err})")
            raise Reject(str(err), requeue=True) from None
        seconds = time.perf_counter() - started
        if not isinstance(answer, dict) or not isinstance(answer.get("images"), list) or not answer["images"]:
            self.stop_taking("answered without an image")
            raise Reject("no image in the answer", requeue=True)
        self._count(failed=False, seconds=seconds)
        say(f"{label} made on {self.server} in {seconds:.2f} s")
        made = {
            "images": answer["images"], "mask": answer.get("mask"), "alpha": answer.get("alpha"),
            "info": answer.get("info") or {}, "server": self.server, "worker": self.options.name, "seconds": seconds,
        }  # fmt: skip
        # A job framed on a preset asked for the exact matte and depth map (exact_matte): they go back with it.
        made.update({key: answer[key] for key in ("matte", "depth") if key in answer})
        return made

    def _count(self, *, failed: bool, seconds: float) -> None:
        with self._lock:
            self.failed += failed
            self.done += not failed
            self.busy_s += seconds
        self.heartbeat()


def _job_refused(status: int) -> bool:
    from lib_garment.catalogue.generators import job_refused

    return job_refused(status)


def say(text: str) -> None:
    """One line on stderr (the worker's console, a systemd journal): what the worker does and why."""
    sys.stderr.write(f"[worker] {text}\n")
    sys.stderr.flush()


def serve(options: WorkerOptions) -> int:
    """Check the broker and the server, then take jobs until stopped (SIGTERM / Ctrl-C: the running job ends
    first). Returns the exit code."""
    from celery import signals

    check_broker(options.broker)
    probe = JsonClient(options.webui, options.auth, timeout=HEALTH_TIMEOUT_S)
    version = check_server(probe)
    app = make_app(options.broker, visibility=options.visibility)
    serving = _Serving(options, app)

    @app.task(name=TASK, bind=True)
    def generate(task: Any, body: dict[str, Any], label: str) -> dict[str, Any]:
        return serving.run(task.request.id, body, label)

    def ready(sender: Any = None, **_: Any) -> None:
        serving.consumer = sender
        hub = getattr(sender, "hub", None)
        if hub is not None:  # timers on the worker's own loop: no thread touches the consumer
            hub.call_repeatedly(options.health_interval, serving.health)
            hub.call_repeatedly(options.restore_interval, serving.restore_lost)
        serving.heartbeat()
        say(f"{options.name} ready: server {serving.server} (Garment Studio {version.get('version')}), broker "
            f"{options.broker.shown}, one job at a time, visibility timeout {options.visibility:g} s, job timeout "
            f"{options.job_timeout:g} s")  # fmt: skip

    signals.worker_ready.connect(ready, weak=False)
    argv = [
        "worker", "--pool=solo", "--concurrency=1", "--prefetch-multiplier=1", f"--queues={QUEUE}",
        f"--hostname={options.name}@{socket.gethostname()}", "--without-mingle", "--without-gossip",
        "--loglevel=WARNING",
    ]  # fmt: skip
    app.worker_main(argv)
    return 0
