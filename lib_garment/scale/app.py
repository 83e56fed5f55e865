"""The Celery application the coordinator and the workers share, and the Redis keys beside Celery's own.

Settings, and why:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a job's message is acknowledged only when its result is
  stored, so a worker that dies mid-job leaves it unacknowledged and another worker gets it again;
- ``worker_prefetch_multiplier`` 1 with concurrency 1: a WebUI generates one job at a time, so a worker holds one
  message, never a second one that a faster server could be making;
- ``visibility_timeout``: how long an unacknowledged message belongs to the worker that took it; after it, Redis
  gives the message to another worker. It must be longer than the longest job (``job timeout`` + a margin), else
  a slow job would be made twice: :func:`check_timeouts` refuses a shorter one;
- ``result_expires``: results (images) are kept in Redis until the coordinator has recorded them (it then deletes
  them) or, for a coordinator that never comes back, this long;
- ``result_backend_always_retry``: a result stored while Redis restarts is stored once it is back (retried with
  back-off for about ten minutes), instead of the finished job being reported failed;
- JSON messages: no pickle, so a message from the broker cannot run code on a worker.
"""

from __future__ import annotations

import ssl
from typing import Any

from lib_garment.errors import BadInput
from lib_garment.scale.broker import CHECK_TIMEOUT_S, Broker

QUEUE = "garment-studio"
TASK = "garment_studio.generate"
VISIBILITY_MARGIN_S = 300.0
DEFAULT_RESULT_EXPIRES_S = 7 * 24 * 3600.0
KEY_PREFIX = "garment-studio"
UNACKED_KEY = "unacked"  # kombu's Redis transport: the messages workers hold (its default name, left as it is)
BACKEND_RETRIES = 60  # Celery's back-off reaches 10 s a try: about ten minutes for Redis to come back


def default_visibility(job_timeout: float) -> float:
    return job_timeout + VISIBILITY_MARGIN_S


def check_timeouts(job_timeout: float, visibility: float) -> None:
    if not job_timeout > 0:
        raise BadInput(f"--timeout must be more than 0 seconds, got {job_timeout:g}")
    if not visibility > job_timeout:
        raise BadInput(
            f"--visibility-timeout {visibility:g} s must be longer than the longest job (--timeout {job_timeout:g} "
            "s): a job still running when it ends is given to a second worker"
        )


def job_key(job_id: str) -> str:
    """Where the coordinator marks a job: ``sending`` (about to be queued), ``queued``, ``recorded``."""
    return f"{KEY_PREFIX}:job:{job_id}"


def worker_key(name: str) -> str:
    """A worker's own record (its server, state, counts), refreshed at each heartbeat."""
    return f"{KEY_PREFIX}:worker:{name}"


def make_app(broker: Broker, *, visibility: float, result_expires: float = DEFAULT_RESULT_EXPIRES_S) -> Any:
    from celery import Celery

    app = Celery("garment_studio", broker=broker.url, backend=broker.url, set_as_current=False)
    transport = {"visibility_timeout": int(visibility)}
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # a job's own failure is its result, not a reason to run it again
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=int(result_expires),
        result_backend_always_retry=True,
        result_backend_max_retries=BACKEND_RETRIES,
        result_extended=True,  # the worker's name is kept with a result: which server made what
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        worker_send_task_events=True,  # Flower and `celery events` see the jobs
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,  # the worker's own lines stay plain lines on stderr
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_timeout=CHECK_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        redis_socket_connect_timeout=CHECK_TIMEOUT_S,
        redis_socket_timeout=30.0,
        redis_retry_on_timeout=True,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )
    if broker.tls:  # rediss:// with Celery wants the certificate rule said; check against the system's CAs
        tls = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        app.conf.update(broker_use_ssl=tls, redis_backend_use_ssl=tls)
    return app
