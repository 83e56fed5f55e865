"""Open a running WebUI in headless chromium, open the Garment Studio tab, check that it renders and that
Preview works (a photo and a keep mask uploaded, weight-free units: no model weights needed).

Usage: python tools/check_webui_tab.py [URL] [--screenshot out.png]. Exit 0 when the tab and its status
panel render, the preview shows its images and summary, and the page logged no console errors caused by
this extension.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def preview(page: Page, folder: Path) -> str:
    """Upload a photo and a keep mask, choose weight-free units, press Preview; the summary it shows."""
    photo = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((120, 160), np.uint8)
    mask[30:90, 40:120] = 255
    Image.fromarray(photo).save(folder / "photo.png")
    Image.fromarray(mask).save(folder / "mask.png")
    page.locator("#garment_studio_photo input[type=file]").first.set_input_files(str(folder / "photo.png"))
    page.get_by_text("Uploaded mask and more photos", exact=True).first.click()
    page.locator("#garment_studio_mask_upload input[type=file]").first.set_input_files(str(folder / "mask.png"))
    for label, checked in (("normal", False), ("canny", True)):
        box = page.locator("#garment_studio_units label").filter(has_text=re.compile(rf"^\s*{label}\s*$"))
        box.locator("input").first.set_checked(checked)
    page.locator("#garment_studio_preview").first.click()
    summary = page.locator("#garment_studio_summary").first
    summary.get_by_text("kept pixels").first.wait_for(timeout=300_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#garment_studio_maps .thumbnail-item img').length >= 6", timeout=60_000
    )
    return summary.inner_text()


def generate(page: Page) -> str:
    """After the preview: 2 steps, Generate; the kept-pixel check the tab shows with the result."""
    steps = page.locator("#garment_studio_steps input[type=number]").first
    steps.fill("2")
    steps.press("Enter")
    page.locator("#garment_studio_generate").first.click()
    kept = page.locator("#garment_studio_kept").first
    kept.get_by_text("kept pixels").first.wait_for(timeout=900_000)
    return kept.inner_text()


def catalogue(page: Page, folder: Path) -> str:
    """After the preview (its weight-free units are the base of every row): a zip of two photos with their
    masks into the Catalogue section, Start, Refresh until both jobs are done; the jobs table's text."""
    import time
    import zipfile

    with zipfile.ZipFile(folder / "shoot.zip", "w") as archive:
        for k in range(2):
            photo = np.random.default_rng(10 + k).integers(0, 256, (120, 160, 3), dtype=np.uint8)
            mask = np.zeros((120, 160), np.uint8)
            mask[20 + 10 * k : 90, 30:130] = 255
            Image.fromarray(photo).save(folder / f"SKU-{k}.png")
            Image.fromarray(mask).save(folder / f"SKU-{k}.mask.png")
            archive.write(folder / f"SKU-{k}.png", f"SKU-{k}.png")
            archive.write(folder / f"SKU-{k}.mask.png", f"SKU-{k}.mask.png")
    page.locator("#tabs .tab-nav button", has_text="Garment Studio").first.click()
    page.get_by_text("Catalogue: a manifest of SKUs, made in the background", exact=True).first.click()
    section = "#garment_studio_catalogue"
    page.locator(f"{section}_photos_zip input[type=file]").first.set_input_files(str(folder / "shoot.zip"))
    page.locator(f"{section}_output textarea, {section}_output input").first.fill(f"tab-check-{int(time.time())}")
    page.locator(f"{section}_start").first.click()
    table = page.locator(f"{section}_table").first
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        page.wait_for_timeout(5000)
        page.locator(f"{section}_refresh").first.click()
        page.wait_for_timeout(1000)
        text = table.inner_text()
        if text.count("done") >= 2 or "failed" in text:
            break
    return table.inner_text()


def paste(page: Page) -> tuple[str, bool]:
    """txt2img: an infotext with a Garment Studio request pasted with the WebUI's paste button fills the section."""
    page.locator("#tabs .tab-nav button", has_text="txt2img").first.click()
    recorded = json.dumps({"segment": {"phrases": "red dress"}, "task": "model"}, separators=(",", ":"))
    infotext = f"a model\nSteps: 2, Sampler: Euler a, Seed: 5, Garment Studio: {json.dumps(recorded)}"
    page.locator("#txt2img_prompt textarea").first.fill(infotext)
    page.locator("#tab_txt2img #paste").first.click()
    section = "#script_txt2img_garment_studio"
    page.wait_for_function(
        f"() => (document.querySelector('{section}_phrases textarea') || {{}}).value === 'red dress'", timeout=60_000
    )
    return page.locator(f"{section}_settings textarea").first.input_value(), page.locator(
        f"{section}_task input[value='model']"
    ).first.is_checked()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860/")
    parser.add_argument("--screenshot")
    parser.add_argument("--full", action="store_true", help="also Generate in the tab and paste into txt2img")
    parser.add_argument("--catalogue", action="store_true", help="also run a two-photo catalogue from the tab")
    args = parser.parse_args()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(args.url, timeout=120_000)
        # gradio 3 renders tab headers as plain buttons in the tab bar, gradio 4 as role="tab" buttons
        page.locator("#tabs .tab-nav button", has_text="Garment Studio").first.click(timeout=60_000)
        page.get_by_text("Environment and models", exact=True).first.click()  # the folded status panel
        status = page.locator("#garment_studio_status").first  # gradio 3 puts the id on two nested divs
        status.wait_for(state="visible", timeout=60_000)
        text = status.inner_text()
        page.locator("#garment_studio_refresh").first.click()
        page.wait_for_timeout(3000)
        summary = preview(page, Path(tempfile.mkdtemp()))
        kept = generate(page) if args.full else ""
        jobs = catalogue(page, Path(tempfile.mkdtemp())) if args.catalogue else ""
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=False)
        pasted = paste(page) if args.full else ("", True)
        browser.close()
    print("status panel:", text[:400].replace("\n", " | "))
    ours = [e for e in errors if "garment" in e.lower()]
    print(f"console errors: {len(errors)} in total, {len(ours)} mentioning Garment Studio")
    for line in errors:
        print("  ", line[:300])
    print("preview summary:", summary.replace("\n", " | "))
    ok = "Garment Studio" in text and "version" in text and not ours and "kept pixels" in summary
    if args.full:
        print("generate:", kept.replace("\n", " | "))
        print("pasted into txt2img:", pasted)
        ok &= "identical to the photo" in kept and json.loads(pasted[0]).get("task") == "model" and pasted[1]
    if args.catalogue:
        print("catalogue table:", jobs.replace("\n", " | ")[:600])
        ok &= jobs.count("done") >= 2 and "failed" not in jobs
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
