"""Many WebUI servers behind one queue (lib_garment/scale): a real redis-server, real worker processes, the host
double's /generate route served on several ports with a fixed latency. Every scenario ends with each
(sku, variant) done exactly once and every output byte-identical to a one-server run of the local runner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.catalogue_support import base_request, servers, write_csv, write_shoot
from tests.scale_support import PASSWORD, VISIBILITY, Generating, redis_server, run, with_routes, workers
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
    assert code == 0, text
    assert set(once_each(tmp_path / "out").values()) == {"done"}
    assert len(once_each(tmp_path / "out")) == 30
    assert digests(tmp_path / "out") == digests(tmp_path / "reference")
    assert sum(app.calls for app in apps) == 30
    assert all(app.calls >= 1 for app in apps)  # every server took part
    made = [r["server"] for r in results(tmp_path / "out")]
    assert set(made) == set(urls[:3])
    assert PASSWORD not in text + "".join(logs)
