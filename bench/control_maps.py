"""Weight-free control maps: each map's time ÷ the bare OpenCV/numpy calls it wraps (target ≤ 1.15).

Run from the repository root: ``python bench/control_maps.py [--sizes 1024,2048] [--repeats 9]``. Every pair
is timed interleaved in one run (median of the repeats) on the same synthetic photo, mask, pose and depth,
so the ratio is the wrapper's own cost: validation, parameter handling, border fixes, dtype choices.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_garment.maps.cache import MapCache, array_digest
from lib_garment.maps.compute import MapSources, compute_maps
from lib_garment.maps.depth import RawDepth, normalize_depth
from lib_garment.maps.edges import canny_map, mask_outline
from lib_garment.maps.lines import DEFAULT_LINES, lines_map
from lib_garment.maps.normal import normal_from_depth
from lib_garment.maps.pose_format import Pose
from lib_garment.maps.pose_render import LIMB_COLOURS, LIMBS, PALETTE, render_pose

TARGET = 1.15


def scene(size: int) -> tuple[np.ndarray, np.ndarray, Pose, np.ndarray, np.ndarray]:
    """A product-photo-like scene: soft background, a garment shape with seams, a person, smooth depth."""
    rng = np.random.default_rng(0)
    s = size / 1024
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.dstack([180 + 40 * xx, 170 + 30 * yy, 160 + 20 * xx * yy]).astype(np.uint8)
    garment = np.zeros((size, size), np.uint8)
    cv2.ellipse(garment, (size // 2, size // 2), (int(300 * s), int(380 * s)), 0, 0, 360, 255, -1)
    cv2.rectangle(garment, (int(200 * s), int(250 * s)), (int(824 * s), int(420 * s)), 255, -1)
    image[garment > 0] = (70, 90, 140)
    for i in range(12):  # seams and stripes: straight lines for Hough
        y = int((320 + 40 * i) * s)
        cv2.line(image, (int(260 * s), y), (int(760 * s), y + int(20 * s)), (230, 230, 230), max(1, round(2 * s)))
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    image = cv2.add(image, rng.integers(0, 6, image.shape, dtype=np.uint8))
    points = np.zeros((3, 18, 3))
    for p in range(3):
        base = rng.uniform(0.2, 0.8, 2) * size
        points[p, :, :2] = base + rng.normal(0, 120 * s, (18, 2))
        points[p, :, 2] = rng.uniform(0.3, 1.0, 18)
    depth = (
        cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 40 * s) / 255 + 0.3 * (1 - yy) + 0.02 * rng.random()
    ).astype(np.float32)
    depth_map = normalize_depth(RawDepth(depth))
    return image, garment, Pose(points, size, size), depth, depth_map


# ---- the bare calls each map wraps --------------------------------------------------------------------------


def bare_canny(image: np.ndarray) -> np.ndarray:
    return cv2.Canny(image, 100, 200)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def bare_outline(mask: np.ndarray) -> np.ndarray:
    solid = cv2.compare(mask, 127, cv2.CMP_GT)
    return cv2.subtract(solid, cv2.erode(solid, _CROSS))


def bare_lines(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    min_length, max_gap, thickness = DEFAULT_LINES.resolved(h, w)
    edges = cv2.Canny(image, 100, 200)
    found = cv2.HoughLinesP(edges, 1, np.pi / 180, 50, minLineLength=min_length, maxLineGap=max_gap)
    canvas = np.zeros((h, w), np.uint8)
    if found is not None:
        cv2.polylines(canvas, found.reshape(-1, 2, 2), False, 255, thickness)
    return canvas


def bare_pose(pose: Pose) -> np.ndarray:
    h, w = pose.height, pose.width
    canvas = np.zeros((h, w, 3), np.uint8)
    stick = radius = max(1, round(4 * min(h, w) / 512))
    for person in pose.keypoints:
        kept = person[:, 2] >= 0.5
        for (a, b), colour in zip(LIMBS, LIMB_COLOURS, strict=True):
            if kept[a] and kept[b]:
                (x1, y1), (x2, y2) = person[a, :2], person[b, :2]
                polygon = cv2.ellipse2Poly(
                    (round((x1 + x2) / 2), round((y1 + y2) / 2)),
                    (round(math.hypot(x2 - x1, y2 - y1) / 2), stick),
                    round(math.degrees(math.atan2(y2 - y1, x2 - x1))),
                    0,
                    360,
                    1,
                )
                cv2.fillConvexPoly(canvas, polygon, colour)
        for i in np.flatnonzero(kept):
            cv2.circle(canvas, (round(person[i, 0]), round(person[i, 1])), radius, PALETTE[i], -1)
    return canvas


def bare_depth(values: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(values, [2, 98])
    scale = 255.0 / (hi - lo)
    return cv2.convertScaleAbs(cv2.max(values, float(lo)), alpha=scale, beta=-lo * scale)


def bare_normal(depth: np.ndarray) -> np.ndarray:
    values = depth.astype(np.float32)
    gx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3)
    k = 0.5 * min(depth.shape) / (8 * 255)
    gx *= k
    gy *= k
    inv = 1.0 / cv2.sqrt(gx * gx + gy * gy + 1.0)
    return cv2.convertScaleAbs(cv2.merge((gx * inv, gy * inv, inv)), alpha=127.5, beta=127.5)


# ---- timing ---------------------------------------------------------------------------------------------------


def paired(ours: Callable[[], object], bare: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, timed alternately so drift and other load hit both alike."""
    ours(), bare()  # warm caches and OpenCV's thread pool
    a, b = [], []
    for _ in range(repeats):
        for fn, into in ((ours, a), (bare, b)):
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def cases(
    image: np.ndarray, mask: np.ndarray, pose: Pose, depth: np.ndarray, depth_map: np.ndarray
) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        ("canny", lambda: canny_map(image), lambda: bare_canny(image)),
        ("mask_canny", lambda: mask_outline(mask), lambda: bare_outline(mask)),
        ("lines", lambda: lines_map(image), lambda: bare_lines(image)),
        ("pose", lambda: render_pose(pose), lambda: bare_pose(pose)),
        ("depth", lambda: normalize_depth(RawDepth(depth)), lambda: bare_depth(depth)),
        ("normal", lambda: normal_from_depth(depth_map), lambda: bare_normal(depth_map)),
    ]


def first_and_hit(sources: MapSources, repeats: int) -> tuple[float, float]:
    """Median seconds for all maps of freshly built sources (fresh cache), and for the same sources again."""
    first, hit = [], []
    for _ in range(repeats):
        fresh = MapSources(sources.image, sources.mask, sources.pose, sources.depth)
        cache = MapCache()
        start = time.perf_counter()
        compute_maps(fresh, cache=cache)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        compute_maps(fresh, cache=cache)
        hit.append(time.perf_counter() - start)
    return statistics.median(first), statistics.median(hit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}, {cv2.getNumThreads()} OpenCV threads")
    print(f"{'size':>6} {'map':<11} {'ours ms':>9} {'bare ms':>9} {'ratio':>6}")
    worst = 0.0
    for size in (int(s) for s in args.sizes.split(",")):
        image, mask, pose, depth, depth_map = scene(size)
        for name, ours, bare in cases(image, mask, pose, depth, depth_map):
            t_ours, t_bare = paired(ours, bare, args.repeats)
            ratio = t_ours / t_bare
            worst = max(worst, ratio)
            flag = "" if ratio <= TARGET else "  over target"
            print(f"{size:>6} {name:<11} {t_ours * 1e3:9.2f} {t_bare * 1e3:9.2f} {ratio:6.2f}{flag}")
        # What the job-level cache adds: one content hash per source, and little else on a hit.
        t_hash, t_canny = paired(partial(array_digest, image), partial(bare_canny, image), args.repeats)
        t_first, t_hit = first_and_hit(MapSources(image, mask, pose, RawDepth(depth)), args.repeats)
        print(
            f"{size:>6} cache: image hash {t_hash * 1e3:.2f} ms (= {t_hash / t_canny:.2f} x Canny); all six maps "
            f"{t_first * 1e3:.2f} ms for new sources (hashes included), {t_hit * 1e3:.3f} ms again from the cache"
        )
    print(f"worst ratio {worst:.2f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
