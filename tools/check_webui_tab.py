"""Open a running WebUI in headless chromium, open the Garment Studio tab, check that it renders and that
Preview works (a photo and a keep mask uploaded, weight-free units: no model weights needed).

Usage: python tools/check_webui_tab.py [URL] [--screenshot out.png]. Exit 0 when the tab and its status
panel render, the preview shows its images and summary, and the page logged no console errors caused by
this extension.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860/")
    parser.add_argument("--screenshot")
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
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=False)
        browser.close()
    print("status panel:", text[:400].replace("\n", " | "))
    ours = [e for e in errors if "garment" in e.lower()]
    print(f"console errors: {len(errors)} in total, {len(ours)} mentioning Garment Studio")
    for line in errors:
        print("  ", line[:300])
    print("preview summary:", summary.replace("\n", " | "))
    ok = "Garment Studio" in text and "version" in text and not ours and "kept pixels" in summary
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
