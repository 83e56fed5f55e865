"""Many servers behind one queue (lib_garment/scale): throughput with 1, 2 and 4 simulated servers, and the
queue's own overhead per job. Printed, not asserted.

Run from the repository root with the scale extra and redis-server installed:
``python bench/scale.py [--jobs 40] [--latency 0.25]``. Each simulated server is a small HTTP server that answers
Garment Studio's /generate one call at a time (a WebUI's queue lock) after ``--latency`` seconds, with the photo
as its "composite"; so the figures are those of the queue (Redis, Celery, the workers, the coordinator's
recording), not of any model. A real Redis runs on a free loopback port; one real worker process per server.

Printed, each measured in this run:
- per server count N: wall time, throughput (jobs/s) and its ratio to N × one server's (target ≥ 0.9);
- the queue's own overhead per job (ms): (wall − jobs × latency ÷ N) ÷ (jobs ÷ N), i.e. what each job costs
  beyond its server's generation time, on the busiest path.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def simulated_server(latency: float) -> tuple[ThreadingHTTPServer, str]:
    lock = threading.Lock()  # one generation at a time, as a WebUI

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server calls it by this name
            self._json({"version": "bench", "request_version": 1})

        def do_POST(self) -> None:  # noqa: N802 - http.server calls it by this name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                time.sleep(latency)
            photo = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["image"]))).convert("RGB"))
            mask = body.get("mask") or png_b64(np.full(photo.shape[:2], 255, np.uint8))
            self._json({"images": [png_b64(photo)], "mask": mask, "alpha": mask,
                        "info": {"kept": [{"exact": True}], "seeds": [body["request"]["seed"]]}})  # fmt: skip

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def shoot(folder: Path, jobs: int) -> Path:
    folder.mkdir(parents=True)
    for k in range(jobs):
        rng = np.random.default_rng(k)
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"P{k:04d}.png")
        keep = np.zeros((48, 64), np.uint8)
        keep[10:40, 10:50] = 255
        Image.fromarray(keep).save(folder / f"P{k:04d}.mask.png")
    (folder.parent / "base.json").write_text(json.dumps({"control": [{"kind": "mask_canny"}]}))
    return folder


def run_once(redis_url: str, photos: Path, servers: int, latency: float, work: Path) -> float:
    simulated = [simulated_server(latency) for _ in range(servers)]
    python = sys.executable
    logs = [(work / f"worker-{servers}-{k}.log").open("w") for k in range(servers)]
    workers = [
        subprocess.Popen(
            [
                python,
                "-m",
                "lib_garment",
                "worker",
                "--broker",
                redis_url,
                "--webui",
                url,
                "--name",
                f"bench{servers}-{k}",
                "--timeout",
                "60",
                "--visibility-timeout",
                "120",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for k, ((_, url), log) in enumerate(zip(simulated, logs, strict=True))
    ]
    try:
        for k in range(servers):
            while " ready: server " not in (work / f"worker-{servers}-{k}.log").read_text():
                time.sleep(0.05)
        out = work / f"out-{servers}"
        started = time.perf_counter()
        subprocess.run([python, "-m", "lib_garment", "batch", str(photos), "--out", str(out), "--request",
                        str(photos.parent / "base.json"), "--broker", redis_url, "--timeout", "60",
                        "--visibility-timeout", "120", "--offline", "--models-dir", str(work / "models")],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(20)
        for server, _ in simulated:
            server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.25, help="each simulated server's seconds per job")
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing: apt-get install redis-server")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                                 stdout=subprocess.DEVNULL)  # fmt: skip
        time.sleep(0.3)
        try:
            photos = shoot(work / "photos", args.jobs)
            url = f"redis://127.0.0.1:{port}/0"
            # The coordinator's start (imports, checks) is part of each wall time: measured apart, taken out.
            empty = shoot(work / "empty" / "photos", 1)
            start_cost = run_once(url, empty, 1, 0.0, work)
            print(f"coordinator start-up and one job, no latency: {start_cost:.2f} s (taken out of the walls below)")
            base = None
            for n in (1, 2, 4):
                wall = run_once(url, photos, n, args.latency, work) - start_cost
                throughput = args.jobs / wall
                base = base or throughput
                overhead = (wall - args.jobs * args.latency / n) / (args.jobs / n) * 1000
                ratio = throughput / (n * base)
                print(f"{n} server(s): {args.jobs} jobs in {wall:.2f} s, {throughput:.2f} jobs/s, "
                      f"{ratio:.2f} × N × one server's; queue overhead {overhead:.0f} ms a job")  # fmt: skip
        finally:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
