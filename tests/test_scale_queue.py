"""Many WebUI servers behind one queue (lib_garment/scale): a real redis-server, real worker processes, the host
double's /generate route served on several ports with a fixed latency. Every scenario ends with each
(sku, variant) done exactly once and every output byte-identical to a one-server run of the local runner
(``batch --webui``), results.csv's verdicts included.

The catalogue mixes plain generated rows with rows framed on a preset (generated, then framed on its canvas and
checked): the queue frames those on the coordinator from the exact composite, matte and depth its server sends.
One launched double and one local reference run serve the module's scenarios (the chaos one runs half of the
catalogue: job seeds come from each row's photo, mask and request, so a row's outputs do not depend on which
other rows are in the manifest)."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.catalogue_support import base_request, servers, write_csv, write_shoot
from tests.presets_support import write_test_shop
from tests.scale_support import (
    JOB_TIMEOUT,
    PASSWORD,
    VISIBILITY,
    Generating,
    module_double,
    redis_server,
    run,
    spawn,
    wait_until,
    with_routes,
    workers,
)  # fmt: skip
from tests.test_catalogue_run import command, digests, results

LATENCY = 0.05
SKUS = 15  # x 2 variants: the 3 workers x 30 jobs
FRAMED = "test-shop"  # a user preset (in --models-dir): a small PNG canvas, white wanted, so generated scenes fail


@dataclass
class Farm:
    """What the module's scenarios share: the catalogue, its local reference run, three servers that workers
    front (latency and faults switchable) and a fourth, plain one that made the reference."""

    folder: Path
    manifest: Path
    reference: Path
    urls: list[str]
    apps: list[Generating]
    framed: set[str]  # the SKUs whose rows name the preset


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    folder = tmp_path_factory.mktemp("scale")
    shoot = folder / "shoot"
    skus = write_shoot(shoot, SKUS)
    write_test_shop(folder / "models" / "garment_studio" / "presets")
    framed = set(skus[1::2])
    rows = [
        {"sku": sku, "image": f"{sku}.png", "mask": f"{sku}.mask.png", "variants": 2,
         "preset": FRAMED if sku in framed else ""}
        for sku in skus
    ]  # fmt: skip
    manifest = write_csv(shoot / "m.csv", rows)
    apps = [Generating() for _ in range(3)]

    def wrap(k: int):
        def wrapped(app):
            apps[k].app = app
            return apps[k]

        return wrapped

    hosts = tmp_path_factory.getbasetemp() / "host-doubles" / "webui"  # the fixtures' folder: bytecode reused
    with module_double(hosts) as host, servers(with_routes(host), wrap(0), wrap(1), wrap(2), None) as urls:
        reference = folder / "reference"
        code, text = run("batch", command(manifest, reference, folder, [urls[3]]), folder / "reference.log")
        assert code == 0, text
        yield Farm(folder, manifest, reference, urls, apps, framed)


def queued(farm: Farm, source: Path, out: Path, broker: str, *extra: object) -> list[str]:
    return [str(a) for a in (source, "--out", out, "--request", base_request(farm.folder), "--models-dir",
            farm.folder / "models", "--offline", "--broker", broker, "--timeout", JOB_TIMEOUT, "--visibility-timeout",
            VISIBILITY, *extra)]  # fmt: skip


def once_each(out: Path) -> dict[tuple[str, int], str]:
    with sqlite3.connect(out / "batch.sqlite") as db:
        rows = db.execute("SELECT sku, variant, status, COUNT(*) FROM jobs WHERE current = 1 GROUP BY sku, variant")
        found = {(sku, variant): (status, count) for sku, variant, status, count in rows}
    assert all(count == 1 for _, count in found.values())
    return {key: status for key, (status, _) in found.items()}


def verdicts(out: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """results.csv per output, without where and how fast it was made: file, kept check, verdict, failing
    rules, seed."""
    return {
        (r["sku"], r["variant"]): (r["status"], r["file"], r["kept_exact"], r["compliance"], r["failing_rules"],
                                   r["seed"])
        for r in results(out)
    }  # fmt: skip


def same_as_reference(farm: Farm, out: Path, skus: set[str]) -> None:
    """``out`` holds exactly the reference's files of ``skus``, byte for byte, and the same results.csv rows."""
    reference = {name: digest for name, digest in digests(farm.reference).items() if name.split("/")[0] in skus}
    assert digests(out) == reference
    expected = {key: row for key, row in verdicts(farm.reference).items() if key[0] in skus}
    assert verdicts(out) == expected
    framed = [row for (sku, _), row in expected.items() if sku in farm.framed]
    # Not vacuous: the framed rows were framed and checked (a verdict, a PNG on the preset's canvas), the others
    # are the exact composite with no verdict.
    assert framed
    assert all(row[3] in ("pass", "fail", "warn") and row[1].endswith(".png") for row in framed)
    assert all(row[3] == "" for (sku, _), row in expected.items() if sku not in farm.framed)


def test_three_workers_make_thirty_jobs_once_each_identical_to_one_server(farm: Farm, tmp_path: Path) -> None:
    for app in farm.apps:
        app.reset(LATENCY)
    with redis_server(tmp_path / "redis") as redis, workers(redis.url, farm.urls[:3], tmp_path) as running:
        out = tmp_path / "out"
        code, text = run("batch", queued(farm, farm.manifest, out, redis.url), tmp_path / "b.log")
        logs = [w.text() for w in running]
        _, status = run("status", ["--broker", redis.url, "--out", out], tmp_path / "status.log")
    assert code == 0, text
    assert set(once_each(out).values()) == {"done"}
    assert len(once_each(out)) == 2 * SKUS
    same_as_reference(farm, out, {p.name for p in farm.reference.iterdir() if p.is_dir()})
    assert sum(app.calls for app in farm.apps) == 2 * SKUS
    # The framed jobs asked their server for the exact composite and matte only (framed here), the others not.
    assert sum(flag for app in farm.apps for flag in app.exact_matte) == 2 * len(farm.framed)
    assert all(app.calls >= 1 for app in farm.apps)  # every server took part
    made = [r["server"] for r in results(out)]
    assert set(made) == set(farm.urls[:3])
    assert PASSWORD not in text + status + "".join(logs)
    assert "3 worker(s)" in status
    for k, url in enumerate(farm.urls[:3]):
        assert f"  w{k}: server {url}, taking jobs" in status
    assert f"0 queued, 0 running, {2 * SKUS} done, 0 failed" in status
    assert f"catalogue {out}: {2 * SKUS} done, 0 failed, 0 left (of {2 * SKUS}); ETA 0 s" in status


def done_count(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'batch.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND current = 1").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


def test_a_lost_worker_a_server_gone_a_killed_coordinator_and_a_redis_restart_lose_and_repeat_nothing(
    farm: Farm, tmp_path: Path
) -> None:
    """In one run: worker w0 SIGKILLed mid-job (its server holds the job until then; the job comes back after
    the visibility timeout and is made elsewhere), server 1 goes away (its worker stops taking jobs and says
    why), the coordinator is SIGKILLed and started again (it re-attaches to the queued jobs), and Redis is
    restarted mid-run."""
    half = sorted(p.name for p in farm.reference.iterdir() if p.is_dir())[:8]
    rows = [{"sku": sku, "image": f"{sku}.png", "mask": f"{sku}.mask.png", "variants": 2,
             "preset": FRAMED if sku in farm.framed else ""} for sku in half]  # fmt: skip
    manifest = write_csv(farm.manifest.parent / "half.csv", rows)
    out = tmp_path / "out"
    apps, urls = farm.apps, farm.urls
    for app in apps:
        app.reset(LATENCY)
    with redis_server(tmp_path / "r") as redis, workers(redis.url, urls[:3], tmp_path) as (w0, w1, w2):
        argv = queued(farm, manifest, out, redis.url)
        coordinator = spawn("batch", argv, tmp_path / "c1.log")
        wait_until(lambda: done_count(out) >= 1, "a first job recorded")
        apps[0].hold = True  # w0's next job stays on its server until w0 is gone
        wait_until(lambda: apps[0].active == 1, "w0 busy with a held job")
        w0.kill()  # mid-job: its message stays unacknowledged
        apps[0].hold = False
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
    same_as_reference(farm, out, set(half))
    made = {r["server"] for r in results(out)}
    assert urls[2] in made
    assert calls[0] >= 1
    assert calls[2] >= 1
    assert PASSWORD not in second + (tmp_path / "c1.log").read_text() + "".join(logs)
