"""Marketplace presets: frame + shadow + edge colour estimation + encode + check of a 4000 x 3000 photo, on the CPU.

Run from the repository root: ``python bench/presets.py [--repeats 5] [--texture smooth|noise]``. Target: ≤ 1 s
and ≤ 1 GB above the image buffers. The photo is synthetic: a garment-like shape (an ellipse 2400 x 2000 px) on a
green wall with a 6 px soft edge; the preset (written to a temporary folder, not a real marketplace's) asks for a
2000 x 2000 white canvas, fill 0.85, JPEG under 2 MB, with a drop shadow.

The product's texture: ``smooth`` (the default) is cloth as a camera sees it, soft folds of one colour, a faint
weave and mild sensor noise (σ 3 levels); its JPEG at quality 95 is well under 2 MB, as real product photos are.
``noise`` is the first version's uniformly random pixels (40..220 per channel), which no JPEG compresses: 2 MB
then needs quality 75, several encodes, so it measures the worst case of the quality search, not a photo.

Times: the first call (numba's import and loading pymatting's cached machine code: once per process), then the
median of the repeats, each printed, with the machine's load average (other work on the machine slows them).
Memory, above the inputs (photo and matte): tracemalloc's peak (numpy reports its buffers to it; numba's and
Pillow's own allocations are not seen) and, in a fresh process after a small warm-up call, the rise of the
resident set's high-water mark (everything the process touched).

Then the soft-edge colour error: a product of known colour matted on green (an 8 px linear ramp), composited on
white: the mean |error| in the soft band, plain α·photo against α·F (F from estimate_foreground_ml).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_garment.presets import edges
from lib_garment.presets.finish import finish
from lib_garment.presets.load import read_preset
from lib_garment.presets.schema import Preset
from lib_garment.presets.shadows import ShadowSpec

PRESET = """name = "bench-white"
title = "Bench preset"
marketplace = "none"
description = "a made-up preset for the benchmark"
[[source]]
id = "bench"
title = "none"
url = "https://example.com"
read = 2026-01-01
[canvas]
width = 2000
height = 2000
fill = 0.85
background = "#FFFFFF"
format = "jpeg"
[[rule]]
id = "white"
kind = "background_colour"
value = "#FFFFFF"
min_share = 0.95
severity = "required"
source = "bench"
[[rule]]
id = "fill"
kind = "min_fill"
value = 0.85
severity = "required"
source = "bench"
[[rule]]
id = "size"
kind = "max_file_bytes"
value = 2000000
severity = "required"
source = "bench"
"""


def photo(width: int = 4000, height: int = 3000, texture: str = "smooth") -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((xs - width / 2) / 1200, (ys - height / 2) / 1000)
    alpha = np.clip((1.0 - radius) * 1000 / 6 + 0.5, 0, 1).astype(np.float32)  # ≈ 6 px soft edge
    rng = np.random.default_rng(0)
    if texture == "noise":
        cloth = rng.integers(40, 220, (height, width, 3), dtype=np.uint8).astype(np.float32)
    else:
        folds = 0.8 + 0.2 * np.sin(xs / 90 + 2 * np.sin(ys / 300)) * np.cos(ys / 140)  # soft drapes, 0.6..1
        weave = 3 * np.sin(xs * 1.1) * np.sin(ys * 1.1)  # a faint regular weave, ±3 levels
        cloth = folds[..., None] * np.float32([170, 50, 60]) + weave[..., None]
        cloth += rng.standard_normal((height, width, 3), dtype=np.float32) * 3  # sensor noise
    wall = np.array([20, 200, 40], np.float32)
    image = np.clip(np.rint(alpha[..., None] * cloth + (1 - alpha[..., None]) * wall), 0, 255).astype(np.uint8)
    return image, alpha


def edge_error() -> tuple[float, float]:
    ys, xs = np.mgrid[0:256, 0:256]
    alpha = np.clip((80 - np.hypot(ys - 128, xs - 128)) / 8 + 0.5, 0, 1).astype(np.float32)
    colour = np.array([200, 60, 40], np.float32)
    image = np.rint(alpha[..., None] * colour + (1 - alpha[..., None]) * np.float32([20, 200, 40])).astype(np.uint8)
    white = np.full_like(image, 255)
    truth = alpha[..., None] * colour + (1 - alpha[..., None]) * 255.0
    band = edges.soft_band(alpha)
    before = np.abs(edges.plain_composite(image, alpha, white) - truth)[band].mean()
    after = np.abs(edges.halo_free_composite(image, alpha, white) - truth)[band].mean()
    return float(before), float(after)


SHADOW = ShadowSpec(kind="drop", opacity=0.35, softness=0.05, distance=0.03)


def bench_preset(text: str = PRESET) -> Preset:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench-white.toml"
        path.write_text(text, encoding="utf8")
        return read_preset(path)


def _high_water_mib() -> float:
    status = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def rss_probe(texture: str) -> None:
    """In a fresh process: warm up on a small photo (numba, pymatting, Pillow loaded), reset the resident set's
    high-water mark (Linux: /proc/self/clear_refs), run once, print how far it rose above the inputs."""
    image, alpha = photo(texture=texture)
    small = bench_preset(PRESET.replace("= 2000\n", "= 400\n"))
    finish(image[::5, ::5].copy(), None, alpha[::5, ::5].copy(), small, background="white", shadow=SHADOW)
    preset = bench_preset()
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    before = _high_water_mib()
    finish(image, None, alpha, preset, background="white", shadow=SHADOW)
    print(f"{_high_water_mib() - before:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texture", choices=("smooth", "noise"), default="smooth")
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_probe:
        rss_probe(args.texture)
        return
    preset = bench_preset()
    image, alpha = photo(texture=args.texture)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    started = time.perf_counter()
    result = finish(image, None, alpha, preset, background="white", shadow=SHADOW)
    print(f"first call (numba import, pymatting's cached code loaded): {time.perf_counter() - started:.2f} s")
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = finish(image, None, alpha, preset, background="white", shadow=SHADOW)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    finish(image, None, alpha, preset, background="white", shadow=SHADOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    inputs = image.nbytes + alpha.nbytes
    canvas = f"{result.placement.width}x{result.placement.height}"
    print(f"photo {image.shape[1]}x{image.shape[0]} ({args.texture}) → canvas {canvas}")
    each = ", ".join(f"{t:.3f}" for t in times)
    print(f"finish (frame + shadow + edges + encode + check): median {statistics.median(times):.3f} s ({each})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak memory above the inputs ({inputs / 2**20:.0f} MiB), tracemalloc: {peak / 2**20:.0f} MiB")
    if Path("/proc/self/clear_refs").exists():
        probe = [sys.executable, __file__, "--rss-probe", "--texture", args.texture]
        rise = subprocess.run(probe, check=True, capture_output=True, text=True).stdout.strip()
        print(f"peak resident memory above the inputs, fresh process: {rise} MiB")
    print(f"framing: {result.placement.describe()}; verdict {result.report.verdict}; {result.notes[-1]}")
    before, after = edge_error()
    print(f"soft-band mean colour error on white: plain α·photo {before:.2f}, α·F {after:.2f} levels")


if __name__ == "__main__":
    main()
