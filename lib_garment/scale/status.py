"""What ``python -m lib_garment status --broker … [--out DIR]`` shows: the workers (each with its server, whether it
takes jobs and why not, its jobs done and failed), the queue (queued / running / done / failed) and an ETA from the
workers' own pace. With ``--out`` the catalogue's own database says what is done, failed and left (the broker
holds only the coordinator's window of queued jobs, so the ETA counts what is left there)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.catalogue.state import read_counts
from lib_garment.errors import BadInput
from lib_garment.scale.app import QUEUE, UNACKED_KEY, worker_key
from lib_garment.scale.broker import Broker, check_broker


@dataclass
class WorkerState:
    name: str
    server: str
    state: str
    reason: str
    done: int
    failed: int
    busy_s: float
    seen_s_ago: float

    @property
    def seconds_per_job(self) -> float | None:
        jobs = self.done + self.failed
        return self.busy_s / jobs if jobs else None


@dataclass
class QueueState:
    workers: list[WorkerState] = field(default_factory=list)
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    catalogue: dict[str, int] | None = None  # DIR's jobs by status (--out), else None
    folder: str | None = None

    @property
    def left(self) -> int:
        """Jobs still to make: the catalogue's pending and running ones when it is read, else the broker's."""
        if self.catalogue is not None:
            return self.catalogue["pending"] + self.catalogue["running"]
        return self.queued + self.running

    @property
    def eta_s(self) -> float | None:
        """Jobs left ÷ the taking workers' combined pace (jobs per second); None before any worker has a pace."""
        rate = sum(1 / w.seconds_per_job for w in self.workers if w.state == "taking jobs" and w.seconds_per_job)
        if not self.left:
            return 0.0
        return self.left / rate if rate else None

    def to_json(self) -> dict[str, Any]:
        return {
            "workers": [w.__dict__ | {"seconds_per_job": w.seconds_per_job} for w in self.workers],
            "queued": self.queued, "running": self.running, "done": self.done, "failed": self.failed,
            "catalogue": None if self.catalogue is None else {"folder": self.folder, **self.catalogue},
            "left": self.left, "eta_s": self.eta_s,
        }  # fmt: skip


def read_status(broker: Broker, out: Path | None = None) -> QueueState:
    """What the broker's workers and queue say, and with ``out`` what that catalogue's database says (BadInput
    when it holds none: the folder of a ``batch … --out`` run is wanted)."""
    found = QueueState()
    if out is not None:
        found.catalogue = read_counts(out)
        found.folder = str(out)
        if found.catalogue is None:
            raise BadInput(f"--out {out}: no catalogue there (no readable batch.sqlite): give the --out of a batch run")
    check_broker(broker)
    client = broker.client()
    now = time.time()
    for key in sorted(client.scan_iter(worker_key("*"), count=500)):
        raw = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        if not raw:
            continue
        found.workers.append(
            WorkerState(
                name=raw.get("name", key.decode().rsplit(":", 1)[-1]),
                server=raw.get("server", "?"),
                state=raw.get("state", "?"),
                reason=raw.get("reason", ""),
                done=int(raw.get("done", 0)),
                failed=int(raw.get("failed", 0)),
                busy_s=float(raw.get("busy_s", 0.0)),
                seen_s_ago=max(0.0, now - float(raw.get("seen", now))),
            )
        )
    found.queued = int(client.llen(QUEUE))
    # Messages a worker holds (unacknowledged) are the running jobs: one per busy worker.
    found.running = int(client.hlen(UNACKED_KEY))
    found.done = sum(w.done for w in found.workers)
    found.failed = sum(w.failed for w in found.workers)
    return found


def describe_status(found: QueueState, shown: str) -> list[str]:
    lines = [f"broker {shown}: {len(found.workers)} worker(s)"]
    for w in found.workers:
        pace = f", {w.seconds_per_job:.2f} s a job" if w.seconds_per_job else ""
        why = f" ({w.reason})" if w.reason else ""
        lines.append(
            f"  {w.name}: server {w.server}, {w.state}{why}; {w.done} done, {w.failed} failed{pace}; "
            f"seen {w.seen_s_ago:.0f} s ago"
        )
    eta = found.eta_s
    eta_text = "unknown (no worker has finished a job yet)" if eta is None else _duration(eta)
    lines.append(
        f"jobs: {found.queued} queued, {found.running} running, {found.done} done, {found.failed} failed "
        f"(done and failed: by the workers now registered)"
        + ("" if found.catalogue is not None else f"; ETA {eta_text}")
    )
    if found.catalogue is not None:
        counts = found.catalogue
        lines.append(
            f"catalogue {found.folder}: {counts['done']} done, {counts['failed']} failed, {found.left} left "
            f"(of {sum(counts.values())}); ETA {eta_text}"
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
