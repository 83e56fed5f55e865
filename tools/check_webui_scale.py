"""Check the catalogue across two real WebUI servers through Redis and Celery: one worker per server, the
coordinator (``batch --broker``), every job done once and each server's share named.

Usage: python tools/check_webui_scale.py http://127.0.0.1:7860 http://127.0.0.1:7870 --work DIR

Starts its own redis-server (a free loopback port, a password, a temporary folder) and the two workers, runs the
catalogue (the astronaut crops with their masks from check_webui_catalogue.py; one mask-outline unit), prints
results.csv's summary by server, then stops everything it started. Both servers must run Garment Studio (the
workers call /garment-studio/v1/generate) with --api. Exit 0 when every job was done once, on both servers;
each output is compared (for information) with the same job made by its own server alone through
``batch --webui`` (the API path, where the workers use the WebUI's own /generate route).
"""

from __future__ import annotations

import argparse
import csv
import json
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def results(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def start_services(work: Path, urls: list[str], broker: str, password: str, port: int) -> list[subprocess.Popen]:
    (work / "redis").mkdir(exist_ok=True)
    started = [
        subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password, "--dir",
             str(work / "redis"), "--save", "", "--appendonly", "yes"],
            stdout=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    time.sleep(0.5)
    for k, url in enumerate(urls):
        log = (work / f"worker-{k}.log").open("w")
        started.append(subprocess.Popen(
            [sys.executable, "-m", "lib_garment", "worker", "--broker", broker, "--webui", url, "--name",
             f"server-{k}"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
    return started


def stop(started: list[subprocess.Popen]) -> None:
    for proc in reversed(started):
        proc.terminate()
    for proc in started:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # noqa: PERF203 - a handful of processes
            proc.kill()


def lib_garment(*words: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib_garment", *words], cwd=ROOT, capture_output=True, text=True,
                          check=False)  # fmt: skip


def check_queue_run(work: Path, broker: str, password: str, common: list[str]) -> tuple[list[dict], list[str]]:
    problems = []
    t0 = time.perf_counter()
    queued = lib_garment("batch", str(work / "photos"), "--out", str(work / "out-queue"), "--broker", broker, *common)
    print(f"batch --broker: exit {queued.returncode} in {time.perf_counter() - t0:.1f} s")
    if queued.returncode != 0:
        problems.append(f"batch --broker exited {queued.returncode}: {queued.stderr[-3000:]}")
    if password in queued.stderr + queued.stdout:
        problems.append("the broker password was printed")
    print("status:\n" + lib_garment("status", "--broker", broker).stdout.strip())
    rows = results(work / "out-queue")
    by_server = Counter((r["server"], r["status"], r["kept_exact"], r["compliance"]) for r in rows)
    print(f"results.csv: {len(rows)} rows; " + "; ".join(f"{n} × {k}" for k, n in by_server.items()))
    keys = Counter((r["sku"], r["variant"]) for r in rows)
    if any(n != 1 for n in keys.values()) or any(r["status"] != "done" for r in rows):
        problems.append("not every (sku, variant) is done exactly once")
    if len({r["server"] for r in rows}) < 2:
        problems.append("only one server made outputs")
    return rows, problems


def compare_with_each_server(work: Path, urls: list[str], rows: list[dict], common: list[str]) -> list[str]:
    """Each server's outputs against the same jobs made by that server alone (random weights differ between
    the two hosts, so one seed makes different pictures on each)."""
    problems = []
    for k, url in enumerate(urls):
        mine = [r for r in rows if r["server"].startswith(url) or r["server"] == f"server-{k}"]
        if not mine:
            continue
        t0 = time.perf_counter()
        reference = work / f"out-ref-{k}"
        alone = lib_garment("batch", str(work / "photos"), "--out", str(reference), "--webui", url, *common)
        print(f"reference on {url} alone: exit {alone.returncode} in {time.perf_counter() - t0:.1f} s")
        queue = work / "out-queue"
        differing = [
            r["file"] for r in mine if (queue / r["file"]).read_bytes() != (reference / r["file"]).read_bytes()
        ]
        print(f"{len(mine)} outputs of {url} compared byte for byte with its own run: {len(differing)} differ "
              f"({', '.join(differing) or 'none'})")  # fmt: skip
    # Informational, not a failure: the queue's workers ask the WebUI's own /generate route, the reference run
    # its /sdapi/v1/img2img from outside; on the real hosts the two paths do not always give the same bytes for
    # one seed (the host double's tests compare a queue run with a one-server run and require byte identity).
    return problems


def main() -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    from check_webui_catalogue import make_photos, verdict  # the sibling tool's photos and verdict

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("urls", nargs=2)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--preset", help="frame every generated picture on this marketplace preset (e.g. amazon-main)")
    args = parser.parse_args()
    work = args.work
    make_photos(work / "photos")
    (work / "base.json").write_text(json.dumps({
        "prompt": "a studio photo", "control": [{"kind": "mask_canny"}],
        "generation": {"steps": args.steps, "width": args.side, "height": args.side},
        **({"preset": args.preset} if args.preset else {}),
    }))  # fmt: skip
    password, port = secrets.token_hex(8), free_port()
    broker = f"redis://:{password}@127.0.0.1:{port}/0"
    common = ["--request", str(work / "base.json"), "--models-dir", str(work / "models"), "--offline"]
    started = start_services(work, args.urls, broker, password, port)
    try:
        rows, problems = check_queue_run(work, broker, password, common)
        problems += compare_with_each_server(work, args.urls, rows, common)
    finally:
        stop(started)
    return verdict(problems)


if __name__ == "__main__":
    raise SystemExit(main())
