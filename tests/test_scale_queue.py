"""Many WebUI servers behind one queue (lib_garment/scale): a real redis-server, real worker processes, the host
double's /generate route served on several ports with a fixed latency. Every scenario ends with each
(sku, variant) done exactly once and every output byte-identical to a one-server run of the local runner."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.catalogue_support import base_request, servers, write_csv, write_shoot
from tests.scale_support import (
    PASSWORD,
    VISIBILITY,
    Generating,
    redis_server,
    run,
    spawn,
    wait_until,
    with_routes,
    workers,
)  # fmt: skip
from tests.test_catalogue_run import command, digests, results

LATENCY = 0.05


def queued(source: Path, out: Path, tmp_path: Path, broker: str, *extra: object) -> list[str]:
    return [str(a) for a in (source, "--out", out, "--request", base_request(tmp_path), "--models-dir",
            tmp_path / "models", "--offline", "--broker", broker, "--timeout", 3, "--visibility-timeout",
            VISIBILITY, *extra)]  # fmt: skip


def once_each(out: Path) -> dict[tuple[str, int], str]:
    with sqlite3.connect(out / "batch.sqlite") as db:
        rows = db.execute("SELECT sku, variant, status, COUNT(*) FROM jobs WHERE current = 1 GROUP BY sku, variant")
        found = {(sku, variant): (status, count) for sku, variant, status, count in rows}
    assert all(count == 1 for _, count in found.values())
    return {key: status for key, (status, _) in found.items()}


def test_three_workers_make_thirty_jobs_once_each_identical_to_one_server(
    webui, fresh_engine_modules, tmp_path: Path
) -> None:
    shoot = tmp_path / "shoot"
    skus = write_shoot(shoot, 15)
    rows = [{"sku": sku, "image": f"{sku}.png", "mask": f"{sku}.mask.png", "variants": 2} for sku in skus]
    manifest = write_csv(shoot / "m.csv", rows)
    apps: list[Generating] = []

    def slow(app):
        apps.append(Generating(app, LATENCY))
        return apps[-1]

    with servers(with_routes(webui), slow, slow, slow, None) as urls, redis_server(tmp_path / "redis") as redis:
        code, _ = run("batch", command(manifest, tmp_path / "reference", tmp_path, [urls[3]]), tmp_path / "ref.log")
        assert code == 0, _
        with workers(redis.url, urls[:3], tmp_path) as running:
            code, text = run("batch", queued(manifest, tmp_path / "out", tmp_path, redis.url), tmp_path / "b.log")
            logs = [w.text() for w in running]
            _, status = run("status", ["--broker", redis.url], tmp_path / "status.log")
    assert code == 0, text
    assert set(once_each(tmp_path / "out").values()) == {"done"}
    assert len(once_each(tmp_path / "out")) == 30
    assert digests(tmp_path / "out") == digests(tmp_path / "reference")
    assert sum(app.calls for app in apps) == 30
    assert all(app.calls >= 1 for app in apps)  # every server took part
    made = [r["server"] for r in results(tmp_path / "out")]
    assert set(made) == set(urls[:3])
    assert PASSWORD not in text + status + "".join(logs)
    assert "3 worker(s)" in status
    for k, url in enumerate(urls[:3]):
        assert f"  w{k}: server {url}, taking jobs" in status
    assert "0 queued, 0 running, 30 done, 0 failed" in status


def done_count(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'batch.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND current = 1").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


def test_a_lost_worker_a_server_gone_a_killed_coordinator_and_a_redis_restart_lose_and_repeat_nothing(
    webui, fresh_engine_modules, tmp_path: Path
) -> None:
    """In one run: worker w0 SIGKILLed mid-job (its job comes back after the visibility timeout and is made
    elsewhere), server 1 goes away (its worker stops taking jobs and says why), the coordinator is SIGKILLed and
    started again (it re-attaches to the queued jobs), and Redis is restarted mid-run."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 8)
    rows = [{"sku": sku, "image": f"{sku}.png", "mask": f"{sku}.mask.png", "variants": 2} for sku in skus]
    manifest = write_csv(shoot / "m.csv", rows)
    apps = [Generating(None, 0.25) for _ in range(3)]

    def wrap(k: int):
        def wrapped(app):
            apps[k].app = app
            return apps[k]

        return wrapped

    with servers(with_routes(webui), wrap(0), wrap(1), wrap(2), None) as urls, redis_server(tmp_path / "r") as redis:
        code, text = run("batch", command(manifest, tmp_path / "reference", tmp_path, [urls[3]]), tmp_path / "ref.log")
        assert code == 0, text
        with workers(redis.url, urls[:3], tmp_path) as (w0, w1, w2):
            argv = queued(manifest, out, tmp_path, redis.url)
            coordinator = spawn("batch", argv, tmp_path / "c1.log")
            wait_until(lambda: apps[0].active == 1 and done_count(out) >= 1, "w0 busy after a first job")
            w0.kill()  # mid-job: its message stays unacknowledged
            apps[1].down = True  # server 1 goes away
            wait_until(lambda: "stops taking jobs" in w1.text(), "w1 saying it stops")
            coordinator.send_signal(signal.SIGKILL)
            coordinator.wait(10)
            killed_at = done_count(out)
            redis.stop()
            redis.start()
            code, second = run("batch", argv, tmp_path / "c2.log")
            logs = [w.text() for w in (w0, w1, w2)]
            calls = [app.calls for app in apps]
    assert code == 0, second
    assert killed_at < 16
    assert "already queued by an earlier run: collecting them" in second
    said = next(line for line in logs[1].splitlines() if "stops taking jobs" in line)
    assert f"[worker] server {urls[1]} " in said  # the server, and why (whichever check saw it first)
    assert any(why in said for why in ("went away", "failed a job", "does not answer")), said
    assert "this worker stops taking jobs until it answers again" in said
    assert set(once_each(out).values()) == {"done"}
    assert len(once_each(out)) == 16
    assert digests(out) == digests(tmp_path / "reference")
    made = {r["server"] for r in results(out)}
    assert urls[2] in made
    assert calls[0] >= 1
    assert calls[2] >= 1
    assert PASSWORD not in second + (tmp_path / "c1.log").read_text() + "".join(logs)
