"""Model runtime: what a call costs in the model worker versus in-process, for a photo-sized image.

Run from the repository root: ``python bench/runtime_roundtrip.py [--sizes 1024,2048] [--repeats 31]``. Each
call echoes an RGB uint8 image (``lib_garment.runtime.diagnostics:echo``), so the time is the runtime's
own overhead: pickling, the pipes both ways, the worker's loop. The worker is started (and warmed up)
before timing; its start-up is printed separately. Also printed: two plain ``ndarray.copy()`` calls, the
least any process boundary costs (the bytes go there and back). Medians of interleaved repeats; no
assertions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_garment.runtime import InProcessRuntime, WorkerRuntime

ECHO = "lib_garment.runtime.diagnostics:echo"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048", help="square image sides, comma-separated")
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    in_process = InProcessRuntime()
    worker = WorkerRuntime()
    started = _time(lambda: worker.call(ECHO, None))
    print(f"worker start + first call: {started:.0f} ms (pid {worker.pid}, packages {worker.packages_dir})")
    try:
        for size in sizes:
            image = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
            back = worker.call(ECHO, image)  # warm-up: imports numpy in the worker
            assert np.array_equal(back, image)
            runs: dict[str, list[float]] = {"worker": [], "in-process": [], "2 copies": []}
            for _ in range(args.repeats):
                runs["worker"].append(_time(lambda image=image: worker.call(ECHO, image)))
                runs["in-process"].append(_time(lambda image=image: in_process.call(ECHO, image)))
                runs["2 copies"].append(_time(lambda image=image: image.copy().copy()))
            med = {name: statistics.median(times) for name, times in runs.items()}
            mib = image.nbytes / 2**20
            print(f"\n{size}×{size} RGB uint8 ({mib:.1f} MiB), median of {args.repeats}:")
            for name, value in med.items():
                print(f"  {name:<11} {value:9.3f} ms")
            print(f"  worker ÷ in-process: {med['worker'] / med['in-process']:.0f}×")
            print(f"  worker ÷ 2 copies:   {med['worker'] / med['2 copies']:.1f}×")
            print(f"  worker overhead per MiB each way: {med['worker'] / (2 * mib):.3f} ms")
    finally:
        worker.close()


if __name__ == "__main__":
    main()
