"""Marketplace presets: frame + shadow + edge colour estimation + encode + check of a 4000 x 3000 photo, on the CPU.

Run from the repository root: ``python bench/presets.py [--repeats 3]``. Target: ≤ 1 s and ≤ 1 GB above the
image buffers. The photo is synthetic: a textured garment-like shape (an ellipse 2400 x 2000 px) on a green wall
with a 6 px soft edge; the preset (written to a temporary folder, not a real marketplace's) asks for a
2000 x 2000 white canvas, fill 0.85, JPEG under 2 MB, with a drop shadow. Times are the median of the repeats
after one warm-up (pymatting's first import JIT-compiles with numba, once per environment; it is printed apart).
Peak memory is tracemalloc's (numpy reports its buffers to it) above what the inputs already hold.

Then the soft-edge colour error: a product of known colour matted on green (an 8 px linear ramp), composited on
white: the mean |error| in the soft band, plain α·photo against α·F (F from estimate_foreground_ml).
"""

from __future__ import annotations

import argparse
import statistics
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


def photo(width: int = 4000, height: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((xs - width / 2) / 1200, (ys - height / 2) / 1000)
    alpha = np.clip((1.0 - radius) * 1000 / 6 + 0.5, 0, 1).astype(np.float32)  # ≈ 6 px soft edge
    rng = np.random.default_rng(0)
    texture = rng.integers(40, 220, (height, width, 3), dtype=np.uint8)
    wall = np.array([20, 200, 40], np.float32)
    image = np.rint(alpha[..., None] * texture + (1 - alpha[..., None]) * wall).astype(np.uint8)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench-white.toml"
        path.write_text(PRESET, encoding="utf8")
        preset = read_preset(path)
    image, alpha = photo()
    shadow = ShadowSpec(kind="drop", opacity=0.35, softness=0.05, distance=0.03)
    started = time.perf_counter()
    result = finish(image, None, alpha, preset, background="white", shadow=shadow)  # warm-up (numba JIT)
    print(f"warm-up (first call, includes pymatting import): {time.perf_counter() - started:.2f} s")
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = finish(image, None, alpha, preset, background="white", shadow=shadow)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    finish(image, None, alpha, preset, background="white", shadow=shadow)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    inputs = image.nbytes + alpha.nbytes
    print(f"photo {image.shape[1]}x{image.shape[0]} → canvas {result.placement.width}x{result.placement.height}")
    print(f"finish (frame + shadow + edges + encode + check): median {statistics.median(times):.3f} s")
    print(f"peak memory above the inputs ({inputs / 2**20:.0f} MiB): {peak / 2**20:.0f} MiB")
    print(f"framing: {result.placement.describe()}; verdict {result.report.verdict}; {result.notes[-1]}")
    before, after = edge_error()
    print(f"soft-band mean colour error on white: plain α·photo {before:.2f}, α·F {after:.2f} levels")


if __name__ == "__main__":
    main()
