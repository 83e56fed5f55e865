"""The catalogue runner's own cost and its scaling over servers, on the CPU, offline.

Run from the repository root: ``python bench/batch.py [--skus 20] [--latency 0.5] [--side 512]``. The WebUI is
the host double (tests/host_double) served over real HTTP by uvicorn, each img2img answer delayed by
``--latency`` seconds (a WebUI's generation time); the jobs are mask-driven with the weight-free units
(mask_canny + canny), so preparation is the engine's own code at ``--side``² pixels.

Printed, each measured in this run:
- one server: the wall time ÷ the sum of the jobs' own work (each job's preparation + its generation call,
  framing and writing, as recorded in batch.sqlite). Target ≤ 1.05. The preparer works ahead while the server
  generates, so the ratio can be below 1: the figure says what the queue, the database and the reports add.
- the run's own overhead per job (ms): wall − Σ generation-side seconds − the first job's preparation (the one
  preparation nothing overlaps), ÷ jobs.
- two servers of equal speed: throughput ÷ one server's (target ≥ 1.8).
- model loads per model: the runtime cache's load counts after the run (these jobs need none: the mask says
  what to keep and the units need no weights; tests/test_segment_models_pipeline.py checks that the phrase
  path's models stay resident across photos).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_garment.cli import main as cli
from lib_garment.runtime.cache import cache_info
from tests.catalogue_support import Latency, servers
from tests.host_double.host import WebUIDouble


def shoot(folder: Path, count: int, side: int) -> None:
    folder.mkdir(parents=True)
    for k in range(count):
        rng = np.random.default_rng(k)
        photo = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        keep = np.zeros((side, side), np.uint8)
        keep[side // 4 : 3 * side // 4, side // 5 : 4 * side // 5] = 255
        photo[keep > 0] = (180, 60 + k, 40)
        Image.fromarray(photo).save(folder / f"SKU-{k:03d}.png")
        Image.fromarray(keep).save(folder / f"SKU-{k:03d}.mask.png")


def run(photos: Path, out: Path, work: Path, urls: list[str]) -> float:
    request = work / "base.json"
    request.write_text(json.dumps({"control": [{"kind": "mask_canny"}, {"kind": "canny"}], "generation": {"steps": 2}}))
    argv = ["batch", str(photos), "--out", str(out), "--request", str(request), "--models-dir", str(work / "models"),
            "--offline", *(w for url in urls for w in ("--webui", url))]  # fmt: skip
    started = time.perf_counter()
    code = cli.main(argv)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"the batch exited {code}")
    return wall


def job_work(out: Path) -> tuple[float, float, float, int]:
    """Σ preparation, Σ generation-side seconds, the first job's preparation, and the job count."""
    with sqlite3.connect(out / "batch.sqlite") as db:
        rows = db.execute("SELECT seconds, report FROM jobs ORDER BY row, variant").fetchall()
    prepares = [json.loads(report)["timings"]["total_s"] for _, report in rows]
    return sum(prepares), sum(seconds for seconds, _ in rows), prepares[0], len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shoot(work / "shoot", args.skus, args.side)
        host = WebUIDouble(work / "host").start()
        try:
            walls = {}
            for count in (1, 2):
                with servers(host, *[lambda app: Latency(app, args.latency)] * count) as urls:
                    walls[count] = run(work / "shoot", work / f"out-{count}", work, urls)
        finally:
            host.close()
        prepare_s, generate_s, first_prepare_s, jobs = job_work(work / "out-1")
    own = prepare_s + generate_s
    print(f"{jobs} jobs ({args.side}² photos, mask-driven, units mask_canny + canny), latency {args.latency:g} s")
    print(f"one server: wall {walls[1]:.2f} s; Σ preparation {prepare_s:.2f} s, Σ generation-side {generate_s:.2f} s")
    print(f"one server: wall ÷ Σ jobs' own work = {walls[1] / own:.3f} (target ≤ 1.05)")
    overhead = (walls[1] - generate_s - first_prepare_s) / jobs
    print(f"one server: the run's own overhead per job = {overhead * 1000:.1f} ms")
    print(f"two servers: wall {walls[2]:.2f} s; throughput ÷ one server's = {walls[1] / walls[2]:.2f} (target ≥ 1.8)")
    loads = {str(entry.key): entry.loads for entry in cache_info()}
    print(f"model loads per model: {loads or 'none needed by these jobs'}")


if __name__ == "__main__":
    main()
