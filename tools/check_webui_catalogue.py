"""Check the catalogue runner against a running WebUI: a 12-SKU manifest in CSV form killed once in the middle
and resumed, then the same photos in folder form; the contact sheet opened in headless chromium and saved as a
screenshot.

Usage: python tools/check_webui_catalogue.py http://127.0.0.1:7860 --work DIR [--kill-after 5] [--rest-only]

First the WebUI's own catalogue (Garment Studio installed in it): POST /garment-studio/v1/batch with 4 rows and
their photos inline, polled to the end, each result's kept pixels checked; a manifest outside the catalogue
folder refused (422); an unknown run 404. Then the command line against the same WebUI:

The photos are the astronaut sample (public domain, bundled with scikit-image) cut into 12 different 256×256
crops, each with a mask of its suit, so no segmentation model is needed; the one ControlNet unit is the mask
outline (mask_canny, the WebUI's canny model). Checks: the killed run left a consistent database (each done job
has its files), the resumed run exits 0 with every (sku, variant) done exactly once and each result's kept
pixels identical to its photo; the folder form likewise. Prints results.csv's summary (status, server, kept
check per output) and where the screenshot is; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SKUS = 12


def make_photos(folder: Path) -> None:
    from lib_garment.samples import load_sample

    photo = load_sample("astronaut")  # 512×512
    suit = (photo.astype(int).sum(axis=2) > 520) & (np.arange(512)[:, None] > 180)  # the bright suit, below the face
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(SKUS):
        top, left = 150 + 8 * (k // 4), 60 + 40 * (k % 4)
        crop = photo[top : top + 256, left : left + 256]
        mask = suit[top : top + 256, left : left + 256]
        Image.fromarray(crop).save(folder / f"AST-{k:02d}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / f"AST-{k:02d}.mask.png")


def batch(source: Path, out: Path, url: str, work: Path) -> list[str]:
    return [sys.executable, "-m", "lib_garment", "batch", str(source), "--out", str(out), "--request",
            str(work / "base.json"), "--webui", url, "--models-dir", str(work / "models"), "--offline"]  # fmt: skip


def done_count(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'batch.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def consistent(out: Path) -> bool:
    with sqlite3.connect(out / "batch.sqlite") as db:
        for (outputs,) in db.execute("SELECT outputs FROM jobs WHERE status = 'done'"):
            for output in json.loads(outputs):
                path = out / output["file"]
                if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != output["sha256"]:
                    return False
    return True


def check_results(out: Path, photos: Path, expected: int) -> list[str]:
    problems = []
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = Counter((r["sku"], r["variant"]) for r in rows)
    if len(keys) != expected or any(n != 1 for n in keys.values()):
        problems.append(f"{out}: {len(keys)} outputs listed, expected {expected}, each once")
    for r in rows:
        if r["status"] != "done" or r["kept_exact"] != "yes":
            problems.append(f"{r['sku']} #{r['variant']}: {r['status']} kept={r['kept_exact']} {r['error']}")
            continue
        sku = r["sku"]
        photo = np.asarray(Image.open(photos / f"{sku}.png").convert("RGB"))
        result = np.asarray(Image.open(out / r["file"]).convert("RGB"))
        kept = np.asarray(Image.open(out / sku / "alpha.png")) == 255
        if not np.array_equal(result[kept], photo[kept]):
            problems.append(f"{sku} #{r['variant']}: kept pixels differ from the photo")
    summary = Counter((r["status"], r["server"], r["kept_exact"]) for r in rows)
    print(f"{out / 'results.csv'}: {len(rows)} rows; " + "; ".join(f"{n} × {k}" for k, n in summary.items()))
    return problems


def screenshot(sheet: Path, image: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(sheet.resolve().as_uri())
        cards = page.locator(".card").count()
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
        page.screenshot(path=str(image), full_page=True)
        browser.close()
    print(f"contact sheet: {cards} cards, {broken} broken images; screenshot {image}")
    if broken or not cards:
        raise SystemExit("the contact sheet does not show every thumbnail")


def check_rest(url: str, photos: Path, steps: int, side: int) -> list[str]:
    """The WebUI's own catalogue: POST /garment-studio/v1/batch with the rows and photos inline, poll GET until it
    ends, then each result's kept pixels against its photo (the output folder is on this machine); a manifest
    path outside the catalogue folder refused with 422; an unknown run 404."""
    import base64
    import urllib.error
    import urllib.request

    def call(path: str, body: dict | None = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")

    problems = []
    names = [f"AST-{k:02d}" for k in range(4)]
    files = {f"{n}{suffix}": base64.b64encode((photos / f"{n}{suffix}").read_bytes()).decode()
             for n in names for suffix in (".png", ".mask.png")}  # fmt: skip
    rows = [{"sku": n, "image": f"{n}.png", "mask": f"{n}.mask.png", "seed": 7} for n in names]
    request = {"prompt": "a studio photo", "control": [{"kind": "mask_canny"}],
               "generation": {"steps": steps, "width": side, "height": side}}  # fmt: skip
    run_id = f"rest-check-{int(time.time())}"
    started = time.perf_counter()
    status, answer = call(
        "/garment-studio/v1/batch", {"rows": rows, "photos": files, "request": request, "output": run_id}
    )
    print(f"REST POST /batch: {status} {json.dumps(answer)[:200]}")
    if status != 202:
        return [f"POST /batch answered {status}: {answer}"]
    while True:
        status, report = call(f"/garment-studio/v1/batch/{run_id}")
        if status != 200 or report["status"] not in ("running", "stopping"):
            break
        time.sleep(2)
    print(f"REST GET /batch/{run_id}: {status}, {report['status']}, counts {report['counts']} "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    if report["status"] != "finished" or report["counts"]["done"] != len(names):
        problems.append(f"the REST run ended {report['status']} with {report['counts']}")
    folder = Path(report["folder"])
    for sku in names:
        result = np.asarray(Image.open(folder / sku / f"{sku}-1.png").convert("RGB"))
        photo = np.asarray(Image.open(photos / f"{sku}.png").convert("RGB"))
        kept = np.asarray(Image.open(folder / sku / "alpha.png")) == 255
        if not np.array_equal(result[kept], photo[kept]):
            problems.append(f"REST {sku}: kept pixels differ from the photo")
    status, answer = call("/garment-studio/v1/batch", {"manifest": "../../../../etc", "output": "escape"})
    print(f"REST manifest outside the catalogue folder: {status} {str(answer)[:200]}")
    if status != 422 or "outside the catalogue folder" not in str(answer):
        problems.append(f"a manifest outside the catalogue folder answered {status}: {answer}")
    status, _ = call("/garment-studio/v1/batch/no-such-run")
    print(f"REST unknown run: {status}")
    if status != 404:
        problems.append(f"an unknown run answered {status}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--kill-after", type=int, default=5, help="SIGKILL the CSV run after this many jobs are done")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps (a CPU WebUI takes ~30 s a step at 256²)")
    parser.add_argument("--side", type=int, default=256, help="the generation's width and height")
    parser.add_argument("--rest-only", action="store_true", help="only the WebUI's own /garment-studio/v1/batch")
    args = parser.parse_args()
    work = args.work
    photos = work / "photos"
    make_photos(photos)
    (work / "base.json").write_text(json.dumps({
        "prompt": "a product photo in a bright studio", "control": [{"kind": "mask_canny"}],
        "generation": {"steps": args.steps, "width": args.side, "height": args.side},
    }))  # fmt: skip
    rows = [{"sku": f"AST-{k:02d}", "image": f"photos/AST-{k:02d}.png", "mask": f"photos/AST-{k:02d}.mask.png",
             "variants": 2 if k < 2 else 1, "seed": 1000 + k} for k in range(SKUS)]  # fmt: skip
    with (work / "catalogue.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    problems = check_rest(args.url, photos, args.steps, args.side)
    if args.rest_only:
        return verdict(problems)

    out = work / "out-csv"
    started = time.perf_counter()
    proc = subprocess.Popen(
        batch(work / "catalogue.csv", out, args.url, work), cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    while done_count(out) < args.kill_after and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = done_count(out)
    print(f"CSV form: SIGKILL after {killed_at} of 14 jobs done ({time.perf_counter() - started:.1f} s); database "
          f"consistent: {consistent(out)}")  # fmt: skip
    if not consistent(out):
        problems.append("the killed run left a done job without its files")
    resumed = subprocess.run(
        batch(work / "catalogue.csv", out, args.url, work), cwd=ROOT, capture_output=True, text=True, check=False
    )
    print(f"CSV form resumed: exit {resumed.returncode} ({time.perf_counter() - started:.1f} s in all)")
    print("\n".join(line for line in resumed.stderr.splitlines() if "done already" in line or "note:" in line))
    if resumed.returncode != 0:
        problems.append(f"the resumed run exited {resumed.returncode}: {resumed.stderr[-2000:]}")
    problems += check_results(out, photos, 14)

    folder_out = work / "out-folder"
    started = time.perf_counter()
    folder = subprocess.run(
        batch(photos, folder_out, args.url, work), cwd=ROOT, capture_output=True, text=True, check=False
    )
    print(f"folder form: exit {folder.returncode} in {time.perf_counter() - started:.1f} s")
    if folder.returncode != 0:
        problems.append(f"the folder run exited {folder.returncode}: {folder.stderr[-2000:]}")
    problems += check_results(folder_out, photos, SKUS)
    screenshot(out / "index.html", work / "contact-sheet.png")
    return verdict(problems)


def verdict(problems: list[str]) -> int:
    """Each problem, then ALL OK or their count; the exit code (the WebUI check tools share it)."""
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("ALL OK" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
