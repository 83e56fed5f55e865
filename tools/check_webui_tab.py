"""Open a running WebUI in headless chromium, open the Garment Studio tab and check that it renders.

Usage: python tools/check_webui_tab.py [URL] [--screenshot out.png]. Exit 0 when the tab and its status
panel render and the page logged no console errors caused by this extension.
"""

from __future__ import annotations

import argparse
import sys

from playwright.sync_api import sync_playwright

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
        status = page.locator("#garment_studio_status").first  # gradio 3 puts the id on two nested divs
        status.wait_for(state="visible", timeout=60_000)
        text = status.inner_text()
        page.locator("#garment_studio_refresh").click()
        page.wait_for_timeout(3000)
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=False)
        browser.close()
    print("status panel:", text[:400].replace("\n", " | "))
    ours = [e for e in errors if "garment" in e.lower()]
    print(f"console errors: {len(errors)} in total, {len(ours)} mentioning Garment Studio")
    for line in errors:
        print("  ", line[:300])
    ok = "Garment Studio" in text and "version" in text and not ours
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
