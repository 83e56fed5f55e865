"""The catalogue survives being killed: the batch process (a real one) SIGKILLed at many moments — starting up,
checking the server, preparing, waiting for a generation, writing files, committing — then resumed. At the end
every (sku, variant) is done exactly once and every output file is byte-identical to an uninterrupted run with
the same seeds; after every kill the database is intact and every job it calls done has its files. Ctrl-C stops
after the running jobs and leaves a resumable state.

The moments differ between the two package sets (each kills at its own offsets), so one CI run covers twice as
many moments as one set does."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.catalogue_support import Latency, servers, write_csv, write_shoot
from tests.host_double.fixtures import flavours_of_this_set
from tests.test_catalogue_run import batch, command, digests

ROOT = Path(__file__).resolve().parents[1]
KILLS = 12
# Seconds after a job's commit at which a kill lands: 24 moments over two jobs' life (each takes ~0.12 s), the
# even ones in one package set, the odd ones in the other; the first kill of each set lands while it starts.
OFFSETS = tuple(round(0.011 * i, 3) for i in range(24))
START_KILL_S = (1.0, 0.5)
FIRST = 1 if flavours_of_this_set() == ("forge",) else 0


# The test command runs pytest in the background of a script, where SIGINT is ignored and children inherit
# that; a batch started from a terminal has Ctrl-C, so the child gets Python's own handler back first.
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'lib_garment'; runpy.run_module('lib_garment', run_name='__main__', alter_sys=True)"
)


def spawn(argv: list[object]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", AS_FROM_A_TERMINAL, "batch", *map(str, argv)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def done_count(out: Path) -> int:
    path = out / "batch.sqlite"
    if not path.is_file():
        return -1
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND current = 1").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return -1


def check_consistent(out: Path) -> None:
    """The database is intact and every job it calls done has each of its files, complete."""
    path = out / "batch.sqlite"
    if not path.is_file():
        return
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for (outputs,) in db.execute("SELECT outputs FROM jobs WHERE status = 'done'"):
            for output in json.loads(outputs):
                data = (out / output["file"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == output["sha256"], output["file"]


def wait_for(condition, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition() and proc.poll() is None:
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.005)


def test_killed_at_many_moments_then_resumed_every_output_made_once_and_identical(webui, tmp_path: Path) -> None:
    write_shoot(tmp_path, 12)
    rows = [{"sku": f"P{k:02d}", "image": f"SKU-{k:03d}.png", "mask": f"SKU-{k:03d}.mask.png", "variants": 2}
            for k in range(12)]  # fmt: skip
    manifest = write_csv(tmp_path / "m.csv", rows)
    crashed, reference = tmp_path / "crashed", tmp_path / "reference"
    kills = []
    with servers(webui, lambda app: Latency(app, 0.1)) as urls:
        argv = command(manifest, crashed, tmp_path, urls)
        for k in range(KILLS):
            proc = spawn(argv)
            if k == 0:  # while it starts: nothing written yet, or the database just made
                time.sleep(START_KILL_S[FIRST])
            else:
                before = done_count(crashed)
                wait_for(lambda before=before: done_count(crashed) > before, proc)
                time.sleep(OFFSETS[2 * (k - 1) + FIRST])
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append(done_count(crashed))
            check_consistent(crashed)
        final = spawn(argv)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        assert batch(*command(manifest, reference, tmp_path, urls)) == 0
    assert len(kills) == KILLS, kills  # every kill landed before the catalogue was complete
    assert kills == sorted(kills)
    assert kills[-1] < 24
    assert digests(crashed) == digests(reference)
    assert len(digests(reference)) == 12 * (2 * 2 + 2)  # result + thumbnail per job; mask and alpha per SKU
    with sqlite3.connect(crashed / "batch.sqlite") as db:
        rows = db.execute("SELECT sku, variant, COUNT(*) FROM jobs WHERE current = 1 GROUP BY sku, variant").fetchall()
        statuses = {status for (status,) in db.execute("SELECT status FROM jobs WHERE current = 1")}
    assert len(rows) == 24
    assert all(count == 1 for _, _, count in rows)
    assert statuses == {"done"}
    assert not list(crashed.rglob("*.tmp"))  # no half-written file left behind


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_finishes_the_running_jobs_and_leaves_a_resumable_state(
    webui, tmp_path: Path, stop: signal.Signals
) -> None:
    """Ctrl-C in a terminal, or SIGTERM from a service manager (systemctl stop, docker stop)."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 8)
    with servers(webui, lambda app: Latency(app, 0.3)) as urls:
        argv = command(shoot, out, tmp_path, urls)
        proc = spawn(argv)
        wait_for(lambda: done_count(out) >= 1, proc)
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "stopping after the running jobs" in err
        assert "stopped early: interrupted" in err
        with sqlite3.connect(out / "batch.sqlite") as db:
            statuses = [s for (s,) in db.execute("SELECT status FROM jobs")]
        assert "running" not in statuses
        assert 1 <= statuses.count("done") < 8
        resumed = spawn(argv)
        _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"{statuses.count('done')} done already" in err
    assert (out / "index.html").is_file()
