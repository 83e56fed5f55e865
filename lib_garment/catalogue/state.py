"""``DIR/batch.sqlite``: one row per job (sku, variant) — the one record of what is pending, running, done or
failed, with attempts, errors, outputs (each file's SHA-256), timings and the server used.

Write-ahead log and full synchronisation: a commit survives a kill at any moment. The job's files are renamed
into place before the transaction that marks it done, so a kill between the two only makes the job run again
(its seed fixed, its files the same bytes), never a done job without its files. One connection, guarded by a
lock, serves every thread of a run.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.catalogue.jobs import Job
from lib_garment.models.verify import sha256_file

DB_NAME = "batch.sqlite"
STATUSES = ("pending", "running", "done", "failed")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    variant INTEGER NOT NULL,
    row INTEGER NOT NULL,
    current INTEGER NOT NULL DEFAULT 1,
    local INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    seed INTEGER,
    server TEXT,
    error TEXT,
    error_field TEXT,
    outputs TEXT,
    kept_exact INTEGER,
    compliance TEXT,
    failing_rules TEXT,
    seconds REAL,
    started REAL,
    finished REAL,
    report TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (current, status);
CREATE TABLE IF NOT EXISTS attempts (
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    server TEXT,
    error TEXT,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class JobRecord:
    """A job's row as stored."""

    id: str
    sku: str
    variant: int
    row: int
    local: bool
    status: str
    attempts: int
    seed: int | None
    server: str | None
    error: str | None
    error_field: str | None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    kept_exact: bool | None = None
    compliance: str | None = None
    failing_rules: list[str] = field(default_factory=list)
    seconds: float | None = None
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """What a finished job records."""

    outputs: list[dict[str, Any]]  # {"kind", "file" (relative to DIR), "sha256"}
    server: str | None
    seconds: float
    kept_exact: bool | None
    compliance: str | None
    failing_rules: list[str]
    report: dict[str, Any]


class BatchState:
    """The database of one output folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- a run's start --------------------------------------------------------------------------------------------
    def sync(self, jobs: Sequence[Job]) -> list[str]:
        """Record this manifest's jobs: new ids pending, ids no longer in it set aside (kept for history, left out
        of results), ``running`` ones left by a killed run pending again, and done ones whose files are missing
        or changed pending again. Returns notes on what was found."""
        notes = []
        with self._transaction() as db:
            db.execute("UPDATE jobs SET current = 0")
            for job in jobs:
                db.execute(
                    "INSERT INTO jobs (id, sku, variant, row, local, seed) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET current = 1, row = excluded.row",
                    (job.id, job.sku, job.variant, job.row, int(job.local), job.seed),
                )
            requeued = db.execute(
                "UPDATE jobs SET status = 'pending' WHERE current = 1 AND status = 'running'"
            ).rowcount
            if requeued:
                notes.append(f"{requeued} job(s) a stopped run left running are queued again")
            for record in db.execute(
                "SELECT id, sku, variant, outputs FROM jobs WHERE current = 1 AND status = 'done'"
            ):
                if not self._files_intact(json.loads(record["outputs"] or "[]")):
                    db.execute("UPDATE jobs SET status = 'pending' WHERE id = ?", (record["id"],))
                    notes.append(
                        f"{record['sku']} #{record['variant']}: an output file is missing or changed, made again"
                    )
        return notes

    def _files_intact(self, outputs: list[dict[str, Any]]) -> bool:
        for output in outputs:
            path = self.folder / output["file"]
            if not path.is_file() or sha256_file(path) != output["sha256"]:
                return False
        return True

    def retry_failed(self) -> set[str]:
        """The failed jobs pending again (attempts kept); their ids."""
        with self._transaction() as db:
            ids = {row[0] for row in db.execute("SELECT id FROM jobs WHERE current = 1 AND status = 'failed'")}
            db.execute(
                "UPDATE jobs SET status = 'pending', error = NULL, error_field = NULL "
                "WHERE current = 1 AND status = 'failed'"
            )
            return ids

    def pending_ids(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE current = 1 AND status = 'pending' ORDER BY row, variant"
            ).fetchall()
        return [row["id"] for row in rows]

    # -- a job's life ---------------------------------------------------------------------------------------------
    def start(self, job_id: str, server: str | None) -> int:
        """Mark the job running; its attempt number (1 for the first)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, server = ?, started = ? WHERE id = ?",
                (server, time.time(), job_id),
            )
            return int(db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])

    def finish(self, job_id: str, done: Done) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = 'done', server = ?, error = NULL, error_field = NULL, outputs = ?, "
                "kept_exact = ?, compliance = ?, failing_rules = ?, seconds = ?, finished = ?, report = ? "
                "WHERE id = ?",
                (
                    done.server,
                    json.dumps(done.outputs),
                    None if done.kept_exact is None else int(done.kept_exact),
                    done.compliance,
                    json.dumps(done.failing_rules),
                    done.seconds,
                    time.time(),
                    json.dumps(done.report, default=str),
                    job_id,
                ),
            )

    def fail(self, job_id: str, error: str, error_field: str | None, server: str | None, seconds: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, error_field = ?, server = ?, seconds = ?, "
                "finished = ? WHERE id = ?",
                (error, error_field, server, seconds, time.time(), job_id),
            )
            self._log_attempt(db, job_id, server, error)

    def requeue(self, job_id: str, error: str, server: str | None) -> None:
        """Back to pending after a server's failure (the attempt and its error recorded)."""
        with self._transaction() as db:
            db.execute("UPDATE jobs SET status = 'pending' WHERE id = ?", (job_id,))
            self._log_attempt(db, job_id, server, error)

    def release(self, job_id: str) -> None:
        """A job not finished because the run stops: pending again, its attempt not counted."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = 'pending', attempts = MAX(attempts - 1, 0) "
                "WHERE id = ? AND status = 'running'",
                (job_id,),
            )

    @staticmethod
    def _log_attempt(db: sqlite3.Connection, job_id: str, server: str | None, error: str) -> None:
        attempt = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        db.execute(
            "INSERT INTO attempts (job_id, attempt, server, error, at) VALUES (?, ?, ?, ?, ?)",
            (job_id, attempt, server, error, time.time()),
        )

    # -- reading ------------------------------------------------------------------------------------------------
    def records(self, *, sku: str | None = None) -> list[JobRecord]:
        """This manifest's jobs in manifest order (one SKU's with ``sku``)."""
        query = "SELECT * FROM jobs WHERE current = 1" + (" AND sku = ?" if sku is not None else "")
        with self._lock:
            rows = self._db.execute(query + " ORDER BY row, variant", (sku,) if sku is not None else ()).fetchall()
        return [_record(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs WHERE current = 1 GROUP BY status").fetchall()
        found = dict.fromkeys(STATUSES, 0)
        found.update({row[0]: row[1] for row in rows})
        return found


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        sku=row["sku"],
        variant=row["variant"],
        row=row["row"],
        local=bool(row["local"]),
        status=row["status"],
        attempts=row["attempts"],
        seed=row["seed"],
        server=row["server"],
        error=row["error"],
        error_field=row["error_field"],
        outputs=json.loads(row["outputs"] or "[]"),
        kept_exact=None if row["kept_exact"] is None else bool(row["kept_exact"]),
        compliance=row["compliance"],
        failing_rules=json.loads(row["failing_rules"] or "[]"),
        seconds=row["seconds"],
        report=json.loads(row["report"] or "{}"),
    )


def done_ids(folder: Path) -> set[str]:
    """The ids done in ``folder``'s database, read without writing anything (none when there is none)."""
    path = folder / DB_NAME
    if not path.is_file():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM jobs WHERE status = 'done'")}
    except sqlite3.DatabaseError:
        return set()
    finally:
        db.close()


def read_records(folder: Path) -> list[JobRecord] | None:
    """This catalogue's jobs (``records``), read without writing anything; None when ``folder`` holds no database.
    For looking at a run while its runner writes: a 2-second refresh must not open a writer's connection."""
    path = folder / DB_NAME
    if not path.is_file():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM jobs WHERE current = 1 ORDER BY row, variant").fetchall()
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    return [_record(row) for row in rows]


def read_counts(folder: Path) -> dict[str, int] | None:
    """This catalogue's jobs by status (``counts``), read without writing anything; None when ``folder`` holds no
    database (for watching a run from another process: ``status --out``)."""
    path = folder / DB_NAME
    if not path.is_file():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT status, COUNT(*) FROM jobs WHERE current = 1 GROUP BY status").fetchall()
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    found = dict.fromkeys(STATUSES, 0)
    found.update(dict(rows))
    return found


def open_state(folder: Path) -> BatchState:
    folder.mkdir(parents=True, exist_ok=True)
    return BatchState(folder)
